"""Plugin fault isolation: a hook implementation that raises is reported naming the plugin and the hook; observers
and registrations that fail are skipped with a warning; guardrails and post-processing that fail refuse the
generation (no unguarded or unfinished audio comes back)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import bark_omni
from bark_omni.errors import BarkOmniError, InvalidInputError, PluginHookError, PluginWarning
from bark_omni.host import Host
from bark_omni.specs import DecoderSpec, GenerationRequest, GenerationResult, Verdict

FAILURE = "kaput"


def _decoder(name):
    return DecoderSpec(name=name, sample_rate=16_000, latency="realtime", bitrate_kbps=0.0,
                       load=lambda models, options: (lambda fine: np.zeros(4, np.float32)))


class Boom:
    """A plugin whose every hook raises (after registering something, to check nothing half-lands)."""

    def __init__(self, *hooks):
        self.hooks = set(hooks)

    def _maybe_fail(self, hook):
        if hook in self.hooks:
            raise RuntimeError(FAILURE + " " + "x" * 400 + " tail that must not be pasted")


class FailingRegistration(Boom):
    @bark_omni.hookimpl
    def register_decoders(self, register):
        register(_decoder("half"))
        self._maybe_fail("register_decoders")


class GoodDecoder:
    @bark_omni.hookimpl
    def register_decoders(self, register):
        register(_decoder("good"))


class FailingObserver(Boom):
    @bark_omni.hookimpl
    def generation_finished(self, request, result):
        self._maybe_fail("generation_finished")

    @bark_omni.hookimpl
    def audio_written(self, path, request, result):
        self._maybe_fail("audio_written")


class FailingGuardrail(Boom):
    @bark_omni.hookimpl
    def check_request(self, request):
        self._maybe_fail("check_request")
        return Verdict(allowed=True)


class FailingPostprocessor(Boom):
    @bark_omni.hookimpl(wrapper=True)
    def postprocess_audio(self, audio, sample_rate, request):
        audio = yield
        self._maybe_fail("postprocess_audio")
        return audio * 0.5


class Identity:
    @bark_omni.hookimpl(trylast=True)
    def postprocess_audio(self, audio, sample_rate, request):
        return audio


class DeliberateError:
    @bark_omni.hookimpl
    def check_request(self, request):
        raise InvalidInputError("set FOO to a number")


def _host(*plugins):
    return Host(list(plugins), entry_points=False)


def _names(host, hook_name):
    return {impl.plugin_name for impl in getattr(host.pm.hook, hook_name).get_hookimpls()}


def _result():
    return GenerationResult(semantic=np.zeros(2, np.int64), coarse=np.zeros((2, 2), np.int64),
                            fine=np.zeros((8, 2), np.int64), audio=np.ones(8, np.float32), sample_rate=16_000)


def _assert_one_line(message, plugin, hook):
    assert f"'{plugin}'" in message and hook in message and FAILURE in message
    assert "\n" not in message and "tail that must not" not in message and len(message) <= 220


def test_failing_registration_skips_only_that_plugins_contributions():
    host = _host(FailingRegistration("register_decoders"), GoodDecoder())
    with pytest.warns(PluginWarning) as caught:
        decoders = host.decoders
    assert "good" in decoders and "half" not in decoders  # nothing of the failing plugin half-lands
    _assert_one_line(str(caught[0].message), "FailingRegistration", "register_decoders")
    assert "decoders are skipped" in str(caught[0].message)


def test_failing_registration_is_an_error_on_a_strict_host_and_for_essential_plugins():
    with pytest.raises(PluginHookError) as info:
        Host([FailingRegistration("register_decoders")], entry_points=False, strict=True).decoders
    assert info.value.plugin == "FailingRegistration" and info.value.hook == "register_decoders"
    assert isinstance(info.value.__cause__, RuntimeError)
    host = _host(FailingRegistration("register_decoders"))
    host.plugins["FailingRegistration"].essential = True
    with pytest.raises(PluginHookError, match="register_decoders"):
        host.decoders


def test_working_registration_still_registers_everything():
    host = _host(FailingRegistration(), GoodDecoder())
    assert {"half", "good"} <= set(host.decoders)


@pytest.mark.parametrize("hook", ["generation_finished", "audio_written"])
def test_failing_observer_warns_and_the_call_goes_on(hook, tmp_path):
    seen = []

    class Witness:
        @bark_omni.hookimpl
        def generation_finished(self, request, result):
            seen.append("finished")

        @bark_omni.hookimpl
        def audio_written(self, path, request, result):
            seen.append("written")

    host = _host(FailingObserver(hook), Witness())
    request = GenerationRequest(text="hi")
    with pytest.warns(PluginWarning) as caught:
        if hook == "generation_finished":
            host.pm.hook.generation_finished(request=request, result=_result())
        else:
            host.pm.hook.audio_written(path=tmp_path / "x.wav", request=request, result=_result())
    assert seen  # the other observer still ran
    _assert_one_line(str(caught[0].message), "FailingObserver", hook)


def test_failing_guardrail_fails_closed_with_a_typed_one_line_error(caplog):
    import logging

    from bark_omni.api import check_request

    host = _host(FailingGuardrail("check_request"))
    caplog.set_level(logging.DEBUG, logger="bark_omni.host")
    with pytest.raises(PluginHookError) as info:
        check_request(host, GenerationRequest(text="hi"))
    logged = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert logged and "check_request" in logged[0].getMessage()  # the traceback is kept at debug level
    _assert_one_line(str(info.value), "FailingGuardrail", "check_request")
    assert "nothing was generated" in str(info.value) and isinstance(info.value.__cause__, RuntimeError)
    assert isinstance(info.value, BarkOmniError)


def test_deliberate_typed_error_of_a_plugin_passes_unchanged():
    from bark_omni.api import check_request

    with pytest.raises(InvalidInputError, match="set FOO to a number"):
        check_request(_host(DeliberateError()), GenerationRequest(text="hi"))


def test_failing_postprocessor_returns_no_audio():
    host = _host(FailingPostprocessor("postprocess_audio"), Identity())
    with pytest.raises(PluginHookError) as info:
        host.pm.hook.postprocess_audio(audio=np.ones(4, np.float32), sample_rate=16_000, request=None)
    _assert_one_line(str(info.value), "FailingPostprocessor", "postprocess_audio")
    assert info.value.hook == "postprocess_audio"


def test_inner_failure_is_named_once_through_a_wrapper():
    class FailingInner:
        @bark_omni.hookimpl(trylast=True)
        def postprocess_audio(self, audio, sample_rate, request):
            raise ValueError(FAILURE)

    host = _host(FailingPostprocessor(), FailingInner())
    with pytest.raises(PluginHookError) as info:
        host.pm.hook.postprocess_audio(audio=np.ones(4, np.float32), sample_rate=16_000, request=None)
    assert info.value.plugin == "FailingInner"  # not blamed on the wrapper it passed through


def test_working_wrapper_chain_is_unchanged():
    host = _host(FailingPostprocessor(), Identity())
    out = host.pm.hook.postprocess_audio(audio=np.ones(4, np.float32), sample_rate=16_000, request=None)
    np.testing.assert_array_equal(out, np.full(4, 0.5, np.float32))


FAILING_COMMANDS_PLUGIN = """
import bark_omni, typer

