#!/usr/bin/env bash
# Create .venv at the repository root (if missing) and install every distribution of the repository into it,
# editable, against the tested constraints. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/pip install -q -c constraints.txt -r requirements/local.txt

# --- bark-omni-mbd (plugins/mbd): audiocraft for the MultiBandDiffusion decoder -----------------------------------
# audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23, av==11 and more, which conflict with the
# tested stack above, so it is installed WITHOUT its dependencies, then the modules it really imports are installed
# against constraints.txt (which holds torch where it is). The xformers wheel is built for another torch; audiocraft
# only needs it importable (MBD never calls its kernels). Skipped when audiocraft's MBD already imports.
if ! .venv/bin/python -c "import audiocraft.models.multibanddiffusion" >/dev/null 2>&1; then
    .venv/bin/pip install -q --no-deps -c constraints.txt audiocraft==1.3.0 xformers==0.0.35
    .venv/bin/pip install -q -c constraints.txt julius flashy "omegaconf<2.4" hydra-core hydra_colorlog num2words \
        "antlr4-python3-runtime==4.9.3" spacy librosa dora-search torchmetrics colorlog av soundfile
fi

# --- bark-omni-eval (eval/): espeak-ng speaks the known sentences the metrics are validated on --------------------
# (WER, speaker similarity, FAD references). Installed from Debian only when missing; quiet and idempotent.
if ! command -v espeak-ng >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
    else
        echo "install.sh: espeak-ng is missing and apt-get is not available; eval tests needing it will skip" >&2
    fi
fi
