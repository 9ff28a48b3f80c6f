"""bark-omni-provenance: how every output was made, and a way to make it again.

* a JSON manifest beside every saved output, written together with the audio through the ``sidecar_files`` hook
  (``bark-omni generate`` and ``result.save(path)``; off with ``--no-manifest``), or ``write_manifest`` afterwards;
* ``replay(manifest)`` / ``bark-omni replay MANIFEST``: the same audio bit for bit on the same device;
* opt-in local telemetry (``telemetry``) and ``bark-omni rate MANIFEST 1-5``.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"build_manifest": "manifest", "generation_id": "manifest", "load_manifest": "manifest",
         "manifest_path_for": "manifest", "write_manifest": "manifest", "ReplayReport": "replay", "replay": "replay",
         "rate": "telemetry"}


def __getattr__(name: str) -> Any:
    """The API loads on first use: its modules import numpy, which CLI start-up must not."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # importing the submodule ``replay`` bound its name to the module: the function wins
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-provenance")  # VERSION at the repository root is the one source
__all__ = ["ReplayReport", "build_manifest", "generation_id", "load_manifest", "manifest_path_for", "rate", "replay",
           "write_manifest"]