class Failing:
    @bark_omni.hookimpl
    def register_commands(self, app):
        @app.command("half-added")
        def half_added() -> None:
            pass
        raise RuntimeError("kaput")

class Working:
    @bark_omni.hookimpl
    def register_commands(self, app):
        @app.command("still-here")
        def still_here() -> None:
            print("still here")
"""


def test_failing_register_commands_disables_only_its_commands(tmp_path):
    (tmp_path / "fault_plugins.py").write_text(FAILING_COMMANDS_PLUGIN)
    code = ("import sys, fault_plugins\nfrom bark_omni import cli, host\n"
            "host._default_host = host.Host([fault_plugins.Failing(), fault_plugins.Working()], entry_points=False)\n"
            "cli.main(sys.argv[1:])\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def run(*args):
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              timeout=120)

    helped = run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "still-here" in helped.stdout and "half-added" not in helped.stdout
    warning = [line for line in helped.stderr.splitlines() if "register_commands" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: plugin 'Failing'") and "Traceback" not in helped.stderr
    ran = run("still-here")
    assert ran.returncode == 0 and "still here" in ran.stdout


def test_plugin_commands_are_not_added_twice_by_repeated_main(monkeypatch, capsys):
    from bark_omni import cli, host as host_module

    calls = []

    class Counting:
        @bark_omni.hookimpl
        def register_commands(self, app):
            calls.append(app)

            @app.command("counted")
            def counted() -> None:
                pass

    monkeypatch.setattr(host_module, "_default_host", Host([Counting()], entry_points=False))
    before = len(cli.app.registered_commands)
    for _ in range(2):
        with pytest.raises(SystemExit):
            cli.main(["--help"])
        assert capsys.readouterr().out.count("counted") == 1
    assert len(calls) == 1 and len(cli.app.registered_commands) == before  # once per host, never into `app`


class FailingWatermarker:
    @bark_omni.hookimpl
    def register_watermarkers(self, register):
        from bark_omni.specs import WatermarkerSpec

        def apply(audio, sample_rate, request):
            raise RuntimeError(FAILURE)

        register(WatermarkerSpec(name="broken-mark", apply=apply, priority=100))


def test_failing_watermarker_returns_no_unmarked_audio(tiny_model_dir):
    from bark_omni.api import build_request, run
    from bark_omni.options import GenerationOptions

    with pytest.warns(UserWarning):  # the other safety plugins are left out of this host
        host = Host([FailingWatermarker()], allow=set())
    request = build_request("Hi.", options=GenerationOptions.from_kwargs(max_gen_duration_s=0.2), seed=1,
                            model=str(tiny_model_dir))
    with pytest.raises(PluginHookError) as info:
        run(request, host=host)
    message = str(info.value)
    assert "'FailingWatermarker'" in message and "broken-mark" in message and "no unmarked audio" in message
    assert "\n" not in message and len(message) <= 200


def test_cli_with_a_failing_guardrail_exits_with_one_line_and_no_file(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from bark_omni import cli, host as host_module

    with pytest.warns(UserWarning):
        host = Host([FailingGuardrail("check_request")], allow=set())
    monkeypatch.setattr(host_module, "_default_host", host)
    out = tmp_path / "x.wav"
    with pytest.raises(SystemExit) as info:
        cli.main(["generate", "--model", str(tiny_model_dir), "--text", "Hi.", "-q", "-o", str(out)])
    errors = capsys.readouterr().err
    assert info.value.code == PluginHookError.exit_code != 0
    assert errors.count("\n") == 1 and errors.startswith("error: plugin 'FailingGuardrail' failed in check_request")
    assert list(tmp_path.iterdir()) == []
