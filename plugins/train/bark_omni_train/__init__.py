"""bark-omni-train: teach bark-omni's adapters and fusion block on your data while Bark stays frozen.

Commands (registered through the ``register_commands`` hook): ``bark-omni data synth|verify|prepare`` and
``bark-omni train CONFIG [--resume]``. Importing this package is cheap; torch loads inside the functions.
"""

__version__ = "0.1.0"
