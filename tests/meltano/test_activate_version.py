"""`emit_activate_version_messages: true` never reaches a loader that deletes.

Issue 16: the tap logged the setting as unknown and ignored while singer-sdk
acted on it. With target-postgres `hard_delete: true, activate_version: true`
the ACTIVATE_VERSION after `audiences` deleted every row the run had not sent:
the row of an audience that failed in that run, say. The tap refuses the
setting: the run stops before any request with one line saying why, and no
row of the earlier run is deleted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.emulatoradmin import (
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    MeltanoProject,
    PostgresCluster,
    load_yaml,
    postgres_env,
    tap_env,
)

pytestmark = pytest.mark.meltano

AUDIENCES = [audience("aud_kept", 40), audience("aud_denied", 25)]
TABLES = ("audiences", "audience_members")


def _deleting_loader(project: MeltanoProject) -> None:
    """target-postgres as the issue configured it, written in meltano.yml."""
    manifest = project.project_dir / "meltano.yml"
    settings = load_yaml(manifest)
    (dev,) = [e for e in settings["environments"] if e["name"] == "dev"]
    (loader,) = dev["config"]["plugins"]["loaders"]
    loader["config"] |= {"hard_delete": True, "activate_version": True}
    manifest.write_text(yaml.safe_dump(settings, sort_keys=False))


def _keys(cluster: PostgresCluster, database: str) -> dict[str, set[tuple[str, ...]]]:
    """Every row of the tap's tables, by key."""
    return {
        table: {
            tuple(map(str, row))
            for row in cluster.rows(
                database,
                f"SELECT * FROM tap_mx_audience.{table}",  # noqa: S608 - constant names
            )
        }
        for table in TABLES
    }


def test_activate_version_is_refused_and_no_row_is_deleted(
    meltano_plugins: MeltanoProject,
    postgres: PostgresCluster,
    emulator: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    emulator.configure(AUDIENCES)
    database = postgres.create_database("activate_version")
    project = meltano_plugins.isolated(
        tmp_path,
        **tap_env(emulator.tap_config(*(a["audience_id"] for a in AUDIENCES))),
        **postgres_env(postgres, database),
    ).copy(tmp_path)
    _deleting_loader(project)

    first = project.command("run", "tap-mx-audience", "target-postgres")
    assert first.returncode == 0, first.output
    loaded = _keys(postgres, database)
    assert {table: len(rows) for table, rows in loaded.items()} == {
        "audiences": 2,
        "audience_members": 40 + 25,
    }

    switched = project.command(
        "config", "set", "tap-mx-audience", "emit_activate_version_messages", "true"
    )
    assert switched.returncode == 0, switched.output
    emulator.patch("aud_denied", forbidden=True)
    emulator.patch("aud_kept", offset=5, updated_on="2026-11-28")
    emulator.forget_requests()

    second = project.command("run", "tap-mx-audience", "target-postgres")
    assert second.returncode != 0, second.output
    (error,) = second.plugin_lines("tap-mx-audience", "error")
    assert error.startswith(
        "Setting 'emit_activate_version_messages' cannot be true: "
    ), second.output
    assert "delete" in error
    assert "unknown" not in second.output
    assert emulator.requests() == []
    assert _keys(postgres, database) == loaded
