"""Keys: the service key (made once, 0600, under XDG), the public key only on request, key sets, empty keys."""

import os
import stat

import pytest

from bark_omni.errors import InvalidInputError
from bark_omni_watermark import detect_watermark, embed_watermark, keys, require_private_key

SR = 24000


def test_service_key_is_made_once_private_and_under_xdg(tmp_path):
    first = keys.signing_key()
    path = tmp_path / "config" / "bark-omni" / "watermark.key"
    assert first.origin == f"service key {path}" and not first.public
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret) == 64 and first.secret != keys.PUBLIC_KEY
    assert keys.signing_key().secret == first.secret  # kept, not regenerated
    assert first.secret.decode() not in repr(first)


def test_service_key_readable_by_others_is_refused(tmp_path):
    keys.signing_key()
    path = keys.service_key_path()
    os.chmod(path, 0o644)
    with pytest.raises(InvalidInputError, match="chmod 600"):
        keys.signing_key()


def test_public_key_only_when_asked(monkeypatch):
    assert not keys.signing_key().public
    assert keys.signing_key(public=True).public
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PUBLIC_KEY", "1")
    assert keys.signing_key().secret == keys.PUBLIC_KEY


@pytest.mark.parametrize("env", [{"BARK_OMNI_WATERMARK_KEY": ""}, {"BARK_OMNI_WATERMARK_KEY": "   "},
                                 {"BARK_OMNI_WATERMARK_KEY_FILE": ""}])
def test_empty_keys_from_the_environment_are_errors(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError, match="empty"):
        keys.signing_key()


def test_empty_key_file_and_empty_argument_are_errors(tmp_path, monkeypatch):
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    monkeypatch.setenv("BARK_OMNI_WATERMARK_KEY_FILE", str(empty))
    with pytest.raises(InvalidInputError, match="is empty"):
        keys.signing_key()
    with pytest.raises(InvalidInputError, match="is empty"):
        keys.signing_key(key=b"")


def test_require_private_key_refuses_the_public_key(monkeypatch):
    assert not require_private_key().public
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PUBLIC_KEY", "1")
    with pytest.raises(keys.PublicKeyRefused, match="public demo watermark key"):
        require_private_key()
    assert require_private_key(allow_public=True).public
    monkeypatch.setenv("BARK_OMNI_WATERMARK_KEY", keys.PUBLIC_KEY.decode())  # the public key by value: same refusal
    with pytest.raises(keys.PublicKeyRefused):
        require_private_key()


def test_detection_tries_a_set_of_keys_and_names_the_one_that_matched(speech_clip, tmp_path):
    marked = embed_watermark(speech_clip, SR, 0x1234, key="key-b")
    key_file = tmp_path / "b.key"
    key_file.write_text("key-b\n")
    alone = detect_watermark(marked, SR, key="key-b")
    several = detect_watermark(marked, SR, keys=["key-a", "key-c"], key_files=[str(key_file)])
    assert several.detected and several.keys_tried == 3 and several.key_id == keys.key_id(b"key-b")
    assert several.p_value >= alone.p_value  # corrected for trying three keys
    assert not detect_watermark(marked, SR, keys=["key-a", "key-c"]).detected


def test_public_marks_are_recognised_and_flagged(speech_clip):
    with pytest.warns(UserWarning, match="PUBLIC demo key"):
        marked = embed_watermark(speech_clip, SR, 7, public=True)
    found = detect_watermark(marked, SR)  # default set: service key (if any) and the public key
    assert found.detected and found.key_public
    assert not detect_watermark(marked, SR, key="other", public=False).detected
