"""Typed generation options: frozen records, validated on construction, their defaults defined once."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

import bark_omni
from bark_omni import loop
from bark_omni.api import generate_audio, generate_batch
from bark_omni.errors import InvalidInputError
from bark_omni.options import (
    FLAT_NAMES,
    CoarseOptions,
    FineOptions,
    GenerationOptions,
    SemanticOptions,
    defaults_of,
)

STAGE_FUNCTIONS = [
    (loop.generate_semantic, SemanticOptions), (loop.generate_semantic_batch, SemanticOptions),
    (loop.generate_coarse, CoarseOptions), (loop.generate_coarse_batch, CoarseOptions),
    (loop.coarse_history, CoarseOptions),
    (loop.generate_fine, FineOptions), (loop.generate_fine_batch, FineOptions),
]


@pytest.mark.parametrize("function, record", STAGE_FUNCTIONS, ids=[f.__name__ for f, _ in STAGE_FUNCTIONS])
def test_loop_defaults_are_the_records_defaults(function, record):
    parameters = inspect.signature(function).parameters
    shared = [name for name in defaults_of(record) if name in parameters]
    assert shared, f"{function.__name__} takes none of {record.__name__}'s fields"
    for name in shared:
        assert parameters[name].default == defaults_of(record)[name], (function.__name__, name)


def test_entry_point_temperatures_default_to_the_records():
    for function in (generate_audio, generate_batch):
        parameters = inspect.signature(function).parameters
        assert parameters["text_temp"].default == SemanticOptions().temp
        assert parameters["waveform_temp"].default == CoarseOptions().temp


OPTION_NAMES = set(FLAT_NAMES) | {f.name for r in (SemanticOptions, CoarseOptions, FineOptions) for f in dataclasses.fields(r)}
CORE = Path(bark_omni.__file__).parent


@pytest.mark.parametrize("module", ["loop.py", "api.py", "cli.py"])
def test_no_literal_option_default_outside_options_py(module):
    """A generation option's default written as a literal in a signature (``temp=0.7``) would be a second copy."""
    tree = ast.parse((CORE / module).read_text(encoding="utf-8"))
    literals = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        positional = node.args.posonlyargs + node.args.args
        pairs = list(zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults))
        pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
        for arg, default in pairs:
            if isinstance(default, ast.Call) and default.args:  # typer.Option(DEFAULT, ...)
                default = default.args[0]
            if arg.arg in OPTION_NAMES and isinstance(default, ast.Constant) and default.value is not None:
                literals.append(f"{node.name}({arg.arg}={default.value!r})")
    assert literals == []


def test_flat_names_round_trip_and_reach_every_field():
    options = GenerationOptions.from_kwargs(text_temp=0.6, waveform_temp=0.8, top_k=50, top_p=0.9, min_eos_p=0.1,
                                            max_gen_duration_s=3.0, allow_early_stop=False, fine_temp=None,
                                            max_coarse_history=300, sliding_window_len=40)
    assert GenerationOptions.from_kwargs(**options.as_dict()) == options
    assert options.semantic == SemanticOptions(0.6, 50, 0.9, 0.1, 3.0, False)
    assert options.coarse == CoarseOptions(0.8, 50, 0.9, 300, 40)
    assert options.fine == FineOptions(None)
    covered = {(stage, name) for stage, name in FLAT_NAMES.values()}
    for stage, record in (("semantic", SemanticOptions), ("coarse", CoarseOptions), ("fine", FineOptions)):
        missing = {f.name for f in dataclasses.fields(record)} - {n for s, n in covered if s == stage}
        assert missing <= {"top_k", "top_p"}, (stage, missing)  # shared names set both stages


def test_records_are_frozen():
    options = GenerationOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.semantic.temp = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("build", [
    lambda: SemanticOptions(temp=float("inf")),
    lambda: CoarseOptions(sliding_window_len=0),
    lambda: CoarseOptions(max_coarse_history=630, sliding_window_len=139),
    lambda: FineOptions(temp="0.5"),
    lambda: GenerationOptions(semantic={"temp": 0.7}),
    lambda: GenerationOptions.from_kwargs(temperature=0.7),
])
def test_records_validate_in_their_constructor(build):
    with pytest.raises(InvalidInputError):
        build()


def test_loop_refuses_a_window_that_would_never_end(tiny_models):
    import numpy as np

    with pytest.raises(InvalidInputError, match="sliding_window_len"):
        loop.generate_coarse(tiny_models.coarse, np.arange(20), sliding_window_len=0)


def test_request_carries_typed_options():
    request = bark_omni.build_request("hi", options=GenerationOptions.from_kwargs(top_k=5))
    assert request.options.coarse.top_k == 5 and not hasattr(request, "params")
