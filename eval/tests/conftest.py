"""Eval tests run offline: no hub downloads; espeak-ng speech is the known-answer audio."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")


@pytest.fixture(scope="session")
def espeak():
    from bark_omni_eval.speech import espeak_available, speak

    if not espeak_available():
        pytest.skip("espeak-ng is not installed; get it with: sudo apt-get install espeak-ng")
    return speak
