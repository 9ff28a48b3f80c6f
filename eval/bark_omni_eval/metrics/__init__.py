"""The built-in metrics. Each module keeps its heavy imports inside functions."""
