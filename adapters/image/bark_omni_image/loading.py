"""Any image a user may hand us, as an 8-bit RGB PIL image.

Paths, PIL images and numpy arrays (or tensors) in any mode: RGB, RGBA/LA/P with transparency (composited on
white, as a viewer shows them), L, 1, CMYK, YCbCr, 16-bit and 32-bit greyscale, float in [0, 1] or [0, 255].
Undecodable files and unusable arrays raise ``InvalidInputError`` with one line saying what to pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.errors import InvalidInputError

WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # more than 8 bits per sample: scaled, not clipped


def load_image(value: Any) -> Any:
    """An RGB ``PIL.Image.Image`` of ``value``."""
    from PIL import Image

    if isinstance(value, (str, os.PathLike)):
        return to_rgb(_open(Path(value)))
    if isinstance(value, Image.Image):
        return to_rgb(value)
    if hasattr(value, "shape") or isinstance(value, (list, tuple)):
        return to_rgb(array_to_image(value))
    raise InvalidInputError(f"image must be a file path, a PIL image or an array, got {type(value).__name__}")


def _open(path: Path) -> Any:
    from PIL import Image

    if not path.is_file():
        raise InvalidInputError(f"image {path} does not exist; pass the path of a PNG, JPEG or other image file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (Image.DecompressionBombError, MemoryError):
        raise InvalidInputError(f"image {path} is too large to decode; pass a smaller image") from None
    except Exception as exc:  # PIL raises many types (UnidentifiedImageError, OSError, SyntaxError...) for bad data
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"cannot decode image {path} ({reason}); pass a PNG, JPEG or other image file") from None


def to_rgb(image: Any) -> Any:
    from PIL import Image

    if image.width == 0 or image.height == 0:
        raise InvalidInputError(f"image is empty ({image.width}x{image.height}); pass an image with pixels")
    if image.mode == "RGB":
        return image
    if image.mode in WIDE_MODES:
        return to_rgb(array_to_image(np.asarray(image)))
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def array_to_image(array: Any) -> Any:
    """(H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4; integer, bool or float samples."""
    from PIL import Image

    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    try:
        array = np.asarray(array)
    except Exception:
        raise InvalidInputError("image array must be numeric") from None
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first, as torch keeps images
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)) or 0 in array.shape:
        raise InvalidInputError(f"image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    array = _to_uint8(array)
    return Image.fromarray(array, mode=None) if array.ndim == 3 else Image.fromarray(array).convert("L")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind in "iu":
        if array.min() < 0:
            raise InvalidInputError("image array has negative values; pass 0..255 (8-bit) or 0..65535 (16-bit) samples")
        high = int(array.max())
        if high > 65535:
            raise InvalidInputError(f"integer image values must be 0..255 or 0..65535 (16-bit), got up to {high}")
        if array.dtype == np.uint16 or high > 255:  # 16-bit samples (PIL keeps 16-bit PNGs as I;16 or I)
            return np.round(array.astype(np.float64) / 65535 * 255).astype(np.uint8)
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise InvalidInputError("image array contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 255:
            raise InvalidInputError(f"float image values must lie in [0, 1] or [0, 255], got [{low:g}, {high:g}]")
        scale = 255.0 if high <= 1.0 else 1.0
        return np.round(array * scale).astype(np.uint8)
    raise InvalidInputError(f"image array must hold numbers, got {array.dtype}")
