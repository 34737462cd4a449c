"""The README's reading rule for append-only targets, as meltano.yml defines them.

Issue 16: the tap sends only the audiences whose list changed, and
target-csv (0.5.0) rewrote `audience_members.csv` on every run, so after a
second run the file held the changed audience's members only. Two `meltano
run`s in full mode with one audience changed between them, then the README's
rule applied to the files: it must give exactly the emulator's member lists.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import (
    INSTITUTION,
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    MeltanoProject,
    csv_rows,
    jsonl_rows,
    tap_env,
)

pytestmark = pytest.mark.meltano

AUDIENCES = [
    audience("aud_gold", 1200, slug="gold-members"),
    audience("aud_new", 350),
    audience("aud_churn", 75),
]
Rows = Sequence[Mapping[str, Any]]
Audience = tuple[str, str]
TARGETS: dict[str, tuple[str, Callable[[Path, str], Rows]]] = {
    "target-csv": ("TARGET_CSV_OUTPUT_PATH", csv_rows),
    "target-jsonl": ("TARGET_JSONL_DESTINATION_PATH", jsonl_rows),
}


def _audience(row: Mapping[str, Any]) -> Audience:
    return (row["id_or_slug"], row["institution_public_id"])


def current_members(audiences: Rows, members: Rows) -> dict[Audience, set[str]]:
    """The README's rule: the distinct members whose list_fingerprint is the latest.

    The latest `audiences` row of an audience is the one with the latest
    `fetched_at` (a run writes one per audience it fetched).
    """
    latest: dict[Audience, Mapping[str, Any]] = {}
    for row in sorted(
        audiences, key=lambda row: datetime.datetime.fromisoformat(row["fetched_at"])
    ):
        latest[_audience(row)] = row
    return {
        key: {
            member["member_id"]
            for member in members
            if _audience(member) == key
            and member["list_fingerprint"] == row["list_fingerprint"]
        }
        for key, row in latest.items()
    }


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_readme_rule_gives_the_member_lists_after_a_change(
    meltano_plugins: MeltanoProject,
    emulator: EmulatorAdmin,
    tmp_path: Path,
    target: str,
) -> None:
    emulator.configure(AUDIENCES)
    configured = {
        a["audience_id"]: (a.get("slug", a["audience_id"]), INSTITUTION)
        for a in AUDIENCES
    }
    output_setting, read = TARGETS[target]
    output = tmp_path / "output"
    project = meltano_plugins.isolated(
        tmp_path,
        **tap_env(emulator.tap_config(*(slug for slug, _ in configured.values()))),
        **{output_setting: str(output)},
    )

    def expected() -> dict[Audience, set[str]]:
        return {
            configured[audience_id]: emulator.members(audience_id)
            for audience_id in configured
        }

    def current() -> dict[Audience, set[str]]:
        return current_members(
            read(output, "audiences"), read(output, "audience_members")
        )

    first = project.command("run", "tap-mx-audience", target)
    assert first.returncode == 0, first.output
    assert current() == expected()

    before = emulator.members("aud_churn")
    emulator.patch("aud_churn", offset=5, size=80, updated_on="2026-11-28")
    assert len(before - emulator.members("aud_churn")) == 5

    second = project.command("run", "tap-mx-audience", target)
    assert second.returncode == 0, second.output
    assert current() == expected()
    assert len(read(output, "audiences")) == 2 * 3
    assert len(read(output, "audience_members")) == 1200 + 350 + 75 + 80


def _empty(value: object) -> bool:
    """Null in JSON, an empty field in CSV."""
    return value is None or value == ""


def current_in_changes_mode(members: Rows) -> dict[Audience, set[str]]:
    """The README's rule in changes mode: each member's latest line is current or not.

    The latest line has the latest `joined_at`, and `left_at` set if one of
    those has; the member is current if it has none.
    """
    latest: dict[tuple[Audience, str], Mapping[str, Any]] = {}
    for row in sorted(
        members, key=lambda row: (row["joined_at"], not _empty(row["left_at"]))
    ):
        latest[(_audience(row), row["member_id"])] = row
    current: dict[Audience, set[str]] = {}
    for (key, member), row in latest.items():
        if _empty(row["left_at"]):
            current.setdefault(key, set()).add(member)
    return current


def stints_in_changes_mode(periods: Rows) -> dict[tuple[Audience, str, str], bool]:
    """The README's rule for stints: per key, closed if any line is closed."""
    closed: dict[tuple[Audience, str, str], bool] = {}
    for row in periods:
        key = (_audience(row), row["member_id"], row["joined_at"])
        closed[key] = closed.get(key, False) or not _empty(row["left_at"])
    return closed


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_readme_rules_in_changes_mode_give_members_and_stints(
    meltano_plugins: MeltanoProject,
    emulator: EmulatorAdmin,
    tmp_path: Path,
    target: str,
) -> None:
    emulator.configure([audience("aud_churn", 75)])
    output_setting, read = TARGETS[target]
    output = tmp_path / "output"
    project = meltano_plugins.isolated(
        tmp_path,
        **tap_env(
            emulator.tap_config("aud_churn", snapshot_store=str(tmp_path / "store"))
        ),
        **{output_setting: str(output)},
    )
    for patch in ({}, {"offset": 5, "size": 80}, {"offset": 3, "size": 82}):
        if patch:
            emulator.patch("aud_churn", **patch)
        run = project.command("run", "tap-mx-audience", target)
        assert run.returncode == 0, run.output
        members = read(output, "audience_members")
        assert current_in_changes_mode(members) == {
            ("aud_churn", INSTITUTION): emulator.members("aud_churn")
        }
        stints = stints_in_changes_mode(read(output, "membership_periods"))
        open_stints = [key[1] for key, closed in stints.items() if not closed]
        assert sorted(open_stints) == sorted(emulator.members("aud_churn"))
    # Members 0 to 4 left on the second run; 3 and 4 came back on the third.
    assert sum(stints.values()) == 5
