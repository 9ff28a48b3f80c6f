"""The HTTP surface on the tone engine (real host: guardrails, watermark and provenance plugins)."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import soundfile as sf

from bark_omni.errors import InvalidInputError
from bark_omni_serve.config import ServeConfig


def test_speech_wav_carries_watermark_and_manifest(make_client):
    client, _ = make_client()
    r = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hello there.", "voice": "alloy", "seed": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(r.content))
    assert rate == 24_000 and len(audio) == 12_000
    assert json.loads(r.headers["x-bark-omni-watermark"])["watermarker"]
    assert r.headers["x-bark-omni-audio-sha256"] == hashlib.sha256(r.content).hexdigest()
    manifest_id = r.headers["x-bark-omni-manifest-id"]
    assert r.headers["link"] == f'</v1/manifests/{manifest_id}>; rel="describedby"'
    m = client.get(f"/v1/manifests/{manifest_id}")
    assert m.status_code == 200 and hashlib.sha256(m.content).hexdigest() == r.headers["x-bark-omni-manifest-sha256"]
    manifest = m.json()
    assert manifest["audio"]["file_sha256"] == hashlib.sha256(r.content).hexdigest()
    assert manifest["request"]["seed"] == 3 and manifest["watermark"]["payload_hex"]
    assert manifest["safety"]["watermark"] is True and manifest["served"]["response_format"] == "wav"


def test_served_audio_holds_the_detectable_mark(make_client):
    from bark_omni_watermark import detect_watermark

    client, engine = make_client()
    engine.seconds = 6.0  # long enough for the detector (0.5 s is not; 2 s is not always)
    r = client.post("/v1/audio/speech", json={"input": "Hello there.", "seed": 7})
    audio, rate = sf.read(io.BytesIO(r.content), dtype="float32")
    found = detect_watermark(audio, rate)
    manifest = client.get(f"/v1/manifests/{r.headers['x-bark-omni-manifest-id']}").json()
    assert found.detected and found.payload == manifest["watermark"]["payload"]
    assert found.key_id == json.loads(r.headers["x-bark-omni-watermark"])["key_id"]


def test_seed_and_voice_reach_the_request(make_client):
    client, engine = make_client()
    a = client.post("/v1/audio/speech", json={"input": "Hi.", "seed": 1, "voice": "v2/en_speaker_3"})
    b = client.post("/v1/audio/speech", json={"input": "Hi.", "seed": 2})
    assert a.status_code == b.status_code == 200 and a.content != b.content
    manifest = client.get(f"/v1/manifests/{a.headers['x-bark-omni-manifest-id']}").json()
    assert manifest["inputs"]["history_prompt"]["name"] == "v2/en_speaker_3"


@pytest.mark.parametrize("fmt,container", [("flac", "FLAC"), ("opus", "OGG"), ("mp3", "MP3")])
def test_compressed_formats(make_client, fmt, container):
    from bark_omni_serve.formats import supported

    if fmt not in supported():
        pytest.skip(f"{fmt}: this libsndfile cannot write it and ffmpeg is missing")
    client, _ = make_client()
    r = client.post("/v1/audio/speech", json={"input": "Hi.", "response_format": fmt})
    assert r.status_code == 200
    assert sf.info(io.BytesIO(r.content)).format == container


def test_streamed_pcm_and_its_manifest(make_client):
    client, _ = make_client()
    with client.stream("POST", "/v1/audio/speech", json={"input": "Hi.", "stream": True, "response_format": "pcm"}) as r:
        assert r.status_code == 200
        body = b"".join(r.iter_bytes())
    assert len(body) == 2 * 12_000
    manifest = client.get(f"/v1/manifests/{r.headers['x-bark-omni-manifest-id']}").json()
    assert manifest["audio"]["file_sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["served"]["stream"] is True and manifest["watermark"]["watermarker"]


BAD = [
    ({"input": ""}, 400, "input must be"),
    ({"input": "x" * 5000}, 400, "up to 4096"),
    ({"input": "Hi.", "voice": "/etc/passwd"}, 400, "unknown voice"),
    ({"input": "Hi.", "voice": "../../secret.npz"}, 400, "unknown voice"),
    ({"input": "Hi.", "image": "/etc/passwd"}, 400, "never opens a path"),
    ({"input": "Hi.", "reference_audio": "/etc/hosts"}, 400, "never opens a path"),
    ({"input": "Hi.", "control_events": "/etc/passwd"}, 400, "control_events must be a JSON list"),
    ({"input": "Hi.", "adapters": "/tmp"}, 400, "not one this server offers"),
    ({"input": "Hi.", "response_format": "ogg"}, 400, "response_format must be one of"),
    ({"input": "Hi.", "speed": 9}, 400, "speed must be"),
    ({"input": "Hi.", "model": "gpt-9"}, 400, "not served here"),
    ({"input": "Hi.", "seed": "x"}, 400, "seed"),
    ({"input": "Hi.", "text_temp": -1}, 400, "text_temp"),
    ({"input": "Hi.", "max_gen_duration_s": 999}, 400, "over this server's limit"),
    ({"input": "Hi.", "decoder": "nope"}, 400, "not installed"),
    ({"input": "Hi.", "decoder_options": {"weights": "/etc/passwd"}}, 400, "never takes a path"),
    ({"inpt": "Hi."}, 400, "did you mean input"),
    ({"input": "I know where you live."}, 400, "request blocked by guardrails"),
    ({"input": "Hi.", "style_text": "in the voice of the president"}, 400, "request blocked"),
    ({"input": "FAIL now"}, 500, "internal error (RuntimeError)"),
]


@pytest.mark.parametrize("body,status,message", BAD)
def test_errors_are_one_line_json(make_client, body, status, message):
    client, _ = make_client()
    r = client.post("/v1/audio/speech", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert message in error["message"] and "\n" not in error["message"] and "Traceback" not in r.text
    assert error["type"] == ("request_blocked" if "blocked" in message else
                             "server_error" if status == 500 else "invalid_request_error")


def test_malformed_bodies(make_client):
    client, _ = make_client(max_body_bytes=1000)
    assert client.post("/v1/audio/speech", content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/v1/audio/speech", json=["a list"]).status_code == 400
    big = client.post("/v1/audio/speech", json={"input": "x" * 2000})
    assert big.status_code == 413 and "up to 1000" in big.json()["error"]["message"]
    assert client.get("/v1/nothing").json()["error"]["type"] == "not_found_error"
    assert client.get("/v1/manifests/abc").status_code == 404


def test_multipart_uploads(make_client, tmp_path):
    client, _ = make_client(max_upload_bytes=200_000)
    prompt = io.BytesIO()
    np.savez(prompt, semantic_prompt=np.arange(20, dtype=np.int64), coarse_prompt=np.zeros((2, 30), dtype=np.int64),
             fine_prompt=np.zeros((8, 30), dtype=np.int64))
    r = client.post("/v1/audio/speech", data={"input": "Hi.", "seed": "4", "control_events": "[]"},
                    files={"voice_prompt": ("v.npz", prompt.getvalue())})
    assert r.status_code == 200, r.text
    manifest = client.get(f"/v1/manifests/{r.headers['x-bark-omni-manifest-id']}").json()
    assert manifest["request"]["seed"] == 4 and manifest["inputs"]["history_prompt"]["replayable"] is False
    bad = client.post("/v1/audio/speech", data={"input": "Hi."}, files={"voice_prompt": ("v.npz", b"not an npz")})
    assert bad.status_code == 400 and ".npz voice prompt" in bad.json()["error"]["message"]
    other = client.post("/v1/audio/speech", data={"input": "Hi."}, files={"passwd": ("p", b"x")})
    assert other.status_code == 400 and "not one this server takes" in other.json()["error"]["message"]
    huge = client.post("/v1/audio/speech", data={"input": "Hi."}, files={"image": ("i.png", b"\0" * 300_000)})
    assert huge.status_code in (400, 413) and "Traceback" not in huge.text


def test_uploads_are_removed_after_the_response(make_client, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client, _ = make_client()
    r = client.post("/v1/audio/speech", data={"input": "Hi."}, files={"image": ("i.png", b"\x89PNG garbage")})
    assert r.status_code == 200  # the tone engine ignores the image; the server's temporary folder is gone
    assert list(tmp_path.iterdir()) == []
    assert client.post("/v1/audio/speech", data={"input": "I know where you live."},
                       files={"image": ("i.png", b"x")}).status_code == 400
    assert list(tmp_path.iterdir()) == []


def test_api_keys(make_client):
    client, _ = make_client(api_keys=("secret-key-1",))
    assert client.get("/v1/models").status_code == 401
    wrong = client.post("/v1/audio/speech", json={"input": "Hi."}, headers={"Authorization": "Bearer nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    ok = client.get("/v1/models", headers={"Authorization": "Bearer secret-key-1"})
    assert ok.status_code == 200 and "tts-1" in [m["id"] for m in ok.json()["data"]]


def test_no_keys_only_on_loopback():
    ServeConfig(host="127.0.0.1").check_bind()
    ServeConfig(host="::1").check_bind()
    ServeConfig(host="0.0.0.0", api_keys=("long-enough",)).check_bind()
    with pytest.raises(InvalidInputError, match="without API keys"):
        ServeConfig(host="0.0.0.0").check_bind()
    with pytest.raises(InvalidInputError, match="at least 8"):
        ServeConfig(api_keys=("short",))


def test_cors(make_client):
    client, _ = make_client(cors_origins=("https://studio.example",))
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options("/v1/audio/speech", headers={"Origin": "https://studio.example", **asked})
    assert ok.headers.get("access-control-allow-origin") == "https://studio.example"
    other = client.options("/v1/audio/speech", headers={"Origin": "https://evil.example", **asked})
    assert "access-control-allow-origin" not in other.headers
    plain, _ = make_client()
    assert "access-control-allow-origin" not in plain.get("/v1/models", headers={"Origin": "https://x.example"}).headers


def test_refuses_public_watermark_key(serve_host, monkeypatch):
    from bark_omni_serve.app import create_app
    from bark_omni_serve.engine import Engine
    from bark_omni_watermark.keys import PublicKeyRefused

    for name in ("BARK_OMNI_WATERMARK_KEY", "BARK_OMNI_WATERMARK_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PUBLIC_KEY", "1")
    with pytest.raises(PublicKeyRefused, match="allow-public-key"):
        create_app(ServeConfig(model="tiny"), Engine(ServeConfig(model="tiny"), serve_host))
    config = ServeConfig(model="tiny", allow_public_key=True)
    engine = Engine(config, serve_host)
    create_app(config, engine)
    assert engine.key_id


def test_refuses_to_serve_unmarked(make_host):
    from bark_omni_serve.app import create_app
    from bark_omni_serve.engine import Engine

    bare = make_host(builtins=True)  # the core's essential plugins only: no watermarker, no manifests
    with pytest.raises(InvalidInputError, match="no watermarker"):
        create_app(ServeConfig(model="tiny"), Engine(ServeConfig(model="tiny"), bare))
    create_app(ServeConfig(model="tiny", allow_unmarked=True), Engine(ServeConfig(model="tiny", allow_unmarked=True), bare))
