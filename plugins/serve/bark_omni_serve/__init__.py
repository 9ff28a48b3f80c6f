"""bark-omni-serve: bark-omni as a service.

* ``bark-omni serve``: an OpenAI-compatible speech server (``POST /v1/audio/speech``, ``GET /v1/models``) with
  bark-omni's own inputs as extra fields, batching under load, API keys, and a provenance manifest per response
  (``create_app(ServeConfig(...))`` builds the FastAPI app);
* ``bark-omni studio``: a Gradio page to try voices, images and control events by ear;
* ``bark-omni serve --ray``: the same app as a Ray Serve deployment (``bark_omni_serve.ray_app``);
* ``bark-omni batch IN.jsonl OUTDIR``: a resumable, shardable batch job.

Heavy imports (fastapi, torch, gradio, ray) happen inside the functions that need them.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"ServeConfig": "config", "create_app": "app", "Engine": "engine", "run_batch_file": "batch"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = sorted(_LAZY)
