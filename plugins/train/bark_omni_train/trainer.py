"""The training loop: frozen Bark, trainable adapters and fusion, resumable and data-parallel.

One optimizer step consumes a global batch of ``batch_size`` rows (see ``sampling``): each process takes its
share as ``accumulation`` micro-batches of ``micro_batch_size``. AdamW with warmup then cosine decay, gradient
clipping, bf16 autocast on CUDA. Process 0 logs metrics (JSONL), draws the progress bar (stderr), validates and
writes checkpoints; every process can be killed at any moment and ``--resume`` continues as if it had not been.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch

from bark_omni import distributed
from bark_omni.fusion import FusionModel

from . import checkpoint as ckpt
from .config import TrainConfig
from .errors import DataError, ResumeError
from .evaluate import prepare_inputs, probe, validate
from .examples import ExampleBuilder, collate
from .manifest import read_manifest
from .media import stable_seed
from .objective import LOSS_PARTS, FusionObjective, Normalisers, total_loss
from .sampling import StepSampler, rank_chunks
from .schedule import WarmupCosine
from .targets import TargetStore

if TYPE_CHECKING:  # pragma: no cover
    from bark_omni.host import Host

METRICS_FILE = "metrics.jsonl"
REPORT_FILE = "report.json"
ADAPTERS_DIR = "adapters"
NO_DECAY = ("type_tags", "start_tokens", "gate")


def _as_list(items: list[Any]) -> list[Any]:
    return items


class ChunkPlan:
    """The DataLoader's batch sampler: this process's micro-batches, step after step, from ``start``."""

    def __init__(self, sampler: StepSampler, start: int, steps: int, config: TrainConfig, procs: distributed.Processes) -> None:
        self.sampler, self.start, self.steps, self.config, self.procs = sampler, start, steps, config, procs

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        for step in range(self.start, self.steps):
            batch = self.sampler.batch(step)
            for chunk in rank_chunks(batch, self.config.micro_batch_size, self.procs.world_size, self.procs.rank):
                yield [(row, slot, step) for slot, row in chunk]

    def __len__(self) -> int:
        return (self.steps - self.start) * self.config.accumulation(self.procs.world_size)


class StepExamples(torch.utils.data.Dataset):
    """Map-style view for the DataLoader: key (row, slot, step) -> training ``Example``."""

    def __init__(self, builder: ExampleBuilder) -> None:
        self.builder = builder

    def __len__(self) -> int:
        return len(self.builder.rows)

    def __getitem__(self, key: tuple[int, int, int]) -> Any:
        row, slot, step = key
        return self.builder.build(row, slot=slot, step=step, train=True)


def param_groups(fusion: FusionModel, config: TrainConfig) -> tuple[list[dict[str, Any]], list[str]]:
    """AdamW groups (no weight decay on gates, tags, biases and norms) and the parameter names in order."""
    decay, plain = [], []
    for name, param in fusion.named_parameters():
        if not param.requires_grad:
            continue
        (plain if param.ndim < 2 or any(tag in name for tag in NO_DECAY) else decay).append((name, param))
    groups = [{"params": [p for _, p in decay], "weight_decay": config.weight_decay},
              {"params": [p for _, p in plain], "weight_decay": 0.0}]
    return groups, [n for n, _ in decay] + [n for n, _ in plain]


def _autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    if config.bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _write_json(path: Path, data: Any) -> None:
    from bark_omni.files import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after ``step`` (they belong to the part of the run being redone)."""
    if not path.is_file():
        return
    from bark_omni.files import atomic_output

    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    with atomic_output(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class Trainer:
    """Everything one process needs to train; ``run()`` trains to ``config.steps`` and returns the report."""

    def __init__(self, config: TrainConfig, procs: distributed.Processes, host: Host | None = None) -> None:
        from bark_omni.host import default_host
        from bark_omni.models import load_models

        config.check(procs.world_size)
        self.config, self.procs = config, procs
        self.host = host or default_host()
        self.models = load_models(config.model, self.host, str(procs.device))
        rows = read_manifest(Path(config.manifest))
        store = TargetStore(config.cache_dir, self.models.fingerprint)
        store.check(rows)
        builder = ExampleBuilder(rows, store, self.models.tokenizer, config)
        self.builder = builder
        self.train_indices = [i for i, r in enumerate(rows) if r.split == "train" and builder.has_semantic(i)]
        skipped = sum(1 for r in rows if r.split == "train") - len(self.train_indices)
        if skipped and procs.main:
            warnings.warn(f"{skipped} training row(s) have no semantic targets (audio without text) and are skipped", stacklevel=2)
        if not self.train_indices:
            raise DataError(f"{config.manifest} has no training rows with targets; add rows with split 'train'")
        self.val_indices = [i for i, r in enumerate(rows) if r.split == "val" and builder.has_semantic(i)][: config.val_max_rows]
        self.sampler = self.new_sampler()
        self.fusion = FusionModel.initialise(self.host, self.models, config.modalities, seed=config.seed,
                                             adapter_config=config.adapter_config, routing=config.routing
                                             ).to(procs.device).train()
        groups, self.param_names = param_groups(self.fusion, config)
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, WarmupCosine(config.warmup_steps, config.steps, config.min_lr_ratio))
        self.objective = FusionObjective(self.fusion, self.models, config)
        self.model: torch.nn.Module = self.objective
        if procs.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(
                self.objective, device_ids=[procs.device.index] if procs.device.type == "cuda" else None)
        self.prepared_cache: dict[tuple[str, str], Any] = {}
        self.output = config.output_dir
        self.step = 0

    # state ----------------------------------------------------------------------------------------

    def start_or_resume(self, resume: bool) -> None:
        cfg, procs = self.config, self.procs
        if procs.main:
            ckpt.clean_temporaries(self.output)
        distributed.barrier(procs)
        latest = ckpt.latest_checkpoint(self.output)
        if latest is not None and not resume:
            raise ResumeError(f"{self.output} already holds checkpoints (latest {latest.name}); pass --resume to "
                              "continue that run, or choose another output")
        if latest is None:
            torch.manual_seed(stable_seed(cfg.seed, "torch", procs.rank) % 2**63)
            np.random.seed(stable_seed(cfg.seed, "numpy", procs.rank) % 2**32)
            import random

            random.seed(stable_seed(cfg.seed, "python", procs.rank))
            if procs.main:
                self.output.mkdir(parents=True, exist_ok=True)
                (self.output / METRICS_FILE).unlink(missing_ok=True)
                _write_json(self.output / "config.json", cfg.to_json())
            return
        from safetensors.torch import load_file

        trainer, opt_tensors, rng_tensors = ckpt.load_checkpoint(latest)
        saved = trainer.get("config", {})
        changed = sorted(k for k, v in cfg.resume_key().items() if saved.get(k, v) != v)
        if changed:
            raise ResumeError(f"the config changed since {latest} was written ({', '.join(changed)}); resume with "
                              "the original config or start a new output")
        self.fusion.load_state_dict(load_file(str(latest / "adapters.safetensors"), device=str(self.procs.device)))
        ckpt.optimizer_from_safe(self.optimizer, self.param_names, opt_tensors, trainer["optimizer"], self.procs.device)
        self.scheduler.load_state_dict(trainer["scheduler"])
        state = ckpt.rank_rng(trainer, rng_tensors, procs.rank)
        if state is not None:
            ckpt.restore_rng(state)
        self.step = int(trainer["step"])
        if procs.main:
            _truncate_metrics(self.output / METRICS_FILE, self.step)
            print(f"resuming {self.output} from {latest.name}", file=sys.stderr)

    def save(self) -> None:
        states = distributed.gather(self.procs, ckpt.capture_rng())
        if self.procs.main:
            ckpt.save_checkpoint(self.output, self.step, self.fusion, self.optimizer, self.param_names, self.scheduler,
                                 states, {"config": self.config.resume_key(), "world_size": self.procs.world_size},
                                 keep=self.config.keep_checkpoints)
        distributed.barrier(self.procs)

    # steps ----------------------------------------------------------------------------------------

    def _normalisers(self, step: int) -> Normalisers:
        rows = [self.train_indices[i] for i in self.sampler.batch(step)]
        return Normalisers(semantic_rows=len(rows), coarse_rows=sum(self.builder.has_coarse(i) for i in rows),
                           rows=len(rows), chunks=self.config.batch_size // self.config.micro_batch_size,
                           world_size=self.procs.world_size)

    def _loader(self) -> Iterator[list[Any]]:
        plan = ChunkPlan(self.new_sampler(), self.step, self.config.steps, self.config, self.procs)
        dataset = StepExamples(_Subset(self.builder, self.train_indices))
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=plan, collate_fn=_as_list,
                                             num_workers=self.config.num_workers)
        return iter(loader)

    def new_sampler(self) -> StepSampler:
        """The step plan of the training rows (the loader iterates its own copy; ``self.sampler`` counts)."""
        cfg = self.config
        return StepSampler([self.builder.rows[i].domain for i in self.train_indices], cfg.batch_size,
                           cfg.domain_temperature, cfg.seed)

    def train_step(self, chunks: Iterator[list[Any]]) -> dict[str, float]:
        cfg, procs = self.config, self.procs
        norm = self._normalisers(self.step)
        accumulation = cfg.accumulation(procs.world_size)
        self.optimizer.zero_grad(set_to_none=True)
        sums = dict.fromkeys(LOSS_PARTS, 0.0)
        for j in range(accumulation):
            examples = next(chunks)
            batch = collate(examples).to(procs.device)
            prepared = prepare_inputs(self.fusion, examples, self.prepared_cache)
            last = j == accumulation - 1
            sync = self.model.no_sync() if procs.distributed and not last else contextlib.nullcontext()
            with sync:
                with _autocast(cfg, procs.device):
                    out = self.model(prepared, [{} for _ in examples], batch, norm)
                out["loss"].backward()
            for key in sums:
                sums[key] += float(out[key])
        grad_norm = torch.nn.utils.clip_grad_norm_(self.fusion.parameters(), cfg.grad_clip)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        sums = distributed.sum_values(procs, sums)
        sums["loss"] = total_loss(sums, cfg)
        return {**sums, "grad_norm": float(grad_norm), "lr": lr}

    def evaluate(self, final: bool = False) -> dict[str, Any]:
        result = {"validation": validate(self.fusion, self.models, self.builder, self.val_indices, self.config,
                                         self.procs.device, self.prepared_cache)} if self.val_indices else {}
        if final and self.config.probe.modalities:
            result["probe"] = probe(self.fusion, self.models, self.builder, self.train_indices, self.val_indices, self.config)
        return result

    def log(self, record: dict[str, Any]) -> None:
        if self.procs.main:
            with open(self.output / METRICS_FILE, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def run(self) -> dict[str, Any]:
        from tqdm.auto import tqdm

        cfg, procs = self.config, self.procs
        bar = tqdm(total=cfg.steps, initial=self.step, desc="train", file=sys.stderr, dynamic_ncols=True,
                   disable=not (procs.main and cfg.progress), mininterval=1.0)
        chunks = self._loader()
        train_seconds, samples = 0.0, 0
        window: dict[str, float] = {}
        started = time.perf_counter()
        while self.step < cfg.steps:
            t0 = time.perf_counter()
            metrics = self.train_step(chunks)
            train_seconds += time.perf_counter() - t0
            samples += cfg.batch_size
            for key, value in metrics.items():
                window[key] = window.get(key, 0.0) + value
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.3f}", refresh=False)
            if self.step % cfg.steps_per_log == 0 or self.step == cfg.steps:
                n = cfg.steps_per_log if self.step % cfg.steps_per_log == 0 else self.step % cfg.steps_per_log
                self.log({"kind": "train", "step": self.step, **{k: v / n for k, v in window.items()},
                          "samples_per_s": samples / train_seconds if train_seconds else None,
                          "elapsed_s": time.perf_counter() - started})
                window = {}
            if cfg.checkpoint_every and (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps):
                self.save()
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps:
                if procs.main:
                    self.log({"kind": "val", "step": self.step, **self.evaluate()})
                distributed.barrier(procs)
        bar.close()
        report: dict[str, Any] = {}
        if procs.main:
            figures = {"steps": self.step, "world_size": procs.world_size, "device": str(procs.device),
                       "train_samples_per_s": samples / train_seconds if train_seconds else None,
                       "train_seconds": train_seconds, **self.evaluate(final=True)}
            adapters = self.fusion.save_pretrained(self.output / ADAPTERS_DIR, training=figures)  # card + training.json
            report = {"output": str(self.output), "adapters": str(adapters), **figures}
            self.log({"kind": "final", "step": self.step, **report})
            _write_json(self.output / REPORT_FILE, report)
        distributed.barrier(procs)
        return report


class _Subset:
    """The builder restricted to training rows, indexed 0..n-1 (the sampler's row numbers)."""

    def __init__(self, builder: ExampleBuilder, indices: list[int]) -> None:
        self.builder, self.indices, self.rows = builder, indices, indices

    def build(self, i: int, **kwargs: Any) -> Any:
        return self.builder.build(self.indices[i], **kwargs)


def train(config: TrainConfig, *, resume: bool = False, host: Host | None = None) -> dict[str, Any]:
    """Train (or resume) as ``config`` says, in this process or as one process of a torchrun job."""
    if config.cpu_threads > 0:
        torch.set_num_threads(config.cpu_threads)
    procs = distributed.start(config.device)
    try:
        trainer = Trainer(config, procs, host)
        trainer.start_or_resume(resume)
        return trainer.run()
    finally:
        distributed.stop(procs)
