"""The pipeline marks every output itself, after every post-processor; dropping a safety plugin warns and is
recorded in the result (and so in the manifest)."""

import warnings

import numpy as np
import pytest

import bark_omni
from bark_omni_watermark import keys, plugin, scheme

SR = 24000


class SpeedUp:
    """A third-party post-processor that wraps outermost and plays the audio 10 % faster."""

    @bark_omni.hookimpl(wrapper=True, tryfirst=True)
    def postprocess_audio(self, audio, sample_rate, request):
        from scipy.signal import resample_poly

        out = yield
        self.request = request
        self.after = resample_poly(np.asarray(out, dtype=np.float64), 10, 11).astype(np.float32)
        return self.after


def test_no_postprocessor_can_change_the_audio_after_the_mark(make_host, tiny_model_dir):
    speed_up = SpeedUp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # guardrails/provenance are left out here on purpose
        host = make_host(plugin, speed_up)
    audio = bark_omni.generate_audio("hello there", model=tiny_model_dir, host=host, seed=3, silent=True,
                                     max_gen_duration_s=0.3)
    expected = scheme.embed(speed_up.after, SR, keys.signing_key().secret, plugin.payload_for(speed_up.request))
    np.testing.assert_array_equal(audio, expected.astype(np.float32))  # marked after the speed-up, not before
    assert not np.array_equal(audio, speed_up.after)


def test_the_pipeline_records_what_was_left_out(make_host, tiny_model_dir):
    with pytest.warns(UserWarning, match="'watermark' safety plugin is switched off \\(allow=\\)"):
        host = make_host()
    with pytest.warns(UserWarning, match="NOT watermarked"):
        _, result = _generate(host, tiny_model_dir)
    notes = " | ".join(result.safety_notes)
    assert "'watermark' safety plugin is switched off" in notes and "NOT watermarked" in notes
    assert "'guardrails' safety plugin is switched off" in notes and "no guardrail checked" in notes
    assert "watermark" not in result.extras


def test_a_full_host_has_no_safety_notes_and_marks_the_output(tiny_model_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        host = bark_omni.Host(strict=True)
        _, result = _generate(host, tiny_model_dir)
    assert result.safety_notes == []
    assert result.extras["watermark"]["watermarker"] == "patchwork" and not result.extras["watermark"]["key_public"]


@pytest.mark.parametrize("build", [
    lambda: bark_omni.Host(block=["guardrails"]),
    lambda: bark_omni.Host(allow=["encodec"]),
    lambda: bark_omni.Host([plugin], entry_points=False),
])
def test_every_way_of_dropping_a_safety_plugin_warns(build):
    with pytest.warns(UserWarning, match="safety plugin is switched off"):
        host = build()
    assert host.safety_notes


def test_public_key_generation_is_noted(make_host, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("BARK_OMNI_WATERMARK_PUBLIC_KEY", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        host = bark_omni.Host(strict=True)
        _, result = _generate(host, tiny_model_dir)
    assert result.extras["watermark"]["key_public"]
    assert any("PUBLIC demo key" in note for note in result.safety_notes)


class Capture:
    @bark_omni.hookimpl
    def generation_finished(self, request, result):
        self.result = result


def _generate(host, model_dir):
    capture = Capture()
    host.register(capture, name="capture")
    audio = bark_omni.generate_audio("hello there", model=model_dir, host=host, seed=3, silent=True,
                                     max_gen_duration_s=0.3)
    return audio, capture.result




def test_a_failing_watermarker_registration_fails_closed():
    from bark_omni.errors import BarkOmniError

    class Broken:
        @bark_omni.hookimpl
        def register_watermarkers(self, register):
            raise RuntimeError("boom")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        host = bark_omni.Host([plugin, Broken()], entry_points=False)
    with pytest.raises(BarkOmniError, match="register_watermarkers"):
        host.watermarker()  # not skipped with a warning: no output may go out unmarked because of it
