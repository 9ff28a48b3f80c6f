"""bark-omni-provenance: how every output was made, and a way to make it again.

* a JSON manifest beside every written output (``write_manifest``; the CLI does it through the ``audio_written``
  hook unless ``--no-manifest``);
* ``replay(manifest)`` / ``bark-omni replay MANIFEST``: the same audio bit for bit on the same device;
* opt-in local telemetry (``telemetry``) and ``bark-omni rate MANIFEST 1-5``.
"""

from __future__ import annotations

from .manifest import build_manifest, generation_id, load_manifest, manifest_path_for, write_manifest
from .replay import ReplayReport, replay
from .telemetry import rate

__version__ = "0.1.0"
__all__ = ["ReplayReport", "build_manifest", "generation_id", "load_manifest", "manifest_path_for", "rate", "replay",
           "write_manifest"]
