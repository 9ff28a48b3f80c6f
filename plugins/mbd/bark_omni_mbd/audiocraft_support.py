"""Importing audiocraft lazily, quietly, and with a typed error when it is missing.

audiocraft 1.3 pins torch 2.1, so it is installed with ``--no-deps`` (scripts/install.sh) and is not a declared
dependency; everything that needs it goes through ``require_audiocraft``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from .errors import AudiocraftMissingError

INSTALL_HINT = ("pip install --no-deps audiocraft==1.3.0 xformers, plus the modules it imports (run scripts/install.sh; "
                "see plugins/mbd/README.md)")


def require_audiocraft() -> SimpleNamespace:
    """audiocraft's MBD pieces: ``builders``, ``MultiBandDiffusion``, ``DiffusionProcess``, ``NoiseSchedule``."""
    xformers_log = logging.getLogger("xformers")
    level = xformers_log.level
    # xformers wheels are built for another torch; audiocraft imports it but MBD never uses its kernels.
    xformers_log.setLevel(logging.ERROR)
    try:
        from audiocraft.models import builders
        from audiocraft.models.multibanddiffusion import DiffusionProcess, MultiBandDiffusion
        from audiocraft.modules.diffusion_schedule import NoiseSchedule
    except ImportError as exc:
        raise AudiocraftMissingError(f"the mbd decoder needs audiocraft ({exc}); install it with: {INSTALL_HINT}") from None
    finally:
        xformers_log.setLevel(level)
    return SimpleNamespace(builders=builders, MultiBandDiffusion=MultiBandDiffusion, DiffusionProcess=DiffusionProcess,
                           NoiseSchedule=NoiseSchedule)
