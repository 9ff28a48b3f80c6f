"""Finding and loading vocos-encodec-24khz (``config.yaml`` + ``pytorch_model.bin``) without running its config.

Vocos' own ``from_pretrained`` instantiates whatever classes the YAML names, builds an EnCodec that downloads
its weights through ``torch.hub`` (an unrestricted unpickle), and unpickles the checkpoint. We accept exactly the
backbone and head classes the published model uses, build them from vocos itself, read the weights with the safe
loader, and take the EnCodec latents from Bark's own codec.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bark_omni.errors import CheckpointError, ModelNotFoundError

REPO_ID = "charactr/vocos-encodec-24khz"
CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "pytorch_model.bin"
WEIGHTS_ENV = "BARK_OMNI_VOCOS_WEIGHTS"
BACKBONE_CLASS = "vocos.models.VocosBackbone"
HEAD_CLASS = "vocos.heads.ISTFTHead"
BARK_BANDWIDTH_KBPS = 6.0  # 8 codebooks at 75 Hz
BARK_CODEBOOKS = 8
HOP_LENGTH = 320  # 24 kHz / 75 Hz


class VocosWeightsNotFoundError(ModelNotFoundError):
    """No vocos-encodec-24khz files at the given path, in the Hugging Face cache, or reachable for download."""


def _hf_cached_dir() -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(REPO_ID, name) for name in (CONFIG_FILE, WEIGHTS_FILE)]
    if all(isinstance(f, str) for f in found) and Path(found[0]).parent == Path(found[1]).parent:
        return Path(found[0]).parent
    return None


def _download() -> Path | None:
    from bark_omni.models import offline

    if offline() or os.environ.get("BARK_OMNI_ALLOW_DOWNLOAD", "1") == "0":
        return None
    try:
        from huggingface_hub import hf_hub_download

        config = hf_hub_download(REPO_ID, CONFIG_FILE)
        hf_hub_download(REPO_ID, WEIGHTS_FILE)
        return Path(config).parent
    except Exception:  # no network or hub down: the caller reports one clear line
        return None


def locate_vocos(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding config.yaml and pytorch_model.bin; raises ``VocosWeightsNotFoundError`` saying how."""
    explicit = explicit or os.environ.get(WEIGHTS_ENV) or None
    hint = f"fetch them once online with `huggingface-cli download {REPO_ID}`"
    if explicit:
        directory = Path(explicit).expanduser()
        if not ((directory / CONFIG_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()):
            raise VocosWeightsNotFoundError(f"{directory} does not hold {CONFIG_FILE} and {WEIGHTS_FILE}; {hint}")
        return directory
    found = _hf_cached_dir() or _download()
    if found is None:
        raise VocosWeightsNotFoundError(f"no Vocos weights: {REPO_ID} is not in the Hugging Face cache and downloading "
                                        f"is off or failed; {hint}, or pass decoder_options={{'weights': FOLDER}}")
    return found


def _init_args(config: dict[str, Any], part: str, class_path: str, path: Path) -> dict[str, Any]:
    entry = config.get(part)
    if not isinstance(entry, dict) or entry.get("class_path") != class_path or not isinstance(entry.get("init_args"), dict):
        raise CheckpointError(f"{path}: {part} must be {class_path} (the vocos-encodec-24khz layout), "
                              f"got {entry.get('class_path') if isinstance(entry, dict) else entry!r}")
    return dict(entry["init_args"])


def bandwidth_id(config: dict[str, Any], path: Path) -> int:
    """The backbone's conditioning index for 6 kbps, from the feature extractor's bandwidth list."""
    args = (config.get("feature_extractor") or {}).get("init_args") or {}
    bandwidths = [float(b) for b in args.get("bandwidths", [])]
    if args.get("encodec_model") != "encodec_24khz" or BARK_BANDWIDTH_KBPS not in bandwidths:
        raise CheckpointError(f"{path}: this Vocos is not trained on EnCodec 24 kHz at {BARK_BANDWIDTH_KBPS:g} kbps "
                              f"(feature extractor {args}); use {REPO_ID}")
    return bandwidths.index(BARK_BANDWIDTH_KBPS)


def load_vocos(directory: Path, codec: Any, device: str) -> tuple[Any, int]:
    """A ``vocos.Vocos`` (backbone and head; latents come from Bark's codec) and its 6 kbps bandwidth id."""
    import yaml
    from bark_omni.safe_load import safe_torch_load
    from vocos import Vocos
    from vocos.feature_extractors import FeatureExtractor
    from vocos.heads import ISTFTHead
    from vocos.models import VocosBackbone

    config_path = directory / CONFIG_FILE
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CheckpointError(f"cannot read {config_path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path} is not a Vocos configuration")
    band = bandwidth_id(config, config_path)
    head_args = _init_args(config, "head", HEAD_CLASS, config_path)
    if head_args.get("hop_length") != HOP_LENGTH:
        raise CheckpointError(f"{config_path}: hop_length {head_args.get('hop_length')} does not match EnCodec's 75 Hz "
                              f"frames at 24 kHz ({HOP_LENGTH})")
    model = Vocos(feature_extractor=FeatureExtractor(),
                  backbone=VocosBackbone(**_init_args(config, "backbone", BACKBONE_CLASS, config_path)),
                  head=ISTFTHead(**head_args))
    state = safe_torch_load(directory / WEIGHTS_FILE)
    codebooks = state.pop("feature_extractor.codebook_weights", None)
    check_codebooks(codebooks, codec, directory)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{directory / WEIGHTS_FILE} does not fit {config_path}: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval().requires_grad_(False), band


def check_codebooks(codebooks: Any, codec: Any, directory: Path) -> None:
    """Vocos was trained on frozen EnCodec codebooks; if it carries them they must be Bark's codec's."""
    import torch

    if codebooks is None:
        return
    bins = codec.quantizer.bins
    ours = torch.cat([layer.codebook for layer in codec.quantizer.vq.layers[:BARK_CODEBOOKS]]).detach().cpu()
    theirs = codebooks[: bins * BARK_CODEBOOKS].float()
    if theirs.shape != ours.shape or not torch.allclose(theirs, ours.float(), atol=1e-5):
        raise CheckpointError(f"the Vocos in {directory} was trained on other EnCodec codebooks than this Bark model's "
                              "codec; use the Vocos that matches it")
