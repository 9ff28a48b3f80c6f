"""MultiBandDiffusion (audiocraft) as a bark-omni decoder: the slow, high-fidelity branch for Bark's tokens.

Importing this package is cheap; torch and audiocraft load only when the decoder is first used.
"""

__version__ = "0.1.0"
