#!/usr/bin/env bash
# Meltano in a venv of its own (.venv-meltano): its dependency pins conflict
# with the tap's dev venv. With its s3 extra (boto3), for the state backend on
# S3 that tests/meltano/test_production_runner.py uses, as a production runner
# would. Idempotent; scripts/test.sh and scripts/demo.sh use it.
set -euo pipefail
cd "$(dirname "$0")/.."

MELTANO_VERSION=4.4.1
if ! .venv-meltano/bin/meltano --version 2>/dev/null | grep -qx "meltano, version $MELTANO_VERSION" \
    || ! .venv-meltano/bin/python -c 'import boto3' 2>/dev/null; then
    python3 -m venv .venv-meltano
    .venv-meltano/bin/python -m pip install --quiet --upgrade pip
    .venv-meltano/bin/python -m pip install --quiet "meltano[s3]==$MELTANO_VERSION"
fi
