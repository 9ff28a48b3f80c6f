"""Saving outputs: temporary files never outlive their writer (errors, signals), a stale one from a killed run is
cleaned, an audio file and its sidecar files land together even with concurrent writers, and out of space is
one clear line with nothing left behind."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bark_omni
from bark_omni import files
from bark_omni.errors import OutputError
from bark_omni.host import Host
from bark_omni.specs import GenerationRequest, GenerationResult


class Sidecar:
    """A provenance-like plugin: a JSON file beside the audio holding the hash it was told about."""

    delay = 0.0

    @bark_omni.hookimpl
    def sidecar_files(self, path, audio_sha256, request, result):
        time.sleep(self.delay)
        return {path.name + ".meta.json": json.dumps({"sha256": audio_sha256}).encode()}


def _result(value: float = 0.25, n: int = 2400) -> GenerationResult:
    return GenerationResult(semantic=np.zeros(2, np.int64), coarse=np.zeros((2, 2), np.int64),
                            fine=np.zeros((8, 2), np.int64), audio=np.full(n, value, np.float32),
                            sample_rate=24_000, request=GenerationRequest(text="hi"))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_writes_the_audio_and_its_sidecar_as_a_pair(tmp_path):
    host = Host([Sidecar()], entry_points=False)
    out = _result().save(tmp_path / "a.wav", host=host)
    meta = json.loads((tmp_path / "a.wav.meta.json").read_text())
    assert meta["sha256"] == _sha(out)  # the sidecar hashes the bytes that were written
    assert _leftovers(tmp_path) == []


def test_atomic_output_leaves_nothing_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with files.atomic_output(tmp_path / "x.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
@pytest.mark.parametrize("failing_write", [1, 2])  # the audio's, or the sidecar's
def test_out_of_space_is_one_line_and_leaves_no_half_pair(tmp_path, monkeypatch, code, failing_write):
    host = Host([Sidecar()], entry_points=False)
    _result(0.5).save(tmp_path / "a.wav", host=host)  # an earlier pair, to be replaced
    real_write, calls = files._write_all, []

    def write(fd, data):
        calls.append(fd)
        if len(calls) == failing_write:
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(files, "_write_all", write)
    with pytest.raises(OutputError) as info:
        _result(0.1).save(tmp_path / "a.wav", host=host)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 200 and "a.wav" in message and "nothing was written" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert _leftovers(tmp_path) == []
    meta = json.loads((tmp_path / "a.wav.meta.json").read_text())
    assert meta["sha256"] == _sha(tmp_path / "a.wav")  # the earlier pair is intact


def test_out_of_space_in_atomic_output_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="out of disk space writing"):
        with files.atomic_output(tmp_path / "w.bin"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_to_one_path_never_mix_pairs(tmp_path, monkeypatch):
    real_move = files._move

    def slow_move(src, dst):  # widen the window between the two renames of a pair
        real_move(src, dst)
        time.sleep(0.005)

    monkeypatch.setattr(files, "_move", slow_move)
    host = Host([Sidecar()], entry_points=False)
    errors = []

    def writer(value):
        try:
            for _ in range(6):
                _result(value).save(tmp_path / "same.wav", host=host)
                time.sleep(0.001)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(v,)) for v in (0.1, 0.2, 0.3)]
    for thread in threads:
        thread.start()
    checks = 0
    while any(t.is_alive() for t in threads):
        with files._folder_lock(tmp_path):  # a reader that respects the lock sees whole pairs only
            if (tmp_path / "same.wav.meta.json").exists():
                meta = json.loads((tmp_path / "same.wav.meta.json").read_text())
                assert meta["sha256"] == _sha(tmp_path / "same.wav")
                checks += 1
        time.sleep(0.002)
    for thread in threads:
        thread.join()
    assert not errors and checks > 0
    meta = json.loads((tmp_path / "same.wav.meta.json").read_text())
    assert meta["sha256"] == _sha(tmp_path / "same.wav")
    assert _leftovers(tmp_path) == []


SLOW_SAVE = """
import signal, sys, time
# the dispositions a terminal's process has; a parent that ignores them (nohup, a background shell) passes that on
signal.signal(signal.SIGINT, signal.default_int_handler)
for sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_DFL)
from pathlib import Path
import numpy as np
import bark_omni
from bark_omni.host import Host
from bark_omni.specs import GenerationRequest, GenerationResult

class Slow:
    @bark_omni.hookimpl
    def sidecar_files(self, path, audio_sha256, request, result):
        print("writing", flush=True)
        time.sleep(60)
        return {}

result = GenerationResult(semantic=np.zeros(2, np.int64), coarse=np.zeros((2, 2), np.int64),
                          fine=np.zeros((8, 2), np.int64), audio=np.zeros(2400, np.float32), sample_rate=24000,
                          request=GenerationRequest(text="hi"))
