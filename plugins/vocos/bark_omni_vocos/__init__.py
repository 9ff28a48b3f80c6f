"""Vocos as a bark-omni decoder: a Fourier-domain vocoder trained on EnCodec 24 kHz tokens, as fast as EnCodec.

Importing this package is cheap; torch and vocos load only when the decoder is first used.
"""

__version__ = "0.1.0"
