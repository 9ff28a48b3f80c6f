"""The vocos plugin's tests never touch the network."""

import os


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")
