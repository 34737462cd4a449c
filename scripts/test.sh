#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run lint, type
# checks and the whole test suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ./emulator -e '.[dev]'

# The Meltano end-to-end tests start a throwaway PostgreSQL cluster of their
# own; install the server only where it is missing.
if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
bash scripts/meltano-venv.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy tap_mx_audience emulator/mx_audience_emulator tests
.venv/bin/lint-imports

.venv/bin/pytest "$@"
