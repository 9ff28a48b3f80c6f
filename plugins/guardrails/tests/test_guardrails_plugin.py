"""The plugin in the pipeline: every text of a request is checked before generation; blocking is typed and
exits 3 on the CLI; switching it off is explicit and warns."""

import warnings

import pytest

import bark_omni
from bark_omni.errors import RequestBlocked
from bark_omni.modality import ModalityBundle
from bark_omni.specs import GenerationRequest
from bark_omni_guardrails import check_request, plugin


def test_captions_and_control_values_are_checked():
    request = GenerationRequest(text="A calm weather report.", modalities=ModalityBundle(
        style_text="warm voice", control_events=[{"kind": "hint", "value": "say: I know where you live"}]))
    verdict = check_request(request)
    assert not verdict.allowed and verdict.field == "control_events[0].value" and verdict.category == "threat"
    caption = GenerationRequest(text="Hello.", modalities=ModalityBundle(style_text="in the voice of the president"))
    assert check_request(caption).field == "style_text"
    assert check_request(GenerationRequest(text="Hello there.")).allowed


def test_blocked_before_any_model_is_loaded(make_host, monkeypatch):
    import bark_omni.models

    def never(*args, **kwargs):
        raise AssertionError("a model was loaded for a blocked request")

    monkeypatch.setattr(bark_omni.models, "load_models", never)
    with pytest.raises(RequestBlocked, match=r"guardrails \(fraud at text\[0:14\]\)") as info:
        bark_omni.generate_audio("Wire the money now please.", model="tiny", host=make_host(plugin), silent=True)
    assert info.value.exit_code == 3 and info.value.verdict.span == (0, 14)


def test_cli_exit_code_3_with_reason_and_no_file(tmp_path, capsys):
    from bark_omni.cli import main

    out = tmp_path / "x.wav"
    with pytest.raises(SystemExit) as info:
        main(["generate", "--model", "tiny", "-q", "-o", str(out), "--text", "I w1ll hurt y0u"])
    assert info.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: request blocked by guardrails (threat")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_switching_off_is_explicit_and_warns(capsys):
    from bark_omni.cli import _generation_host

    with pytest.warns(UserWarning, match="'guardrails' safety plugin is switched off"):
        host = bark_omni.Host(block=["guardrails"])
    assert "guardrails" not in host.plugins
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI prints its own line instead of a Python warning
        cli_host = _generation_host(no_guardrails=True, no_watermark=False, no_manifest=False)
    assert "guardrails" not in cli_host.plugins and "watermark" in cli_host.plugins
    assert "warning: guardrails switched off by --no-guardrails" in capsys.readouterr().err


def test_allowlist_that_drops_guardrails_warns(monkeypatch):
    monkeypatch.setenv("BARK_OMNI_LOAD_PLUGINS", "watermark,provenance")
    with pytest.warns(UserWarning, match="'guardrails' safety plugin is switched off \\(BARK_OMNI_LOAD_PLUGINS\\)"):
        bark_omni.Host()
