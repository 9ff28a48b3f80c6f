"""bark-omni-train: teach bark-omni's adapters and fusion block on your data while Bark stays frozen.

Commands (registered through the ``register_commands`` hook): ``bark-omni data synth|verify|prepare`` and
``bark-omni train CONFIG [--resume]``. Importing this package is cheap; torch loads inside the functions.
"""

from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-train")  # VERSION at the repository root is the one source
