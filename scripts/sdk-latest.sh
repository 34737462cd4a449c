#!/usr/bin/env bash
# Run the fast test suite against the newest singer-sdk 0.x on PyPI, in a
# throwaway venv, so that an SDK release that breaks the tap is seen before
# users see it. Not run by CI (.ci/run): its result depends on the day.
#
#   bash scripts/sdk-latest.sh            # extra arguments go to pytest
#
# The exit status is pytest's; the last line names the version tested.
set -euo pipefail
cd "$(dirname "$0")/.."

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
python3 -m venv "$workdir/venv"
python="$workdir/venv/bin/python"
"$python" -m pip install --quiet --upgrade pip

# pyproject pins singer-sdk to one minor version: install the tap without its
# dependencies, then its runtime and dev dependencies with that pin lifted.
mapfile -t requirements < <(python3 - <<'PY'
import re
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
    name = re.match(r"[A-Za-z0-9_.-]+(\[[^\]]*\])?", spec).group(0)
    print(f"{name}<1" if name.split("[")[0] == "singer-sdk" else spec)
PY
)
"$python" -m pip install --quiet --no-deps -e .
"$python" -m pip install --quiet --upgrade "${requirements[@]}"
version="$("$python" -c 'from importlib.metadata import version; print(version("singer-sdk"))')"
echo "singer-sdk $version: running the fast suite" >&2

status=0
"$workdir/venv/bin/pytest" -q -m "not meltano" -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 0 ]; then
    echo "singer-sdk $version: the fast suite passed"
else
    echo "singer-sdk $version: the fast suite FAILED (pytest exit $status)"
fi
exit "$status"
