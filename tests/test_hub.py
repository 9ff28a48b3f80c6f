"""Adapter sets as shared artefacts: a hub id resolves through huggingface_hub's own cache functions (a fake cache
laid out as huggingface_hub lays it out: blobs, snapshots/<sha>, refs/main), offline flags are honoured, the
model card carries the base fingerprint, modalities and training figures, and ``push_to_hub`` uploads through
``HfApi`` (a fake that records the calls: no test touches the network)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bark_omni
from bark_omni.errors import BarkOmniError, InvalidInputError, ModelNotFoundError
from bark_omni.fusion import Adapter, FusionModel
from bark_omni.specs import AdapterSpec

REPO = "someone/whisper-adapters"


class VectorAdapter(Adapter):
    modality, kind, version = "image", "toy-vector", "1"

    def __init__(self, d_ctx, config=None):
        super().__init__(d_ctx, config)
        self.proj = nn.Linear(8, 2 * d_ctx)

    def prepare(self, value):
        return torch.as_tensor(np.asarray(value, dtype=np.float32).reshape(8))

    def forward(self, prepared):
        x = torch.stack(list(prepared)).to(self.proj.weight.device)
        return self.proj(x).view(len(prepared), 2, self.d_ctx), torch.ones(len(prepared), 2, dtype=torch.bool)


class ToyPlugin:
    @bark_omni.hookimpl
    def register_adapters(self, register):
        register(AdapterSpec(name="toy-vector", modality="image",
                             build=lambda models, d_ctx, config: VectorAdapter(d_ctx, config)))


@pytest.fixture(scope="module")
def toy_host():
    return bark_omni.Host([ToyPlugin()], strict=True)


def add_snapshot(cache: Path, repo_id: str, folder: Path, sha: str, main: bool = True) -> Path:
    """Put ``folder``'s files into ``cache`` the way huggingface_hub does: content in blobs/<hash>, relative
    symlinks in snapshots/<sha>/, the branch's commit in refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / sha
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    if main:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(sha)
    return snapshot


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache that huggingface_hub uses as its default (what HF_HOME/hub is at import)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_fake_cache_is_what_huggingface_hub_reads(toy_host, tiny_models, tmp_path, hub_cache):
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache

    FusionModel.initialise(toy_host, tiny_models, ["image"]).save_pretrained(tmp_path / "set")
    snapshot = add_snapshot(hub_cache, REPO, tmp_path / "set", "a" * 40)
    info = scan_cache_dir(hub_cache)
    assert not info.warnings and [r.repo_id for r in info.repos] == [REPO]
    assert [r.commit_hash for r in next(iter(info.repos)).revisions] == ["a" * 40]
    assert try_to_load_from_cache(REPO, "adapters.json") == str(snapshot / "adapters.json")


def test_hub_id_loads_the_snapshot_refs_main_names(toy_host, tiny_models, tmp_path, hub_cache):
    for seed, sha, main in ((1, "1" * 40, False), (3, "3" * 40, True)):
        FusionModel.initialise(toy_host, tiny_models, ["image"], seed=seed).save_pretrained(tmp_path / str(seed))
        add_snapshot(hub_cache, REPO, tmp_path / str(seed), sha, main=main)
    loaded = FusionModel.from_pretrained(REPO, toy_host, tiny_models)
    expected = FusionModel.initialise(toy_host, tiny_models, ["image"], seed=3).state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, expected[key]), key
    pinned = FusionModel.from_pretrained(REPO, toy_host, tiny_models, revision="1" * 40)
    assert not torch.equal(pinned.adapters["image"].proj.weight, loaded.adapters["image"].proj.weight)


def test_generate_takes_a_hub_id(toy_host, tiny_models, tmp_path, hub_cache):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"], seed=2)
    with torch.no_grad():  # open the gates so the adapters visibly steer the tokens
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(3.0)
            layer.out.weight.mul_(200)
    model.save_pretrained(tmp_path / "set")
    add_snapshot(hub_cache, REPO, tmp_path / "set", "b" * 40)
    kwargs = dict(model=tiny_models.source, seed=2, silent=True, max_gen_duration_s=0.4, host=toy_host,
                  output_full=True, image=np.ones(8))
    by_id, _ = bark_omni.generate_audio("From the hub.", adapters=REPO, **kwargs)
    by_folder, _ = bark_omni.generate_audio("From the hub.", adapters=tmp_path / "set", **kwargs)
    np.testing.assert_array_equal(by_id["semantic_prompt"], by_folder["semantic_prompt"])


