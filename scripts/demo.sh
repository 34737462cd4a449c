#!/usr/bin/env bash
# The demo: with no credentials and no outside service, start the bundled MX API
# emulator, `meltano run` the tap into DuckDB, print a summary, stop everything.
# Re-running it starts over (fresh state and database) but reuses the installs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
demo="$root/.demo"

echo "==> Setting up (.venv for the emulator, .venv-meltano for Meltano)"
if ! .venv/bin/python -c 'import mx_audience_emulator' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ./emulator
fi
bash scripts/meltano-venv.sh

rm -rf "$demo/data" "$demo/meltano/meltano.db"
mkdir -p "$demo/data" "$demo/meltano"
export MELTANO_SYS_DIR_ROOT="$demo/meltano"
export MELTANO_ENVIRONMENT=dev
export MELTANO_DISABLE_TRACKING=true
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
export TARGET_DUCKDB_FILEPATH="$demo/data/demo.duckdb"

port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "==> Starting the MX API emulator (default config) on 127.0.0.1:$port"
.venv/bin/mx-audience-emulator --port "$port" >"$demo/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$demo/emulator.log" && break
    kill -0 "$emulator_pid" 2>/dev/null || { cat "$demo/emulator.log"; exit 1; }
    sleep 0.1
done
grep -q "listening on" "$demo/emulator.log" || { echo "emulator did not start" >&2; exit 1; }
export TAP_MX_AUDIENCE_API_URL="http://127.0.0.1:$port"

echo "==> meltano install (tap-mx-audience, target-duckdb)"
.venv-meltano/bin/meltano install tap-mx-audience target-duckdb >"$demo/install.log" 2>&1 \
    || { tail -n 30 "$demo/install.log"; exit 1; }

export TAP_MX_AUDIENCE_SNAPSHOT_STORE="$demo/data/snapshots"   # changes mode
duckdb_python="$demo/meltano/loaders/target-duckdb/venv/bin/python"

run() {
    .venv-meltano/bin/meltano run tap-mx-audience target-duckdb >"$demo/run$1.log" 2>&1 \
        || { tail -n 30 "$demo/run$1.log"; exit 1; }
    grep -o 'Run summary: .*' "$demo/run$1.log" | sed 's/^/    /'
}

change_churn_risk() {  # the emulator's admin API: card_churn_risk's window and date
    curl -fsS -X PATCH "$TAP_MX_AUDIENCE_API_URL/_emulator/audiences/aud_0003" \
        -H 'Content-Type: application/json' -d "$1" >/dev/null
}

echo "==> Day 1: meltano run tap-mx-audience target-duckdb (first delivery: every member, one stint each)"
run 1
"$duckdb_python" scripts/demo_report.py "$TARGET_DUCKDB_FILEPATH"

echo
echo "==> The list of card_churn_risk changes: 10 members leave, 15 join, a new date"
change_churn_risk '{"offset": 10, "size": 80, "updated_on": "2026-11-28"}'

echo "==> Day 2: the same command sends only the 25 changes (10 stints close, 15 open)"
run 2
"$duckdb_python" scripts/demo_report.py "$TARGET_DUCKDB_FILEPATH"

echo
echo "==> One of the 10 comes back to card_churn_risk"
change_churn_risk '{"offset": 9, "size": 81, "updated_on": "2026-11-29"}'

echo "==> Day 3: one member row and one new stint"
run 3
"$duckdb_python" scripts/demo_report.py "$TARGET_DUCKDB_FILEPATH" card_churn_risk

echo
echo "==> Done in ${SECONDS}s. The data is in $TARGET_DUCKDB_FILEPATH"
echo "    (schema tap_mx_audience; the log in $TAP_MX_AUDIENCE_SNAPSHOT_STORE; logs in $demo/*.log)"
