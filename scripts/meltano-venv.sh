#!/usr/bin/env bash
# Meltano in a venv of its own (.venv-meltano): its dependency pins conflict
# with the tap's dev venv. Idempotent; scripts/test.sh and scripts/demo.sh use it.
set -euo pipefail
cd "$(dirname "$0")/.."

MELTANO_VERSION=4.4.1
if ! .venv-meltano/bin/meltano --version 2>/dev/null | grep -qx "meltano, version $MELTANO_VERSION"; then
    python3 -m venv .venv-meltano
    .venv-meltano/bin/python -m pip install --quiet --upgrade pip
    .venv-meltano/bin/python -m pip install --quiet "meltano==$MELTANO_VERSION"
fi
