"""bark-omni evaluation: metrics registered through ``register_metrics``, suites with baselines, benchmarks.

Importing this package is cheap; every heavy dependency (torch, pocketsphinx, resemblyzer, matplotlib) is
imported inside the function that needs it.
"""

from .errors import MetricUnavailable, SuiteError

__all__ = ["MetricUnavailable", "SuiteError"]
