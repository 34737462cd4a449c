"""The `--state` a run starts from: checked at start, never a traceback.

A state that cannot be read at all stops the run before anything is sent; a
bookmark that is readable but unusable is named in a WARNING and its audience
is sent in full, as without a bookmark.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, partition_state, run_tap

CONTEXT = {"id_or_slug": "aud_a", "institution_public_id": INSTITUTION}
OFFLINE = EmulatorAdmin("http://127.0.0.1:9")


def _members_state(*partitions: object, **stream: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "bookmarks": {"audience_members": {"partitions": list(partitions), **stream}}
    }


def _bookmark(id_or_slug: str = "aud_a", **values: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "context": {"id_or_slug": id_or_slug, "institution_public_id": INSTITUTION},
        "replication_key": "updated_on",
        **values,
    }


def _warnings(run: TapRun) -> list[str]:
    return [
        line.split("|", 3)[3].strip()
        for line in run.stderr.splitlines()
        if "| WARNING" in line
    ]


BAD_STATES: dict[str, tuple[str | dict[str, Any] | list[Any], str]] = {
    "not-json": ('{"bookmarks": ', "--state is not valid JSON"),
    "a-list": ([], "--state must be a JSON object"),
    "null": ("null", "--state must be a JSON object"),
    "bookmarks-a-list": ({"bookmarks": []}, "--state 'bookmarks' must be an object"),
    "stream-a-list": (
        {"bookmarks": {"audience_members": []}},
        "--state 'bookmarks.audience_members' must be an object",
    ),
    "partitions-an-object": (
        {"bookmarks": {"audience_members": {"partitions": {"a": 1}}}},
        "--state 'bookmarks.audience_members.partitions' must be a list",
    ),
    "partition-a-number": (
        _members_state(1),
        "--state 'bookmarks.audience_members.partitions[0]' must be an object",
    ),
    "partition-without-context": (
        _members_state({"replication_key_value": "2026-11-20"}),
        "--state 'bookmarks.audience_members.partitions[0].context' must be",
    ),
    "context-without-institution": (
        {
            "bookmarks": {
                "audiences": {"partitions": [{"context": {"id_or_slug": "a"}}]}
            }
        },
        "--state 'bookmarks.audiences.partitions[0].context' must be",
    ),
    "wrapper-not-an-object": ({"singer_state": []}, "--state 'singer_state' must be"),
}


@pytest.mark.parametrize(("state", "message"), BAD_STATES.values(), ids=BAD_STATES)
def test_unreadable_state_stops_the_run_in_one_line(
    tmp_path: Path, state: str | dict[str, Any] | list[Any], message: str
) -> None:
    text = state if isinstance(state, str) else json.dumps(state)
    run = run_tap(tmp_path, OFFLINE.tap_config("aud_a"), state=text)
    assert message in run.only_error()


def _sync(
    emulator: EmulatorAdmin, tmp_path: Path, state: dict[str, Any] | str
) -> TapRun:
    emulator.configure([audience("aud_a", 20)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a"), state=state)
    assert run.returncode == 0, run.stderr
    return run


@pytest.mark.parametrize("text", ["", "\n  \n"], ids=["empty", "blank"])
def test_empty_state_file_means_no_state(
    emulator: EmulatorAdmin, tmp_path: Path, text: str
) -> None:
    run = _sync(emulator, tmp_path, text)
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_a"))
    assert _warnings(run) == []


UNUSABLE_BOOKMARKS: dict[str, tuple[dict[str, Any], str]] = {
    "stream-wide": (
        _members_state(replication_key_value="2026-11-20"),
        (
            "--state 'bookmarks.audience_members.replication_key_value' ignored: "
            "the tap keeps one bookmark per audience, under 'partitions'"
        ),
    ),
    "number": (
        _members_state(_bookmark(replication_key_value=20261120, fingerprint="x")),
        (
            "--state replication_key_value of audience 'aud_a' (institution "
            "'INST_TEST') ignored: not a date (YYYY-MM-DD)"
        ),
    ),
    "word": (
        _members_state(_bookmark(replication_key_value="yesterday")),
        (
            "--state replication_key_value of audience 'aud_a' (institution "
            "'INST_TEST') ignored: not a date (YYYY-MM-DD)"
        ),
    ),
}


@pytest.mark.parametrize(
    ("state", "warning"), UNUSABLE_BOOKMARKS.values(), ids=UNUSABLE_BOOKMARKS
)
def test_unusable_bookmark_is_named_and_left_out(
    emulator: EmulatorAdmin, tmp_path: Path, state: dict[str, Any], warning: str
) -> None:
    run = _sync(emulator, tmp_path, state)
    assert _warnings(run) == [warning]
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_a"))
    committed = partition_state(run.last_state, "aud_a", INSTITUTION)
    assert committed["replication_key_value"] == "2026-11-20"
    assert (
        "replication_key_value" not in run.last_state["bookmarks"]["audience_members"]
    )


def test_bookmarks_of_an_unknown_stream_are_named_and_dropped(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    state = {"bookmarks": {"members": {"replication_key_value": "2026-11-20"}}}
    run = _sync(emulator, tmp_path, state)
    assert _warnings(run) == [
        "--state bookmarks of stream 'members' ignored: the tap has no such stream"
    ]
    assert "members" not in run.last_state["bookmarks"]


def _released_state() -> dict[str, Any]:
    """A state exactly as release 0.1.0 writes it, for the emulator's `aud_a`."""
    return {
        "bookmarks": {
            "audience_members": {
                "partitions": [
                    {
                        "context": CONTEXT,
                        "replication_key": "updated_on",
                        "replication_key_value": "2026-11-20",
                        "fingerprint": "xxh3sum:20:57b40e1ff76a5ce7",
                        "member_count": 20,
                    }
                ]
            },
            "audiences": {"partitions": [{"context": CONTEXT}]},
        }
    }


