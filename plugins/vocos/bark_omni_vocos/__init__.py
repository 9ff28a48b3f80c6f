"""Vocos as a bark-omni decoder: a Fourier-domain vocoder trained on EnCodec 24 kHz tokens, as fast as EnCodec.

Importing this package is cheap; torch and vocos load only when the decoder is first used.
"""

from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-vocos")  # VERSION at the repository root is the one source
