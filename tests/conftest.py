"""Tests never touch the network: the hub is offline and every model is the tiny one (or smaller)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")

pytest_plugins = ["pytester"]
