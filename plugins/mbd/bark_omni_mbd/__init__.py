"""MultiBandDiffusion (audiocraft) as a bark-omni decoder: the slow, high-fidelity branch for Bark's tokens.

Importing this package is cheap; torch and audiocraft load only when the decoder is first used.
"""

from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-mbd")  # VERSION at the repository root is the one source
