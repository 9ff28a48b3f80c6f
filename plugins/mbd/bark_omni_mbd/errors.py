"""The typed errors of the mbd decoder (one-line messages that say what to do)."""

from __future__ import annotations

from bark_omni.errors import MissingPluginError, ModelNotFoundError


class MBDWeightsNotFoundError(ModelNotFoundError):
    """No ``mbd_comp_8.pt`` at the given path, in the Hugging Face cache, or reachable for download."""


class AudiocraftMissingError(MissingPluginError):
    """audiocraft (installed with ``--no-deps`` by scripts/install.sh) is not importable."""
