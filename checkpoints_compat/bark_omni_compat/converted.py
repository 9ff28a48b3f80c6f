"""bark-omni's own layout, written by ``bark-omni convert``: one safetensors file per stage plus a JSON manifest.

Why: safetensors holds only tensors (nothing to unpickle, so nothing can run), and it loads memory-mapped: the
modules are built on the meta device and handed the mapped tensors, so loading costs neither a copy nor an init
pass, and pages are read when first used. Tensors are written exactly as loaded (the fine model's tied heads once,
as transformers does), so a round trip keeps every tensor, and the content fingerprint, identical.

Layout of a converted directory::

    bark_omni_model.json   {"format": "bark-omni-converted", "version": 1, "stages": {stage: {"file", "model_args"}},
                            "codec": "codec.safetensors" | null, "tokenizer": "vocab.txt" | null, "fingerprint", "source"}
    text.safetensors, coarse.safetensors, fine.safetensors[, codec.safetensors][, vocab.txt]
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bark_omni.checkpoints import MASK_SUFFIX, STAGES, load_stage_state, model_args_of, tied_head_keys
from bark_omni.errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from bark_omni.host import Host
    from bark_omni.specs import LoadedWeights

MANIFEST = "bark_omni_model.json"
FORMAT_TAG = "bark-omni-converted"
VERSION = 1
CODEC_FILE = "codec.safetensors"


def detect(directory: Path) -> bool:
    return (directory / MANIFEST).is_file()


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path} ({type(exc).__name__}); convert the model again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{path} is not a bark-omni converted model manifest (format != {FORMAT_TAG!r})")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{path} has layout version {manifest.get('version')!r}; this bark-omni reads version "
                              f"{VERSION}: upgrade bark-omni or convert the model again")
    stages = manifest.get("stages")
    if not isinstance(stages, dict) or any(not isinstance(stages.get(s), dict) for s in STAGES):
        raise CheckpointError(f"{path} lacks one of the stages {', '.join(STAGES)}; convert the model again")
    return manifest


def _inside(directory: Path, name: Any, what: str) -> Path:
    """A file named by the manifest, refused if it points outside the directory."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise CheckpointError(f"{directory / MANIFEST}: {what} must be a file name inside the directory, got {name!r}")
    return directory / name


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path} is missing from the converted model; convert it again")
    try:
        return load_file(path)  # memory-mapped
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read {path} as safetensors ({exc}); is the file complete?") from None


def load(directory: Path, device: str) -> LoadedWeights:
    """The ``ModelFormat.load`` of the converted layout."""
    from bark_omni.checkpoints import encodec_24khz
    from bark_omni.specs import LoadedWeights

    manifest = read_manifest(directory)
    modules = {}
    for stage in STAGES:
        entry = manifest["stages"][stage]
        path = _inside(directory, entry.get("file"), f"stages.{stage}.file")
        if not isinstance(entry.get("model_args"), dict):
            raise CheckpointError(f"{directory / MANIFEST}: stages.{stage}.model_args is missing; convert the model again")
        modules[stage] = load_stage_state(stage, entry["model_args"], _read_tensors(path), str(path), device)
    codec = None
    if manifest.get("codec"):
        codec = encodec_24khz(_read_tensors(_inside(directory, manifest["codec"], "codec"))).to(device)
    return LoadedWeights(text=modules["text"], coarse=modules["coarse"], fine=modules["fine"], codec=codec,
                         format="converted")


# writing -----------------------------------------------------------------------------------------

def stage_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a stage file stores: the state dict without mask buffers and without the tied duplicates."""
    ties = tied_head_keys(module)
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()
            if k not in ties and not k.endswith(MASK_SUFFIX)}


def write_converted(weights: LoadedWeights, codec: Any, vocab: Path | None, target: Path, source: dict[str, str]) -> dict[str, Any]:
    """Write the layout into the (existing, empty) directory ``target``; return the manifest."""
    from safetensors.torch import save_file

    from bark_omni.fingerprints import fingerprint_modules

    modules = {"text": weights.text, "coarse": weights.coarse, "fine": weights.fine}
    manifest: dict[str, Any] = {"format": FORMAT_TAG, "version": VERSION, "stages": {}, "codec": None, "tokenizer": None}
    for stage, module in modules.items():
        name = f"{stage}.safetensors"
        save_file(stage_tensors(module), str(target / name), metadata={"format": "pt"})
        manifest["stages"][stage] = {"file": name, "model_args": model_args_of(module)}
    if codec is not None:
        save_file({k: v.detach().to("cpu").contiguous() for k, v in codec.state_dict().items()}, str(target / CODEC_FILE),
                  metadata={"format": "pt"})
        manifest["codec"] = CODEC_FILE
    if vocab is not None:
        shutil.copyfile(vocab, target / vocab.name)
        manifest["tokenizer"] = vocab.name
    manifest["fingerprint"] = fingerprint_modules(modules)
    manifest["source"] = source
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


TARGETS = ("bark-omni", "transformers")
"""What ``convert`` writes: bark-omni's converted layout, or transformers' Bark layout (``transformers_export``)."""


def convert_model(src: str | os.PathLike[str], dst: str | os.PathLike[str], host: Host | None = None,
                  to: str = "bark-omni") -> dict[str, Any]:
    """Convert any loadable model (a name or a directory in any registered format) into the layout ``to`` names at
    ``dst``, which must not exist or be empty. Written beside ``dst`` and moved into place only when complete.
    Returns the manifest (it carries the fingerprint and the source)."""
    from bark_omni.constants import ENCODEC_FILE, VOCAB_FILE
    from bark_omni.host import default_host
    from bark_omni.models import load_codec, resolve_model

    if to not in TARGETS:
        raise CheckpointError(f"cannot convert to {to!r}; choose one of {', '.join(TARGETS)}")
    host = host or default_host()
    dst = Path(dst).expanduser()
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise CheckpointError(f"{dst} already exists and is not an empty directory; choose a new destination")
    path, fmt = resolve_model(src, host)
    weights = host.model_formats[fmt].load(path, "cpu")
    codec = weights.codec
    if codec is None and (path / ENCODEC_FILE).is_file():
        codec = load_codec(path, "cpu")
    vocab = path / VOCAB_FILE if (path / VOCAB_FILE).is_file() else None
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        manifest = _write(to, weights, codec, vocab, staging, {"path": str(path), "format": fmt})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp and safetensors make private files; these are shareable
        for file in staging.iterdir():
            os.chmod(file, 0o666 & ~umask)
        if dst.exists():
            dst.rmdir()
        os.replace(staging, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write(to: str, weights: LoadedWeights, codec: Any, vocab: Path | None, target: Path,
           source: dict[str, str]) -> dict[str, Any]:
    if to == "bark-omni":
        return write_converted(weights, codec, vocab, target, source)
    from bark_omni.fingerprints import fingerprint_modules

    from .transformers_export import write_transformers

    files = write_transformers(weights, codec, vocab, target)
    modules = {"text": weights.text, "coarse": weights.coarse, "fine": weights.fine}
    return {"format": "transformers", "files": files, "fingerprint": fingerprint_modules(modules), "source": source}
