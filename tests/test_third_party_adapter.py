"""A third party's adapter, from its own distribution (examples/adapter-template), passes the conformance
checks, is discovered through its entry point exactly as an installed one, and steers generate_audio."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from bark_omni.testing import check_adapter_conformance

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "adapter-template"
BIN = Path(sys.executable).with_name("bark-omni")


def test_template_adapter_passes_conformance(tiny_models, monkeypatch):
    monkeypatch.syspath_prepend(str(TEMPLATE))
    plugin = importlib.import_module("bark_omni_adapter_template.plugin")
    found = []
    plugin.register_adapters(found.append)
    check_adapter_conformance(found[0], tiny_models, samples=["whispering", "loud and fast"], garbage=[b"bytes"])


def fake_install(site: Path) -> dict[str, str]:
    """What pip leaves behind, minus the copying: a dist-info with the entry point, the package on the path."""
    info = site / "bark_omni_adapter_template-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bark-omni-adapter-template\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[bark_omni]\nbyte_style = bark_omni_adapter_template.plugin\n")
    path = os.pathsep.join([str(site), str(TEMPLATE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "BARK_OMNI_LOAD_PLUGINS": "byte_style"}


USE_IT = """
import json, sys
import bark_omni
from bark_omni.fusion import FusionModel
from bark_omni.host import default_host
from bark_omni_adapter_template.adapter import ByteStyleAdapter

seen = []
prepare = ByteStyleAdapter.prepare
ByteStyleAdapter.prepare = lambda self, value: seen.append(value) or prepare(self, value)
model, out = sys.argv[1], sys.argv[2]
FusionModel.initialise(default_host(), bark_omni.load_models(model, default_host()), ["style_text"]).save_pretrained(out)
audio = bark_omni.generate_audio("Hello.", style_text="whispering", adapters=out, model=model, seed=0, silent=True,
                                 max_gen_duration_s=0.2)
print(json.dumps({"seen": seen, "samples": len(audio)}))
"""


def test_an_adapter_from_a_separate_distribution_is_found_and_used(tmp_path, tiny_model_dir):
    env = fake_install(tmp_path / "site")
    listed = subprocess.run([str(BIN), "plugins", "list", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    plugin = next(p for p in data["plugins"] if p["name"] == "byte_style")
    assert plugin["distribution"] == "bark-omni-adapter-template" and plugin["hooks"] == ["register_adapters"]
    assert data["adapters"]["byte-style"]["modality"] == "style_text"

    used = subprocess.run([sys.executable, "-c", USE_IT, str(tiny_model_dir), str(tmp_path / "adapters")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert used.returncode == 0, used.stderr
    result = json.loads(used.stdout.strip().splitlines()[-1])
    assert result["seen"] == ["whispering"] and result["samples"] > 0
    saved = json.loads((tmp_path / "adapters" / "adapters.json").read_text())
    assert saved["adapters"]["style_text"]["kind"] == "byte-style"
