"""Model names: hub ids, the snapshot refs/main names, and downloads that fail at once without network."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bark_omni.errors import ModelNotFoundError


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Every cache (suno's, Hugging Face's, torch hub's) empty, and the hub at an address nothing listens on."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BARK_OMNI_OFFLINE", "BARK_OMNI_ALLOW_DOWNLOAD",
                 "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_download_without_network_fails_at_once_with_one_line(empty_caches):
    from bark_omni.models import download

    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        download("suno/bark-small")
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert "\n" not in message and "127.0.0.1:9" in message and "bark-omni download bark-small" in message


def test_offline_switches_refuse_downloads(empty_caches, monkeypatch):
    from bark_omni.models import download

    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="TRANSFORMERS_OFFLINE"):
        download("bark")
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        download("bark-large")


def test_a_missing_model_is_reported_quickly(empty_caches, tiny_host):
    from bark_omni.models import resolve_model

    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("suno/bark-small", tiny_host)
    assert time.perf_counter() - start < 5
    assert "bark-small" in str(info.value) and "\n" not in str(info.value)


def test_hub_ids_and_refs_main_snapshots(empty_caches, tiny_model_dir, monkeypatch):
    """``suno/bark-small`` is bark-small; of several snapshots the one refs/main names is used, not the newest."""
    import huggingface_hub.constants as hub_constants

    from bark_omni.host import Host
    from bark_omni.models import _hf_snapshot, resolve_model

    hub = empty_caches / "hf" / "hub"
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    repo = hub / "models--suno--bark"
    for commit in ("a" * 40, "b" * 40):
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for name in ("text.pt", "coarse.pt", "fine.pt"):
            (snapshot / name).symlink_to(tiny_model_dir / name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    (repo / "snapshots" / ("b" * 40)).touch()  # newer, but not what main names
    assert _hf_snapshot("suno/bark").name == "a" * 40
    path, fmt = resolve_model("suno/bark-small", Host())
    assert path.name == "a" * 40 and fmt == "suno"


def test_cli_download_error_is_one_line(empty_caches):
    import os

    done = subprocess.run([sys.executable, "-m", "bark_omni", "download", "bark-small"], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr
