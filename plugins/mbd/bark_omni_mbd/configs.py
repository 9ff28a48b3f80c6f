"""audiocraft's MBD band configuration: the keys its builders read, with the values of its shipped configs.

``SCHEDULE`` is config/solver/diffusion/default.yaml's noise schedule, ``UNET`` config/model/score/basic.yaml's
U-Net with the 128-dim EnCodec 24 kHz latent as conditioning, and ``BAND_PROCESSORS`` the per-band energy
processor of audiocraft's 4-band training grid. A real ``mbd_comp_8.pt`` carries its own configuration; these
build models of the same layout for tests (``TINY_UNET``) and benchmarks (``UNET``).
"""

from __future__ import annotations

from typing import Any

SAMPLE_RATE = 24_000
N_BANDS = 4
N_Q = 8
SCHEDULE: dict[str, Any] = dict(repartition="power", variable_step_batch=True, beta_t0=1.0e-5, beta_t1=2.9e-2,
                                beta_exp=7.5, num_steps=1000, variance="beta", clip=5.0, rescale=1.0, n_bands=None,
                                noise_scale=1.0)
UNET: dict[str, Any] = dict(hidden=48, depth=4, res_blocks=1, norm_groups=4, kernel=8, stride=4, growth=4,
                            max_channels=10_000, dropout=0.0, emb_all_layers=True, bilstm=False, codec_dim=128,
                            transformer=False, cross_attention=False)
TINY_UNET: dict[str, Any] = dict(UNET, hidden=8, depth=2, growth=2)
BAND_PROCESSORS = ((False, 0.4), (False, 0.4), (True, 0.4), (True, 0.75))  # (processor.use, processor.power_std)


def band_config(idx_band: int, unet: dict[str, Any] = UNET) -> Any:
    """The OmegaConf ``DictConfig`` of one band, as audiocraft stores it in a package."""
    from omegaconf import OmegaConf

    use, power_std = BAND_PROCESSORS[idx_band]
    return OmegaConf.create({
        "sample_rate": SAMPLE_RATE, "channels": 1, "n_q": N_Q,
        "schedule": dict(SCHEDULE), "diffusion_unet": dict(unet),
        "processor": {"name": "multi_band_processor", "use": use, "n_bands": 8, "num_samples": 10_000,
                      "power_std": power_std},
        "filter": {"use": True, "n_bands": N_BANDS, "idx_band": idx_band, "cutoffs": None},
    })
