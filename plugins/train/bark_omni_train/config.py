"""The training config (TOML or JSON): one flat table plus ``[augment]``, ``[dropout]`` and ``[probe]``.

Relative paths are read from the current directory. Unknown keys are errors, so a typo never trains silently
with a default. ``--set key=value`` on the command line overrides any key (``augment.flip=0``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

# Keys that only change what is logged or how often state is saved; a run may resume with them changed.
RESUME_SAFE = ("steps_per_log", "eval_every", "checkpoint_every", "keep_checkpoints", "num_workers", "progress",
               "probe", "val_max_rows", "cpu_threads", "frozen_cache_rows")


@dataclass
class AugmentConfig:
    """Augmentations applied to adapter inputs during training (0 switches one off)."""

    loudness_db: float = 0.0  # uniform jitter of the reference audio's loudness (LUFS, pyloudnorm)
    rir_prob: float = 0.0  # probability of convolving with a room impulse response
    rir_dir: str | None = None  # folder of RIR wavs; synthetic exponential-decay rooms when unset
    stretch: float = 0.0  # time-stretch rate drawn in [1 - s, 1 + s]
    crop: float = 0.0  # random crop keeping at least (1 - crop) of each side
    flip: float = 0.0  # probability of a horizontal flip
    colour: float = 0.0  # brightness / contrast / saturation jitter in [1 - c, 1 + c]


@dataclass
class ProbeConfig:
    """Prompt ablation after training: generate with and without each modality, classify the tokens."""

    modalities: list[str] = field(default_factory=list)
    tokens: int = 48
    temp: float = 0.7
    top_ks: list[int] = field(default_factory=lambda: [0])  # one probe per entry; 0: no top-k (Bark's default)
    max_rows: int = 64


@dataclass
class TrainConfig:
    manifest: str = ""
    cache: str = ""  # prepared targets (default: <manifest folder>/cache)
    output: str = "runs/fusion"
    model: str = "bark"
    device: str = "auto"
    modalities: list[str] = field(default_factory=list)
    adapter_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: list[str] = field(default_factory=lambda: ["semantic"])
    seed: int = 0
    steps: int = 1000
    batch_size: int = 16  # global: per optimizer step, over every process and accumulation step
    micro_batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    bf16: bool = True  # autocast on CUDA when supported; ignored on CPU
    frozen_cache_rows: int = 0  # rows whose frozen-block states are kept between steps (0: off; memory per row)
    max_semantic_tokens: int = 256
    max_coarse_tokens: int = 630
    semantic_eos: bool = True
    contrastive_weight: float = 0.1
    contrastive_temperature: float = 0.1
    balance_weight: float = 0.1  # the routing balance term (objective.balance_loss)
    router_z_weight: float = 0.01  # keeps the gates' logits where the gates can still move (objective.router_z_loss)
    routing: str = "gated"  # "gated" (router) or "fixed" (no router: the ablation)
    coarse_weight: float = 1.0
    domain_temperature: float = 1.0  # 1: proportional to domain size; larger: flatter across domains
    dropout: dict[str, float] = field(default_factory=dict)  # per-modality probability of removing it
    token_bag_weight: dict[str, float] = field(default_factory=dict)  # per modality: the token-bag aid (objective.token_bag_loss)
    history_dropout: float = 0.0  # probability of hiding each teacher-forced semantic input token (objective.hide_history)
    sampled_history: float = 0.0  # probability of replacing each one by the model's own draw (objective.sample_history)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    eval_every: int = 0
    val_max_rows: int = 256
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    steps_per_log: int = 10
    num_workers: int = 0
    cpu_threads: int = 0  # torch threads per process on CPU (0: torch's default; 1 is fastest on a busy machine)
    progress: bool = True

    # derived ---------------------------------------------------------------------------------------

    @property
    def output_dir(self) -> Path:
        return Path(self.output)

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache) if self.cache else Path(self.manifest).parent / "cache"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def resume_key(self) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        return {k: v for k, v in self.to_json().items() if k not in RESUME_SAFE}

    def check(self, world_size: int = 1) -> None:
        from bark_omni.host import default_host

        known = default_host().modalities
        if not self.manifest:
            raise ConfigError("config needs manifest = 'path/to/manifest.jsonl'")
        if not self.modalities:
            raise ConfigError(f"config needs modalities = [...] (any of {', '.join(known)})")
        bad = [m for m in self.modalities + list(self.dropout) + list(self.token_bag_weight) + self.probe.modalities
               if m not in known]
        if bad:
            raise ConfigError(f"unknown modality {bad[0]!r} in the config; use any of {', '.join(known)}")
        if set(self.stages) - {"semantic", "coarse"} or not self.stages:
            raise ConfigError("stages must be a non-empty list of 'semantic' and 'coarse'")
        if self.steps < 1 or self.micro_batch_size < 1 or self.batch_size < 1:
            raise ConfigError("steps, batch_size and micro_batch_size must be >= 1")
        per_process = self.batch_size // world_size
        if self.batch_size % (world_size * self.micro_batch_size):
            raise ConfigError(f"batch_size {self.batch_size} must be a multiple of processes x micro_batch_size "
                              f"({world_size} x {self.micro_batch_size}); change one of them")
        if per_process < 1:
            raise ConfigError(f"batch_size {self.batch_size} is smaller than the {world_size} processes")
        if self.routing not in ("gated", "fixed"):
            raise ConfigError(f"routing must be 'gated' or 'fixed', got {self.routing!r}")
        if not 0 < self.domain_temperature:
            raise ConfigError("domain_temperature must be > 0")
        if any(not 0 <= p < 1 for p in self.dropout.values()):
            raise ConfigError("dropout probabilities must lie in [0, 1)")
        if any(w < 0 for w in self.token_bag_weight.values()) or not 0 <= self.history_dropout <= 1:
            raise ConfigError("token_bag_weight values must be >= 0 and history_dropout must lie in [0, 1]")
        if not 0 <= self.sampled_history <= 1:
            raise ConfigError("sampled_history must lie in [0, 1]")
        if self.balance_weight < 0 or self.router_z_weight < 0:
            raise ConfigError("balance_weight and router_z_weight must be >= 0")
        if self.max_semantic_tokens > 767 or self.max_coarse_tokens > 767:
            raise ConfigError("max_semantic_tokens and max_coarse_tokens must be <= 767 (Bark's 1024 context)")

    def accumulation(self, world_size: int) -> int:
        return self.batch_size // (world_size * self.micro_batch_size)


def _coerce(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown config key {where}{unknown[0]}; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    defaults = cls()
    for name, value in data.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where}{name} must be a table")
            values[name] = _coerce(type(default), value, f"{where}{name}.")
            continue
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"config key {where}{name} must be true or false, got {value!r}")
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if default is not None and not isinstance(default, bool) and not isinstance(value, type(default)):
            kind = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}[type(default)]
            raise ConfigError(f"config key {where}{name} must be {kind}, got {value!r}")
        values[name] = value
    return cls(**values)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_config(path: Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a TOML or JSON config and apply ``key=value`` overrides (values parsed as JSON when they can be)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config {path} does not exist; start from plugins/train/recipes/proof_tiny.toml")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            import tomllib

            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"config {path} does not parse: {str(exc).splitlines()[0]}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        target = data
        *parents, leaf = key.strip().split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {key}: {parent} is not a table")
        target[leaf] = _parse_value(value.strip())
    return _coerce(TrainConfig, data, "")
