"""AudioSeal's generator and detector: built with AudioSeal's own builders, from local weights or tiny and random.

Weights are never downloaded: ``$BARK_OMNI_AUDIOSEAL_DIR`` (default ``$XDG_CONFIG_HOME/bark-omni/audioseal``) holds
``generator.safetensors`` and ``detector.safetensors``, or the published ``generator_base.pth`` /
``detector_base.pth``, read with ``torch.load(weights_only=True)`` (OmegaConf's config types allowed); a file that
needs more than that is refused with a message saying to convert it (``convert``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16000
NBITS = 16
WEIGHTS_ENV = "BARK_OMNI_AUDIOSEAL_DIR"
CARDS = {"generator": "audioseal_wm_16bits", "detector": "audioseal_detector_16bits"}


@dataclass
class AudioSealModels:
    generator: Any
    detector: Any
    source: str  # where the weights came from, for manifests


def weights_dir() -> Path | None:
    """The folder holding AudioSeal's weights, or None when there is none."""
    from bark_omni.errors import InvalidInputError
    from bark_omni.files import config_dir

    if WEIGHTS_ENV in os.environ:
        raw = os.environ[WEIGHTS_ENV].strip()
        if not raw:
            raise InvalidInputError(f"{WEIGHTS_ENV} is set but empty; name the folder with AudioSeal's weights or unset it")
        folder = Path(raw).expanduser()
        if not folder.is_dir():
            raise InvalidInputError(f"{WEIGHTS_ENV}={folder} is not a folder; put AudioSeal's weights there")
        return folder if _files(folder) else None
    folder = config_dir() / "audioseal"
    return folder if folder.is_dir() and _files(folder) else None


def _files(folder: Path) -> dict[str, Path] | None:
    found = {}
    for part in CARDS:
        for name in (f"{part}.safetensors", f"{part}_base.pth"):
            if (folder / name).is_file():
                found[part] = folder / name
                break
    return found if len(found) == len(CARDS) else None


def _state_dict(path: Path) -> dict[str, Any]:
    from bark_omni.errors import CheckpointError

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import pickle

    import torch
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode

    try:
        with torch.serialization.safe_globals([DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, dict, list,
                                               int, float, str]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as exc:
        raise CheckpointError(f"{path} needs more than plain tensors and OmegaConf to load ({str(exc)[:80]}); convert "
                              "it to safetensors with bark_omni_audioseal.models.convert") from None
    if "best_state" in checkpoint:
        checkpoint = checkpoint["best_state"]["model"]
    elif "model" in checkpoint:
        checkpoint = checkpoint["model"]
    return checkpoint


def _config(part: str) -> Any:
    from audioseal.builder import AudioSealDetectorConfig, AudioSealWMConfig
    from audioseal.loader import AudioSeal, load_local_model_config
    from omegaconf import OmegaConf

    card = OmegaConf.to_container(load_local_model_config(CARDS[part]))
    card.pop("checkpoint", None)
    return AudioSeal.parse_config(card, AudioSealWMConfig if part == "generator" else AudioSealDetectorConfig)


@lru_cache(maxsize=2)
def load_models(folder: str) -> AudioSealModels:
    """The published AudioSeal models from ``folder`` (see the module docstring)."""
    from audioseal.builder import create_detector, create_generator
    from audioseal.loader import convert_state_dict_for_scriptable_model, load_state_dict

    from bark_omni.errors import ModelNotFoundError

    files = _files(Path(folder))
    if files is None:
        raise ModelNotFoundError(f"{folder} lacks AudioSeal's generator and detector weights; see the plugin README")
    generator = create_generator(_config("generator"))
    detector = create_detector(_config("detector"))
    for model, part in ((generator, "generator"), (detector, "detector")):
        load_state_dict(model, state_dict=convert_state_dict_for_scriptable_model(_state_dict(files[part])))
        model.eval()
    return AudioSealModels(generator, detector, f"weights {folder}")


def tiny_models(seed: int = 0) -> AudioSealModels:
    """A tiny random generator and detector built with AudioSeal's own builders (tests; no weights needed)."""
    import torch
    from audioseal.builder import (AudioSealDetectorConfig, AudioSealWMConfig, DecoderConfig, SEANetConfig,
                                   create_detector, create_generator)

    seanet = SEANetConfig(channels=1, dimension=8, n_filters=4, n_residual_layers=1, ratios=[2, 2], activation="ELU",
                          activation_params={"alpha": 1.0}, norm="none", norm_params={}, kernel_size=3,
                          last_kernel_size=3, residual_kernel_size=3, dilation_base=2, causal=False,
                          pad_mode="constant", true_skip=True, compress=2, lstm=0, disable_norm_outer_blocks=0)
    torch.manual_seed(seed)
    generator = create_generator(AudioSealWMConfig(nbits=NBITS, seanet=seanet, decoder=DecoderConfig(
        final_activation=None, final_activation_params=None, trim_right_ratio=1.0))).eval()
    detector = create_detector(AudioSealDetectorConfig(nbits=NBITS, seanet=seanet)).eval()
    return AudioSealModels(generator, detector, f"tiny random (seed {seed})")


def convert(folder: str | Path) -> list[Path]:
    """Write ``generator.safetensors`` / ``detector.safetensors`` beside the ``*_base.pth`` files in ``folder``."""
    from safetensors.torch import save_file

    written = []
    for part in CARDS:
        source = Path(folder) / f"{part}_base.pth"
        if source.is_file():
            state = {k: v.contiguous() for k, v in _state_dict(source).items()}
            target = Path(folder) / f"{part}.safetensors"
            save_file(state, str(target))
            written.append(target)
    return written
