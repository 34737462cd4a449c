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

echo "==> meltano run tap-mx-audience target-duckdb"
.venv-meltano/bin/meltano run tap-mx-audience target-duckdb >"$demo/run.log" 2>&1 \
    || { tail -n 30 "$demo/run.log"; exit 1; }

echo "==> Done in ${SECONDS}s. The data is in $TARGET_DUCKDB_FILEPATH"
echo "    (schema tap_mx_audience; logs in $demo/*.log)"
"$demo/meltano/loaders/target-duckdb/venv/bin/python" - "$TARGET_DUCKDB_FILEPATH" <<'PY'
import sys

import duckdb

connection = duckdb.connect(sys.argv[1], read_only=True)
rows = connection.execute(
    """
    SELECT a.audience_id, a.id_or_slug, a.updated_on, count(m.member_id)
    FROM tap_mx_audience.audiences AS a
    LEFT JOIN tap_mx_audience.audience_members AS m
      ON m.id_or_slug = a.id_or_slug
     AND m.institution_public_id = a.institution_public_id
     AND m.list_fingerprint = a.list_fingerprint
    GROUP BY ALL
    ORDER BY a.audience_id
    """
).fetchall()
print(f"\n{'audience_id':<12} {'id_or_slug':<20} {'updated_on':<11} {'members':>8}")
for audience_id, slug, updated_on, members in rows:
    print(f"{audience_id:<12} {slug:<20} {updated_on!s:<11} {members:>8}")
total = sum(row[3] for row in rows)
print(f"{len(rows)} audiences, {total} members")
PY
