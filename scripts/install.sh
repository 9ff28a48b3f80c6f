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
