"""Real clients (the official ``openai`` package and plain httpx) against the server running the tiny model."""

from __future__ import annotations

import hashlib
import io

import httpx
import numpy as np
import pytest
import soundfile as sf

openai = pytest.importorskip("openai", reason="the openai package is not installed (pip install openai)")


@pytest.fixture(scope="module")
def tiny_server(tiny_model_dir):
    from bark_omni.host import Host
    from bark_omni_serve.app import create_app
    from bark_omni_serve.config import ServeConfig
    from bark_omni_serve.engine import Engine
    from bark_omni_serve.server import ServerThread

    config = ServeConfig(model="tiny", device="cpu", max_duration_s=0.4, api_keys=("test-key-123",))
    engine = Engine(config, Host())
    with ServerThread(create_app(config, engine, warm_up=True), timeout_s=600) as url:
        yield url, engine


@pytest.fixture(scope="module")
def client(tiny_server):
    return openai.OpenAI(base_url=tiny_server[0] + "/v1", api_key="test-key-123", max_retries=0, timeout=600)


def test_openai_create_and_stream_agree(tiny_server, client):
    url, engine = tiny_server
    whole = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.", response_format="wav",
                                       extra_body={"seed": 5})
    audio, rate = sf.read(io.BytesIO(whole.content), dtype="int16")
    assert rate == 24_000 and len(audio) > 0
    manifest_id = whole.response.headers["x-bark-omni-manifest-id"]
    manifest = httpx.get(f"{url}/v1/manifests/{manifest_id}", headers={"Authorization": "Bearer test-key-123"}).json()
    assert manifest["audio"]["file_sha256"] == hashlib.sha256(whole.content).hexdigest()
    assert manifest["model"]["fingerprint"] and manifest["watermark"]["key_public"] is False
    assert manifest["tokens_sha256"]["semantic"] and manifest["request"]["seed"] == 5

    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Hello there.", response_format="pcm",
            extra_body={"seed": 5, "stream": True}) as response:
        assert response.headers["content-type"] == "audio/pcm"
        streamed = b"".join(response.iter_bytes())
        stream_id = response.headers["x-bark-omni-manifest-id"]
    pcm = np.frombuffer(streamed, dtype="<i2")
    assert len(pcm) == len(audio)  # the same tokens: one short segment streams whole
    assert np.abs(pcm.astype(int) - audio.astype(int)).max() <= 2  # same audio up to EnCodec's float rounding
    streamed_manifest = httpx.get(f"{url}/v1/manifests/{stream_id}",
                                  headers={"Authorization": "Bearer test-key-123"}).json()
    assert streamed_manifest["audio"]["file_sha256"] == hashlib.sha256(streamed).hexdigest()


def test_openai_errors_are_typed(client):
    with pytest.raises(openai.BadRequestError, match="request blocked by guardrails"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="I know where you live.")
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="tts-1", voice="/etc/passwd", input="Hi.")
    bad_key = openai.OpenAI(base_url=str(client.base_url), api_key="wrong-key-000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert "tts-1" in [m.id for m in client.models.list()]


def test_httpx_multipart_voice_upload(tiny_server):
    url, _ = tiny_server
    from bark_omni.prompts import load_history_prompt

    prompt = load_history_prompt("v2/en_speaker_1")
    data = io.BytesIO()
    np.savez(data, **prompt)
    r = httpx.post(f"{url}/v1/audio/speech", headers={"Authorization": "Bearer test-key-123"}, timeout=600,
                   data={"input": "Hi.", "seed": "2", "response_format": "flac"},
                   files={"voice_prompt": ("voice.npz", data.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert sf.info(io.BytesIO(r.content)).format == "FLAC"
    assert r.headers["x-bark-omni-watermark"]
