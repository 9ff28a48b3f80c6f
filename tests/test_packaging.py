"""Packaging as a user meets it: every distribution of the repository carries one version (VERSION), an SPDX
license and a bounded build backend; the core's extras name the built-in plugin sets; every wheel builds, and the
core wheel installs into a fresh virtual environment without any plugin and runs.

The build test is offline and bounded: wheels are built with the installed setuptools (no build isolation, no
index), and the fresh environment borrows the third-party dependencies already installed here instead of
downloading them (the bark-omni distributions installed here are left out of what it sees).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()
# The template is a third party's project to copy: versioned on its own, not released with bark-omni.
NOT_RELEASED = {"examples"}


def distribution_dirs() -> list[Path]:
    found = [ROOT] + sorted(p.parent for p in ROOT.glob("*/*/pyproject.toml")) + sorted(
        p.parent for p in ROOT.glob("*/pyproject.toml"))
    return [d for d in found if d == ROOT or d.relative_to(ROOT).parts[0] not in NOT_RELEASED | {".venv", "build"}]


def project_table(directory: Path) -> dict:
    with open(directory / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


DISTRIBUTIONS = {project_table(d)["project"]["name"]: d for d in distribution_dirs()}


def _id(directory: Path) -> str:
    return str(directory.relative_to(ROOT)) if directory != ROOT else "core"


@pytest.mark.parametrize("directory", distribution_dirs(), ids=_id)
def test_version_comes_from_the_one_VERSION_file(directory: Path) -> None:
    table = project_table(directory)
    assert "version" not in table["project"], "write the version in VERSION only"
    assert "version" in table["project"].get("dynamic", [])
    assert table["tool"]["setuptools"]["dynamic"]["version"] == {"file": "VERSION"}
    assert (directory / "VERSION").resolve() == (ROOT / "VERSION").resolve(), "VERSION must link to the root one"


@pytest.mark.parametrize("directory", distribution_dirs(), ids=_id)
def test_license_is_spdx_and_the_build_backend_is_bounded(directory: Path) -> None:
    table = project_table(directory)
    assert isinstance(table["project"].get("license"), str), "project.license must be an SPDX string"
    for name in table["project"].get("license-files", []):
        assert (directory / name).is_file(), f"{name} is missing in {_id(directory)}"
    backend = [Requirement(r) for r in table["build-system"]["requires"] if r.startswith("setuptools")]
    assert backend and any(s.operator in {"<", "<="} for s in backend[0].specifier), "bound setuptools from above"
    assert backend[0].specifier.contains("77"), "setuptools>=77 reads SPDX license strings"


def test_installed_distributions_report_the_one_version() -> None:
    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    assert "bark-omni" in versions
    stale = {n: v for n, v in versions.items() if v != VERSION}
    assert not stale, f"installed versions differ from VERSION {VERSION}: {stale} (run scripts/install.sh)"


def test_core_extras_name_the_built_in_distributions() -> None:
    extras = project_table(ROOT)["project"]["optional-dependencies"]
    for required in ("image", "audio", "mbd", "eval", "train", "all"):
        assert required in extras
    released = set(DISTRIBUTIONS) - {"bark-omni"}

    def expand(extra: str) -> set[str]:
        names = set()
        for line in extras[extra]:
            requirement = Requirement(line)
            if requirement.name == "bark-omni":
                names |= set().union(*(expand(e) for e in requirement.extras))
            else:
                assert requirement.name in released, f"extra [{extra}] names {requirement.name}, not built here"
                names.add(requirement.name)
        return names

    for extra in extras:
        if extra != "test":
            assert expand(extra), f"extra [{extra}] is empty"
    assert expand("all") == released, "[all] must install every built-in distribution"


def _copy_sources(destination: Path) -> Path:
    """The repository without environments and build output, so that builds never race in the working tree."""
    skip = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.wav", "runs", "out")
    shutil.copytree(ROOT, destination, symlinks=True, ignore=skip)
    return destination


def _run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args[:6]))} ... failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def _dependencies_without_bark_omni(destination: Path) -> Path:
    """A folder that shows every third-party package installed here, and none of bark-omni's distributions."""
    destination.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "bark_omni" in entry.name.lower() or entry.suffix == ".pth":
            continue
        (destination / entry.name).symlink_to(entry)
    return destination


@pytest.mark.packaging
def test_every_wheel_builds_and_the_core_installs_and_runs_alone(tmp_path: Path) -> None:
    sources = _copy_sources(tmp_path / "src")
    wheels = tmp_path / "wheels"
    directories = [sources / d.relative_to(ROOT) for d in DISTRIBUTIONS.values()]
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(wheels), *map(str, directories)], timeout=420)
    built = {}
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            text = archive.read(meta).decode()
            assert any(n.endswith("/licenses/LICENSE") for n in archive.namelist()), f"{wheel.name} lacks LICENSE"
        fields = dict(re.findall(r"^(Name|Version|License-Expression): (.+)$", text, flags=re.M))
        assert fields.get("Version") == VERSION and fields.get("License-Expression") == "MIT", wheel.name
        built[fields["Name"]] = wheel
    assert set(built) == set(DISTRIBUTIONS)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], 60).stdout.strip()
    Path(purelib, "third_party.pth").write_text(str(_dependencies_without_bark_omni(tmp_path / "deps")) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(built["bark-omni"])], timeout=180)

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BARK_OMNI_ALLOW_DOWNLOAD": "0"}
    env.pop("BARK_OMNI_LOAD_PLUGINS", None)
    cli = str(venv / "bin" / "bark-omni")
    seen = _run([str(python), "-c", "import bark_omni, importlib.metadata as m; print(bark_omni.__file__); "
                 "print(sorted(d.metadata['Name'] for d in m.distributions() if 'bark' in d.metadata['Name']))"],
                timeout=120, env=env, cwd=tmp_path).stdout.splitlines()
    assert seen[0].startswith(str(venv)), "the core must come from the fresh environment"
    assert "bark-omni-" not in seen[1], f"a plugin is visible: {seen[1]}"
    assert "generate" in _run([cli, "--help"], timeout=120, env=env, cwd=tmp_path).stdout
    _run([cli, "generate", "--model", "tiny", "--text", "hi", "--seed", "0", "--max-duration", "0.5", "-q", "-o",
          "x.wav"], timeout=300, env=env, cwd=tmp_path)
    assert (tmp_path / "x.wav").stat().st_size > 44
