"""Bark fine tokens -> EnCodec latents -> four-band diffusion -> waveform, EQ-matched to Bark's EnCodec output."""

from __future__ import annotations

from typing import Any

import numpy as np

from bark_omni.constants import CODEBOOK_SIZE, N_FINE_CODEBOOKS
from bark_omni.errors import InvalidInputError

from .options import MBDOptions, step_list


def check_fine_tokens(fine_tokens: Any) -> np.ndarray:
    """Bark's fine tokens as an int64 array of shape (8, T); typed error otherwise."""
    fine = np.asarray(fine_tokens)
    if fine.ndim != 2 or fine.shape[0] != N_FINE_CODEBOOKS or fine.shape[1] == 0:
        raise InvalidInputError(f"the mbd decoder takes fine tokens of shape ({N_FINE_CODEBOOKS}, T>0), got {fine.shape}")
    if not np.issubdtype(fine.dtype, np.integer) or fine.min() < 0 or fine.max() >= CODEBOOK_SIZE:
        raise InvalidInputError(f"fine tokens must be integers in [0, {CODEBOOK_SIZE}), got {fine.dtype} "
                                f"in [{fine.min()}, {fine.max()}]")
    return fine.astype(np.int64, copy=False)


class MBDDecoder:
    """audiocraft's ``MultiBandDiffusion`` over Bark's own EnCodec.

    Bark's codec (the ``encodec`` package's 24 kHz model) has the sample rate, frame rate and channel count MBD
    reads, and its quantizer gives the same latents as audiocraft's EnCodec wrapper, so no second codec is loaded.
    """

    def __init__(self, codec: Any, processes: list[Any], options: MBDOptions) -> None:
        from .audiocraft_support import require_audiocraft

        self.mbd = require_audiocraft().MultiBandDiffusion(DPs=processes, codec_model=codec)
        self.options = options
        self.steps = step_list(processes[0].schedule.num_steps, options.steps)

    def latents(self, fine: np.ndarray) -> Any:
        """EnCodec's continuous latents (sum of the 8 codebook vectors), shape (1, 128, T)."""
        import torch

        from bark_omni.loop import codec_latents

        with torch.no_grad():
            return codec_latents(self.mbd.codec_model, fine)

    def __call__(self, fine_tokens: np.ndarray) -> np.ndarray:
        import torch

        from bark_omni.loop import codec_decode

        fine = check_fine_tokens(fine_tokens)
        emb = self.latents(fine)
        device = torch.device(self.mbd.device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(self.options.seed)
            wav = self.mbd.generate(emb, step_list=self.steps)
            if self.options.eq_match:
                reference = torch.from_numpy(codec_decode(self.mbd.codec_model, fine)).to(device).view(1, 1, -1)
                wav = self.mbd.re_eq(wav, reference, n_bands=self.options.eq_bands)
        return wav.squeeze().float().cpu().numpy()
