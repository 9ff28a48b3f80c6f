#!/usr/bin/env bash
# Create .venv at the repository root (if missing) and install every distribution of the repository into it,
# editable, against the tested constraints. Safe to run again: it only installs what is missing. Runs as any user:
# system tools are optional, reported with the command that installs them, and never fail the install.
#   PYTHON=python3.12 bash scripts/install.sh     # the interpreter for a new .venv (default: python3)
#   BARK_OMNI_SYSTEM_TOOLS=0                      # as root, do not apt-get the optional tools either
set -euo pipefail
cd "$(dirname "$0")/.."
# pip repeats one warning per package when a machine's pip configuration names index folders that hold only some
# packages ("Location ... is ignored: it is neither a file nor a directory"); those lines are dropped, the rest kept.
pip() { .venv/bin/pip "$@" 2> >(sed '/is ignored: it is neither a file nor a directory/d' >&2); }
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
    pip install -q --upgrade pip
fi
# The build backend first (bounded in constraints.txt), so the editable installs below build with it, offline,
# without an isolated build environment per distribution.
pip install -q -c constraints.txt setuptools
# setuptools says "Editable installation. Please be careful with folders ... the same name as your package" once
# per editable distribution (a notice, not a problem: each package folder IS the package); it is filtered here.
PYTHONWARNINGS="ignore:Editable installation" \
    pip install -q --no-build-isolation -c constraints.txt -r requirements/local.txt

# --- bark-omni-mbd (plugins/mbd): audiocraft for the MultiBandDiffusion decoder -----------------------------------
# audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23, av==11 and more, which conflict with the
# tested stack above, so it is installed WITHOUT its dependencies, then the modules it really imports are installed
# against constraints.txt (which holds torch where it is). The xformers wheel is built for another torch; audiocraft
# only needs it importable (MBD never calls its kernels). Skipped when audiocraft's MBD already imports.
if ! .venv/bin/python -c "import audiocraft.models.multibanddiffusion" >/dev/null 2>&1; then
    pip install -q --no-deps -c constraints.txt audiocraft==1.3.0 xformers==0.0.35
    pip install -q --no-warn-conflicts -c constraints.txt julius flashy "omegaconf<2.4" hydra-core hydra_colorlog num2words \
        "antlr4-python3-runtime==4.9.3" spacy librosa dora-search torchmetrics colorlog av soundfile
fi

# --- optional system tools ---------------------------------------------------------------------------------------
# Nothing in bark-omni needs them to run; the tests that do skip with the reason. As root with apt-get (CI, a
# container) they are installed quietly; otherwise each missing one is named with the command that installs it.
#   espeak-ng: bark-omni-eval speaks the known sentences its metrics are validated on
#   ffmpeg:    compressed formats (mp3, opus, aac) when serving or converting audio
#   chromium:  the browser test of the web studio
have_tool() { case "$1" in chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ;;
                           *) command -v "$1" >/dev/null 2>&1 ;; esac; }
debian_packages() { case "$1" in chromium) echo "chromium chromium-driver" ;; *) echo "$1" ;; esac; }
missing=()
for tool in espeak-ng ffmpeg chromium; do have_tool "$tool" || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && [ "${BARK_OMNI_SYSTEM_TOOLS:-1}" != 0 ] \
        && command -v apt-get >/dev/null 2>&1; then
    packages=$(for tool in "${missing[@]}"; do debian_packages "$tool"; done | tr '\n' ' ')
    # shellcheck disable=SC2086  # word splitting of the package list is wanted
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages; } \
        >/dev/null 2>&1 || true
    still=(); for tool in "${missing[@]}"; do have_tool "$tool" || still+=("$tool"); done; missing=("${still[@]+"${still[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then get="sudo apt-get install -y"
    elif command -v dnf >/dev/null 2>&1; then get="sudo dnf install -y"
    elif command -v brew >/dev/null 2>&1; then get="brew install"
    else get="install with your system's package manager:"; fi
    echo "install.sh: done; optional tools missing (tests that need them will skip):" >&2
    for tool in "${missing[@]}"; do
        pkgs=$(debian_packages "$tool"); [ "$get" = "brew install" ] && pkgs=$tool
        echo "  $tool: $get $pkgs" >&2
    done
fi