def _members_bookmarks(state: dict[str, Any]) -> Any:  # noqa: ANN401 - JSON
    return state["bookmarks"]["audience_members"]


def test_state_written_by_the_current_release_keeps_working(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    run = _sync(emulator, tmp_path, _released_state())
    assert run.member_ids() == []
    assert _warnings(run) == []
    assert _members_bookmarks(run.last_state) == _members_bookmarks(_released_state())


def test_meltano_singer_state_wrapper_is_unwrapped(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    run = _sync(emulator, tmp_path, {"singer_state": _released_state()})
    assert run.member_ids() == []
    assert _members_bookmarks(run.last_state) == _members_bookmarks(_released_state())


def test_bookmarks_of_audiences_no_longer_configured_are_kept(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    gone = _bookmark("aud_gone", replication_key_value="2026-01-01", fingerprint="f")
    state = _released_state()
    state["bookmarks"]["audience_members"]["partitions"].append(gone)
    run = _sync(emulator, tmp_path, state)
    assert partition_state(run.last_state, "aud_gone", INSTITUTION) == gone


def test_bookmarks_of_audiences_no_longer_configured_are_bounded(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    first_day = datetime.date(2020, 1, 1)
    gone = [
        _bookmark(
            f"aud_gone_{n}",
            replication_key_value=(first_day + datetime.timedelta(days=n)).isoformat(),
            fingerprint="f",
        )
        for n in range(1005)
    ]
    state = _released_state()
    state["bookmarks"]["audience_members"]["partitions"][:0] = gone[::-1]
    run = _sync(emulator, tmp_path, state)
    kept = run.last_state["bookmarks"]["audience_members"]["partitions"]
    assert [p["context"]["id_or_slug"] for p in kept] == [
        *(f"aud_gone_{n}" for n in range(1004, 4, -1)),
        "aud_a",
    ]
    assert (
        "--state: dropped the 5 oldest bookmark(s) of audiences no longer "
        "configured; the 1000 most recent are kept"
    ) in run.stderr