def test_absent_offline_is_one_typed_line(toy_host, tiny_models, hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as caught:
        FusionModel.from_pretrained("nobody/nothing", toy_host, tiny_models)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 200 and "not in the Hugging Face cache" in message
    with pytest.raises(ModelNotFoundError, match="downloads are off"):
        bark_omni.generate_audio("Hi.", model=tiny_models.source, image=np.ones(8), adapters="nobody/nothing",
                                 host=toy_host, silent=True)


@pytest.mark.parametrize("flag", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BARK_OMNI_OFFLINE"])
def test_each_offline_flag_reads_the_cache_only(flag, monkeypatch, tmp_path):
    import huggingface_hub

    from bark_omni.hub import resolve_adapters

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, **kw: calls.append(kw) or str(tmp_path))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BARK_OMNI_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_adapters(REPO) == tmp_path and calls[-1]["local_files_only"] is False
    monkeypatch.setenv(flag, "1")
    resolve_adapters(REPO)
    assert calls[-1]["local_files_only"] is True
    assert set(calls[-1]["allow_patterns"]) == {"adapters.json", "adapters.safetensors", "README.md", "training.json"}


def test_hf_home_is_honoured_in_a_fresh_process(toy_host, tiny_models, tmp_path):
    FusionModel.initialise(toy_host, tiny_models, ["image"]).save_pretrained(tmp_path / "set")
    snapshot = add_snapshot(tmp_path / "home" / "hub", REPO, tmp_path / "set", "c" * 40)
    code = "import sys; from bark_omni.hub import resolve_adapters; print(resolve_adapters(sys.argv[1]))"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")}
    env.update(HF_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", code, REPO], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()) == snapshot


def test_an_existing_folder_wins_over_a_hub_id(tmp_path, monkeypatch):
    from bark_omni.hub import is_hub_id, resolve_adapters

    monkeypatch.chdir(tmp_path)
    assert is_hub_id(REPO) and not is_hub_id("./x/y") and not is_hub_id("a/b/c") and not is_hub_id("../up")
    (tmp_path / REPO).mkdir(parents=True)
    assert not is_hub_id(REPO) and resolve_adapters(REPO) == Path(REPO)


def front_matter(card: Path) -> dict:
    from huggingface_hub import metadata_load

    return metadata_load(card)


def test_model_card_has_base_modalities_and_training_figures(toy_host, tiny_models, tmp_path):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"])
    record = {"output": "/runs/x", "steps": 40, "world_size": 2, "device": "cpu", "train_seconds": 12.5,
              "validation": {"loss_semantic": 3.25, "routing": {"image": 0.4}}, "note": "text is left out"}
    model.save_pretrained(tmp_path, training=record)
    meta = front_matter(tmp_path / "README.md")
    assert meta["library_name"] == "bark-omni"
    assert meta["base_model_fingerprint"] == tiny_models.fingerprint and meta["modalities"] == ["image"]
    assert meta["training"] == {"steps": 40, "world_size": 2, "train_seconds": 12.5,
                                "validation.loss_semantic": 3.25, "validation.routing.image": 0.4}
    assert json.loads((tmp_path / "training.json").read_text())["steps"] == 40
    assert "| validation.loss_semantic | 3.25 |" in (tmp_path / "README.md").read_text()
    model.save_pretrained(tmp_path)  # new weights, no record: the old figures must not describe them
    assert not (tmp_path / "training.json").exists() and "training" not in front_matter(tmp_path / "README.md")


class FakeHfApi:
    """Records what an upload would send; keeps a copy of each uploaded file (the folder may be temporary)."""

    calls: list = []

    def __init__(self, token=None, **kwargs):
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        from huggingface_hub.utils import filter_repo_objects

        names = sorted(p.name for p in Path(folder_path).iterdir())
        sent = {n: (Path(folder_path) / n).read_bytes() for n in filter_repo_objects(names, allow_patterns=kwargs.get("allow_patterns"))}
        self.calls.append(("upload_folder", {"repo_id": repo_id, "files": sent, **kwargs}))
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/0123"})()


@pytest.fixture
def fake_api(monkeypatch):
    import huggingface_hub

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BARK_OMNI_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    FakeHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    return FakeHfApi


def test_push_to_hub_uploads_weights_config_and_card(toy_host, tiny_models, fake_api):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"], seed=5)
    url = model.push_to_hub(REPO, token="hf_test", private=True, training={"steps": 7})
    assert url == f"https://huggingface.co/{REPO}/commit/0123"
    kinds = [kind for kind, _ in fake_api.calls]
    assert kinds == ["init", "create_repo", "upload_folder"] and fake_api.calls[0][1]["token"] == "hf_test"
    assert fake_api.calls[1][1] == {"repo_id": REPO, "private": True, "exist_ok": True, "repo_type": "model"}
    upload = fake_api.calls[2][1]
    assert upload["repo_id"] == REPO and upload["repo_type"] == "model"
    assert set(upload["files"]) == {"adapters.json", "adapters.safetensors", "README.md", "training.json"}
    card = upload["files"]["README.md"].decode()
    assert card.startswith("---\nlibrary_name: bark-omni\n") and tiny_models.fingerprint in card
    from safetensors.torch import load

    sent = load(upload["files"]["adapters.safetensors"])
    assert torch.equal(sent["adapters.image.proj.weight"], model.state_dict()["adapters.image.proj.weight"])


def test_cli_push_writes_a_missing_card_and_refuses_offline(toy_host, tiny_models, tmp_path, fake_api, monkeypatch):
    from typer.testing import CliRunner

    from bark_omni.cli import app
    from bark_omni.hub import push_adapters

    FusionModel.initialise(toy_host, tiny_models, ["image"]).save_pretrained(tmp_path / "set")
    (tmp_path / "set" / "README.md").unlink()
    result = CliRunner().invoke(app, ["adapters", "push", str(tmp_path / "set"), REPO])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("/commit/0123")
    assert (tmp_path / "set" / "README.md").is_file() and fake_api.calls[1][1]["private"] is False
    with pytest.raises(InvalidInputError, match="not of the form org/name"):
        push_adapters(tmp_path / "set", "no-slash")
    with pytest.raises(BarkOmniError, match="holds no adapters"):
        push_adapters(tmp_path, REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match="uploads are off"):
        push_adapters(tmp_path / "set", REPO)
