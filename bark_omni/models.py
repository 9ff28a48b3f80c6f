"""Finding and loading the frozen Bark models: names ("bark", "bark-small", "tiny") or directories.

A model directory holds the three stage checkpoints in any format a plugin registered (suno's is built in),
optionally ``vocab.txt`` (a BERT WordPiece vocabulary) and ``encodec_24khz-d7cc33bc.th`` (EnCodec weights).
What it lacks comes from the standard caches. Loaded models are kept by the host that loaded them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .constants import ENCODEC_FILE, SUNO_FILES, VOCAB_FILE
from .errors import ModelNotFoundError
from .paths import bark_omni_cache_dir, offline, suno_cache_dir
from .specs import BarkModels, LoadedWeights
from .tokenizer import BERT_NAME, load_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["BarkModels", "LoadedWeights", "ENCODEC_FILE", "VOCAB_FILE", "bark_omni_cache_dir", "load_models",
           "load_tokenizer", "load_codec", "resolve_model"]

HUB_REPOS = {"bark": "suno/bark", "bark-small": "suno/bark-small"}


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
            if model in SUNO_FILES and _dir_with_names(directory, tuple(SUNO_FILES[model].values())):
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
        for filename in SUNO_FILES[name].values():
            hf_hub_download(repo_id="suno/bark", filename=filename, local_dir=target)
    except Exception:
        return None
    return target


# loading ---------------------------------------------------------------------------------------------

def load_models(model: str | os.PathLike[str] | None, host: Host, device: str | None = None) -> BarkModels:
    """Load the frozen stack named by ``model`` through ``host``'s model formats (once per host and device: the
    host keeps it, so a host with other formats never gets this one's models)."""
    device = device or default_device()
    path, fmt_name = resolve_model(model, host)

    def build() -> BarkModels:
        weights = host.model_formats[fmt_name].load(path, device)
        tokenizer = weights.tokenizer or load_tokenizer(path)
        codec = weights.codec or load_codec(path, device)
        return BarkModels(text=weights.text, coarse=weights.coarse, fine=weights.fine, tokenizer=tokenizer,
                          codec=codec, device=device, source=str(path), format=fmt_name)

    return host.cached("models", (str(path.resolve()), fmt_name, device), build)


def clear_model_cache(host: Host | None = None) -> None:
    """Forget the models ``host`` (default: the default host) has loaded."""
    from .host import default_host

    (host or default_host()).clear_cache("models")


def encodec_candidates(directory: Path | None) -> list[Path]:
    import torch

    places = [] if directory is None else [directory / ENCODEC_FILE]
    places.append(Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_FILE)
    return places


def load_codec(directory: Path | None, device: str) -> Any:
    """EnCodec weights beside the checkpoints, else torch hub's cache; loaded with the safe loader."""
    from .checkpoints import encodec_24khz
    from .safe_load import safe_torch_load

    for path in encodec_candidates(directory):
        if path.is_file():
            return encodec_24khz(safe_torch_load(path), source=str(path)).to(device)
    places = ", ".join(str(p) for p in encodec_candidates(directory))
    raise ModelNotFoundError(
        f"no EnCodec 24 kHz weights (looked for {places}); fetch them once online with "
        "`python -c \"from encodec import EncodecModel; EncodecModel.encodec_model_24khz()\"`"
    )
