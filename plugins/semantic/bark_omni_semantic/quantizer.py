"""The quantizer head: HuBERT features (T, 768) -> Bark semantic ids (T,), and its two file formats.

The layout is the community's (gitmylo's "CustomTokenizer", used by bark-with-voice-clone and Bark Infinity): a
2-layer LSTM (``lstm``, hidden 1024, batch first), in its version 1 a Linear to 4096 (``intermediate``), then a
Linear to Bark's 10,000 semantic classes (``fc``); argmax of the output gives the ids (their log-softmax changes
no argmax, so it is left out). Their ``.pth`` files are a torch zip of the state dict, the newer ones with a JSON
``<name>/.info`` entry (input/hidden/output size, version). We read them with ``weights_only=True`` and check
their exact key set; sizes come from the tensors themselves (the .info, when present, must agree).

Our own format is a folder (or a ``.safetensors`` file with its ``.json`` beside it): ``quantizer.safetensors``
(the same keys) and ``quantizer.json`` (sizes, version, the HuBERT it was trained on, its layer and figures).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bark_omni.errors import CheckpointError, ModelNotFoundError

SEMANTIC_CLASSES = 10_000
WEIGHTS_FILE, CONFIG_FILE = "quantizer.safetensors", "quantizer.json"
FORMAT = "bark-omni-quantizer"
LSTM_KEYS = tuple(f"lstm.{kind}_{part}_l{layer}" for layer in (0, 1) for kind in ("weight", "bias") for part in ("ih", "hh"))


def community_keys(version: int) -> set[str]:
    """The exact state-dict keys of the community's quantizer, version 0 or 1."""
    extra = {"intermediate.weight", "intermediate.bias"} if version == 1 else set()
    return {*LSTM_KEYS, "fc.weight", "fc.bias", *extra}


class QuantizerHead(nn.Module):
    """LSTM (2 layers) [+ Linear to ``intermediate`` in version 1] + Linear to ``output_size`` classes."""

    def __init__(self, input_size: int = 768, hidden_size: int = 1024, output_size: int = SEMANTIC_CLASSES,
                 version: int = 0, intermediate_size: int = 4096) -> None:
        super().__init__()
        if version not in (0, 1):
            raise CheckpointError(f"quantizer version must be 0 or 1, got {version!r}")
        self.input_size, self.hidden_size, self.output_size, self.version = input_size, hidden_size, output_size, version
        self.lstm = nn.LSTM(input_size, hidden_size, 2, batch_first=True)
        width = hidden_size
        if version == 1:
            self.intermediate = nn.Linear(hidden_size, intermediate_size)
            width = intermediate_size
        self.fc = nn.Linear(width, output_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, input) or (T, input) features -> logits of the same leading shape and ``output_size``."""
        out, _ = self.lstm(features)
        if self.version == 1:
            out = self.intermediate(out)
        return self.fc(out)

    def config(self) -> dict[str, Any]:
        config = {"input_size": self.input_size, "hidden_size": self.hidden_size, "output_size": self.output_size,
                  "version": self.version}
        if self.version == 1:
            config["intermediate_size"] = self.intermediate.out_features
        return config


def head_from_state(state: dict[str, torch.Tensor], where: str) -> QuantizerHead:
    """A head built to the sizes the tensors have, loaded strictly (exact key set of version 0 or 1)."""
    version = 1 if "intermediate.weight" in state else 0
    keys = set(state)
    if keys != community_keys(version):
        missing, extra = sorted(community_keys(version) - keys), sorted(keys - community_keys(version))
        raise CheckpointError(f"{where} is not a HuBERT quantizer (missing {missing[:3]}, unexpected {extra[:3]}); "
                              "expected the community LSTM layout")
    hidden, input_size = state["lstm.weight_hh_l0"].shape[1], state["lstm.weight_ih_l0"].shape[1]
    intermediate = state["intermediate.weight"].shape[0] if version == 1 else 4096
    head = QuantizerHead(input_size, hidden, state["fc.weight"].shape[0], version, intermediate)
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{where}: tensor shapes do not fit the quantizer layout ({str(exc).splitlines()[-1][:120]})") from None
    return head.eval()


def _info(path: Path) -> dict[str, Any] | None:
    """The JSON ``<name>/.info`` entry newer community files carry, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/.info")), None)
            return json.loads(archive.read(name).decode("utf-8")) if name else None
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError):
        return None


def load_community(path: Path) -> QuantizerHead:
    """A community ``.pth`` quantizer (both versions), read with ``weights_only=True``."""
    from bark_omni.safe_load import safe_torch_load

    state = safe_torch_load(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors; expected a HuBERT quantizer .pth")
    head = head_from_state(state, str(path))
    info = _info(path)
    if info is not None:
        mismatched = [k for k, v in head.config().items() if k in info and info[k] != v]
        if mismatched:
            raise CheckpointError(f"{path}: its .info says {mismatched[0]}={info[mismatched[0]]}, the tensors say "
                                  f"{head.config()[mismatched[0]]}; the file is inconsistent")
    return head


def save_quantizer(head: QuantizerHead, directory: Path, meta: dict[str, Any] | None = None) -> Path:
    """Our format: ``quantizer.safetensors`` + ``quantizer.json`` in ``directory`` (written atomically)."""
    from safetensors.torch import save_file

    from bark_omni.files import atomic_output

    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
    with atomic_output(directory / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp))
    config = {"format": FORMAT, **head.config(), **(meta or {})}
    with atomic_output(directory / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return directory


def load_ours(path: Path) -> tuple[QuantizerHead, dict[str, Any]]:
    from safetensors.torch import load_file

    weights = path / WEIGHTS_FILE if path.is_dir() else path
    config_path = path / CONFIG_FILE if path.is_dir() else path.with_suffix(".json")
    if not weights.is_file() or not config_path.is_file():
        raise ModelNotFoundError(f"{path} lacks {WEIGHTS_FILE} and {CONFIG_FILE}; save one with save_quantizer")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a {FORMAT} config (format={config.get('format')!r})")
    head = head_from_state(load_file(str(weights)), str(weights))
    return head, config


def load_quantizer(path: str | Path) -> tuple[QuantizerHead, dict[str, Any]]:
    """Any quantizer file: ours (a folder or ``.safetensors``) or a community ``.pth``/``.pt``. (head, config)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelNotFoundError(f"quantizer {path} does not exist")
    if path.is_dir() or path.suffix == ".safetensors":
        return load_ours(path)
    head = load_community(path)
    return head, {"format": "community-pth", **head.config()}
