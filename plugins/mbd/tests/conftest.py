"""The mbd plugin's tests never touch the network; the tiny MBD is written once per session."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")


@pytest.fixture(scope="session")
def tiny_mbd_path(tmp_path_factory):
    """A tiny ``mbd_comp_8.pt`` in audiocraft's package format, built with audiocraft's own builders."""
    pytest.importorskip("audiocraft", reason="audiocraft is not installed (scripts/install.sh installs it with --no-deps)")
    from bark_omni_mbd.tiny import write_tiny_mbd

    return write_tiny_mbd(tmp_path_factory.mktemp("mbd") / "mbd_comp_8.pt")


@pytest.fixture
def no_mbd_weights(monkeypatch, tmp_path):
    """An empty Hugging Face cache, offline, no path configured."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("BARK_OMNI_MBD_WEIGHTS", raising=False)
    monkeypatch.delenv("AUDIOCRAFT_CACHE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub"
