"""The vocos plugin's tests never touch the network."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")


@pytest.fixture(scope="session")
def models_with_codebooks(tiny_models):
    """The tiny Bark with a copy of its EnCodec whose codebooks are seeded random vectors.

    The tiny codec's codebooks are all zero (EnCodec's untrained k-means init), so with it every token sequence
    has the same latents; decoders must show that the tokens matter. Bark's own codec is left untouched.
    """
    import dataclasses

    import torch

    from bark_omni.models import encodec_24khz

    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(value.shape, generator=generator) if key.endswith("_codebook.embed")
             else torch.ones_like(value) if key.endswith("_codebook.inited") else value.clone()
             for key, value in tiny_models.codec.state_dict().items()}
    return dataclasses.replace(tiny_models, codec=encodec_24khz(state))
