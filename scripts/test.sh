#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run lint, type
# checks and the whole test suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy tap_mx_audience mx_audience_emulator tests

.venv/bin/pytest "$@"
