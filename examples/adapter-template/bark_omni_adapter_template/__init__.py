"""A template bark-omni adapter plugin: ``style_text`` read byte by byte by a small trainable embedding.

It exists to be copied. The parts every adapter plugin has:

* ``plugin.py``: registers an ``AdapterSpec`` through the ``register_adapters`` hook. It must import nothing
  heavy (no torch), so ``bark-omni --help`` stays fast; ``build`` imports the adapter module when needed.
* ``adapter.py``: a ``bark_omni.fusion.Adapter`` subclass with ``prepare`` (validate one raw input, raise
  ``InvalidInputError`` with a one-line message, run frozen encoders) and ``forward`` (a batch of prepared
  inputs -> context tokens ``(B, N, d_ctx)`` and a ``(B, N)`` mask).
* ``tests/``: ``bark_omni.testing.check_adapter_conformance`` plus tests of your own inputs.
"""

ADAPTER_KIND = "byte-style"
ADAPTER_VERSION = "1"