result.save(Path(sys.argv[1]) / "killed.wav", host=Host([Slow()], entry_points=False))
"""


def _start_slow_save(folder: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(folder)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing", child.stderr.read()
    assert any(name.startswith(".killed.wav.") for name in os.listdir(folder))  # mid-write: the temp exists
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_write_leaves_no_temporary_file(tmp_path, sig):
    child = _start_slow_save(tmp_path)
    child.send_signal(sig)
    child.wait(timeout=60)
    assert child.returncode != 0
    assert os.listdir(tmp_path) == []


def test_a_killed_runs_stale_temp_is_cleaned_by_the_next_write(tmp_path):
    child = _start_slow_save(tmp_path)
    child.kill()  # SIGKILL: nothing can clean up
    child.wait(timeout=60)
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".killed.wav.")]
    assert stale
    stale.append(tmp_path / ".killed.wav.meta.json.abcd1234.tmp.json")  # a sidecar's, from another killed run
    stale[-1].write_text("{")
    old = time.time() - 60
    for path in stale:
        os.utime(path, (old, old))
    live_fd, live = files._temp_beside(tmp_path / "killed.wav", ".wav")  # another writer's, still working
    os.utime(live, (old, old))
    try:
        _result().save(tmp_path / "killed.wav", host=Host([Sidecar()], entry_points=False))
        assert not any(p.exists() for p in stale)
        assert live.exists()  # locked by a live writer: kept
    finally:
        files._release(live_fd, live)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.wav", "killed.wav.meta.json"]


def test_signal_handlers_are_only_installed_while_writing(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with files.atomic_output(tmp_path / "x.txt") as tmp:
        assert signal.getsignal(signal.SIGTERM) == files._on_signal
        tmp.write_text("x")
    assert signal.getsignal(signal.SIGTERM) == before


def test_save_refuses_a_bad_output_path_before_writing(tmp_path):
    from bark_omni.errors import InvalidInputError

    (tmp_path / "d.wav").mkdir()
    with pytest.raises(InvalidInputError, match="is a directory"):
        _result().save(tmp_path / "d.wav", host=Host(entry_points=False))
    with pytest.raises(InvalidInputError, match=r"\.wav"):
        _result().save(tmp_path / "x.mp4", host=Host(entry_points=False))
    assert [p.name for p in tmp_path.iterdir()] == ["d.wav"]


def test_save_fires_audio_written_once_the_pair_is_in_place(tmp_path):
    seen = []

    class Observer:
        @bark_omni.hookimpl
        def audio_written(self, path, request, result):
            seen.append((path.exists(), (path.parent / (path.name + ".meta.json")).exists()))

    _result().save(tmp_path / "o.wav", host=Host([Sidecar(), Observer()], entry_points=False))
    assert seen == [(True, True)]


def test_a_failing_sidecar_plugin_keeps_the_audio_with_a_warning(tmp_path):
    from bark_omni.errors import PluginWarning

    class Broken:
        @bark_omni.hookimpl
        def sidecar_files(self, path, audio_sha256, request, result):
            raise KeyError("manifest field")

    with pytest.warns(PluginWarning, match="'Broken' failed in sidecar_files"):
        _result().save(tmp_path / "b.wav", host=Host([Broken()], entry_points=False))
    assert [p.name for p in tmp_path.iterdir()] == ["b.wav"]


def test_cli_out_of_space_is_one_line_and_no_files(tmp_path, monkeypatch, capsys):
    from bark_omni import api, cli, host as host_module

    with pytest.warns(UserWarning):  # the safety plugins are left out of this host
        host = Host([Sidecar()], entry_points=False)
    monkeypatch.setattr(host_module, "_default_host", host)

    def fake_run(request, **kwargs):  # the generation itself is not what is tested here
        result = _result()
        result.request, result.host = request, kwargs["host"]
        return result

    monkeypatch.setattr(api, "run", fake_run)
    real_write, calls = files._write_all, []

    def write(fd, data):
        calls.append(fd)
        if len(calls) == 2:  # the manifest-like sidecar, after the audio's temporary file was written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files, "_write_all", write)
    with pytest.raises(SystemExit) as info:
        cli.main(["generate", "--model", "tiny", "--text", "Hi.", "-q", "-o", str(tmp_path / "full.wav")])
    errors = capsys.readouterr().err
    assert info.value.code == OutputError.exit_code != 0
    assert errors.count("\n") == 1 and errors.startswith("error: out of disk space writing") and "full.wav" in errors
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_an_unmarked_result_when_the_host_watermarks(tmp_path):
    from bark_omni.errors import InvalidInputError
    from bark_omni.specs import WatermarkerSpec

    class Marker:
        @bark_omni.hookimpl
        def register_watermarkers(self, register):
            register(WatermarkerSpec(name="mark", apply=lambda audio, sr, request: (audio, {})))

    host = Host([Marker()], entry_points=False)
    with pytest.raises(InvalidInputError, match="not watermarked"):
        _result().save(tmp_path / "raw.wav", host=host)
    assert list(tmp_path.iterdir()) == []
    marked = _result()
    marked.extras["watermark"] = {"watermarker": "mark"}
    assert marked.save(tmp_path / "marked.wav", host=host).exists()
