"""The plugin: payloads, the CLI and ``bark_omni.detect_watermark``."""

import json
import subprocess
import sys

import numpy as np
import pytest

import bark_omni
from bark_omni.specs import GenerationRequest
from bark_omni_watermark import embed_watermark, plugin

SR = 24000


def test_payload_is_deterministic_per_request_and_configurable(monkeypatch):
    a, b = GenerationRequest(text="one", seed=1), GenerationRequest(text="one", seed=2)
    assert plugin.payload_for(a) == plugin.payload_for(GenerationRequest(text="one", seed=1))
    assert plugin.payload_for(a) != plugin.payload_for(b)
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PAYLOAD", "0x1a2b")
    assert plugin.payload_for(b) == 0x1A2B
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PAYLOAD", "99999")
    with pytest.raises(bark_omni.InvalidInputError, match="0..65535"):
        plugin.payload_for(a)


def test_blocking_the_watermark_warns():
    with pytest.warns(UserWarning, match="'watermark' safety plugin is switched off"):
        host = bark_omni.Host(block=["watermark"])
    assert "watermark" not in host.plugins


def test_top_level_detect_watermark(speech_clip):
    marked = embed_watermark(speech_clip, SR, 4242)
    found = bark_omni.detect_watermark(marked, SR)
    assert found.detected and 0 <= found.p_value < 1e-3
    assert bin(found.payload ^ 4242).count("1") <= 2  # 16 bits on 6 s of audio: at most a bit or two flip


def test_cli_detect_reports_json_and_exit_code(tmp_path, speech_clip, capsys):
    import soundfile as sf

    from bark_omni.cli import main

    marked, clean = tmp_path / "marked.wav", tmp_path / "clean.wav"
    sf.write(marked, embed_watermark(speech_clip, SR, 0xBEEF, key="cli-key"), SR, subtype="PCM_16")
    sf.write(clean, speech_clip, SR, subtype="PCM_16")
    for path, code in ((marked, 0), (clean, 1)):
        with pytest.raises(SystemExit) as exit_info:
            main(["watermark", "detect", "--json", "--key", "cli-key", str(path)])
        assert exit_info.value.code == code
        data = json.loads(capsys.readouterr().out)
        assert data["detected"] is (code == 0) and 0 <= data["p_value"] <= 1
    with pytest.raises(SystemExit) as exit_info:
        main(["watermark", "detect", str(tmp_path / "nope.wav")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith("does not exist; pass an audio file (WAV, FLAC, OGG, MP3)")


def test_cli_embed_marks_an_existing_file(tmp_path, speech_clip):
    import soundfile as sf

    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, speech_clip, SR, subtype="PCM_16")
    done = subprocess.run([sys.executable, "-m", "bark_omni.cli", "watermark", "embed", str(src), "-o", str(out),
                           "--payload", "0x0102"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    audio, sr = sf.read(out)
    assert sr == SR and bark_omni.detect_watermark(audio, sr).detected


def test_robustness_api_reports_rates(speech_clip):
    from bark_omni_watermark import robustness

    # a fixed key: whether v2 finds the mark in a 3 s clip depends on the key (a known weakness, issue 15), and the
    # per-test service key is random; this test is about the report, so it must not depend on that draw
    report = robustness([speech_clip[: SR * 3]], SR, key=b"bark-omni robustness report test key", attacks=["none", "gain_-6db"],
                        null_keys=4)
    rows = {r.attack: r for r in report.rows}
    assert rows["none"].tpr == 1.0 and rows["gain_-6db"].trials == 1
    assert report.overall.null_trials == 8 and 0 <= report.overall.fpr <= 0.25
    assert "| none |" in report.as_table()


@pytest.mark.skipif(not __import__("shutil").which("espeak-ng"), reason="espeak-ng not installed (scripts/install.sh)")
def test_real_speech_from_espeak():
    from bark_omni_watermark import speech

    clip = speech.speak(speech.SENTENCES[0], "en-us")
    found = bark_omni.detect_watermark(embed_watermark(clip, SR, 0xCAFE), SR)
    assert found.detected and found.payload == 0xCAFE
