"""Reading `--state`, as tables: what stops the run, what is dropped, the bound.

In-process and in milliseconds; test_state_input.py proves the whole through
the CLI.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pytest

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.errors import StateError
from tap_mx_audience.statefile import checked_text, usable_state

STREAMS = ("audiences", "audience_members", "membership_changes")
CONFIGURED = AudienceRef("aud_a", "INST")
LOGGER = "tap-mx-audience"
BOUND = 1000  # bookmarks of audiences no longer configured, kept per stream
NOT_AN_OBJECT = '--state must be a JSON object such as {"bookmarks": {...}}, not'


@pytest.mark.parametrize("text", ["", "\n  \t\n"], ids=["empty", "blank"])
def test_an_empty_file_is_no_state(text: str) -> None:
    assert checked_text(text) is None


@pytest.mark.parametrize(
    "text",
    ['{"bookmarks": {}}', ' {"singer_state": {"bookmarks": {}}}\n', "{}"],
    ids=["bookmarks", "meltano-wrapper", "empty-object"],
)
def test_a_json_object_is_handed_on_as_written(text: str) -> None:
    assert checked_text(text) == text


UNREADABLE_TEXT = {
    "cut-short": (
        '{"bookmarks": ',
        "--state is not valid JSON (Expecting value at line 1 column 15)",
    ),
    "python-quotes": (
        "{'bookmarks': {}}",
        (
            "--state is not valid JSON (Expecting property name enclosed in double "
            "quotes at line 1 column 2)"
        ),
    ),
    "two-objects": (
        "{} {}",
        "--state is not valid JSON (Extra data at line 1 column 4)",
    ),
    "a-list": ("[]", f"{NOT_AN_OBJECT} list"),
    "null": ("null", f"{NOT_AN_OBJECT} null"),
    "a-number": ("3", f"{NOT_AN_OBJECT} int"),
    "a-string": ('"bookmarks"', f"{NOT_AN_OBJECT} str"),
}


@pytest.mark.parametrize(
    ("text", "message"), UNREADABLE_TEXT.values(), ids=UNREADABLE_TEXT
)
def test_unreadable_text_stops_the_run(text: str, message: str) -> None:
    with pytest.raises(StateError) as raised:
        checked_text(text)
    assert str(raised.value) == message


def _partition(
    id_or_slug: str = "aud_a",
    **values: Any,  # noqa: ANN401 - any JSON value
) -> dict[str, Any]:
    return {
        "context": {"id_or_slug": id_or_slug, "institution_public_id": "INST"},
        **values,
    }


def _members(*partitions: object, **stream: Any) -> dict[str, Any]:  # noqa: ANN401
    """A state holding `audience_members` bookmarks."""
    return {
        "bookmarks": {"audience_members": {"partitions": list(partitions), **stream}}
    }


def _usable(state: dict[str, Any]) -> dict[str, Any]:
    return usable_state(state, STREAMS, [CONFIGURED])


MUST_HAVE_CONTEXT = (
    "must be an object with the strings 'id_or_slug' and 'institution_public_id'"
)
REJECTED_LAYOUTS: dict[str, tuple[dict[str, Any], str]] = {
    "bookmarks-a-list": ({"bookmarks": []}, "'bookmarks' must be an object"),
    "bookmarks-null": ({"bookmarks": None}, "'bookmarks' must be an object"),
    "stream-a-list": (
        {"bookmarks": {"audience_members": []}},
        "'bookmarks.audience_members' must be an object",
    ),
    "partitions-an-object": (
        {"bookmarks": {"audiences": {"partitions": {"aud_a": {}}}}},
        "'bookmarks.audiences.partitions' must be a list",
    ),
    "partition-a-number": (
        _members(1),
        "'bookmarks.audience_members.partitions[0]' must be an object with a 'context'",
    ),
    "second-partition-a-list": (
        _members(_partition(), []),
        "'bookmarks.audience_members.partitions[1]' must be an object with a 'context'",
    ),
    "no-context": (
        _members({"replication_key_value": "2026-11-20"}),
        f"'bookmarks.audience_members.partitions[0].context' {MUST_HAVE_CONTEXT}",
    ),
    "context-a-string": (
        _members({"context": "aud_a"}),
        f"'bookmarks.audience_members.partitions[0].context' {MUST_HAVE_CONTEXT}",
    ),
    "context-id-a-number": (
        _members({"context": {"id_or_slug": 1, "institution_public_id": "INST"}}),
        f"'bookmarks.audience_members.partitions[0].context' {MUST_HAVE_CONTEXT}",
    ),
    "context-without-institution": (
        {
            "bookmarks": {
                "audiences": {"partitions": [{"context": {"id_or_slug": "a"}}]}
            }
        },
        f"'bookmarks.audiences.partitions[0].context' {MUST_HAVE_CONTEXT}",
    ),
    "meltano-wrapper-a-list": (
        {"singer_state": []},
        "'singer_state' must be an object",
    ),
}


@pytest.mark.parametrize(
    ("state", "problem"), REJECTED_LAYOUTS.values(), ids=REJECTED_LAYOUTS
)
def test_a_layout_that_cannot_be_read_stops_the_run_naming_where(
    state: dict[str, Any], problem: str
) -> None:
    with pytest.raises(StateError) as raised:
        _usable(state)
    assert str(raised.value) == f"--state {problem}"


RELEASED = _partition(
    replication_key="updated_on",
    replication_key_value="2026-11-20",
    fingerprint="xxh3sum:20:57b40e1ff76a5ce7",
    member_count=20,
)
STREAM_WIDE = (
    "--state 'bookmarks.audience_members.replication_key_value' ignored: "
    "the tap keeps one bookmark per audience, under 'partitions'"
)
NOT_A_DATE = (
    "--state replication_key_value of audience 'aud_a' (institution 'INST') "
    "ignored: not a date (YYYY-MM-DD)"
)
USABLE: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "no-bookmarks": ({}, {"bookmarks": {}}, []),
    "as-released": (_members(RELEASED), _members(RELEASED), []),
    "timestamp-date": (
        _members(_partition(replication_key_value="2026-11-20T10:00:00Z")),
        _members(_partition(replication_key_value="2026-11-20T10:00:00Z")),
        [],
    ),
    "null-date": (
        _members(_partition(replication_key_value=None)),
        _members(_partition(replication_key_value=None)),
        [],
    ),
    "stream-without-partitions": (
        {"bookmarks": {"audiences": {"starting_replication_value": None}}},
        {"bookmarks": {"audiences": {"starting_replication_value": None}}},
        [],
    ),
    "meltano-wrapper-unwrapped": (
        {"singer_state": _members(RELEASED)},
        _members(RELEASED),
        [],
    ),
    "wrapper-beside-bookmarks-left-alone": (
        {**_members(RELEASED), "singer_state": {"bookmarks": {}}},
        _members(RELEASED),
        [],
    ),
    "stream-wide-date-dropped": (
        _members(RELEASED, replication_key_value="2026-11-20"),
        _members(RELEASED),
        [STREAM_WIDE],
    ),
    "stream-wide-null-dropped-quietly": (
        _members(RELEASED, replication_key_value=None),
        _members(RELEASED),
        [],
    ),
    "number-date-dropped": (
        _members(_partition(replication_key_value=20261120, fingerprint="f")),
        _members(_partition(fingerprint="f")),
        [NOT_A_DATE],
    ),
    "word-date-dropped": (
        _members(_partition(replication_key_value="yesterday", fingerprint="f")),
        _members(_partition(fingerprint="f")),
        [NOT_A_DATE],
    ),
    "unknown-stream-dropped": (
        {"bookmarks": {"members": {"replication_key_value": "2026-11-20"}}},
        {"bookmarks": {}},
        ["--state bookmarks of stream 'members' ignored: the tap has no such stream"],
    ),
}


@pytest.mark.parametrize(("state", "expected", "warnings"), USABLE.values(), ids=USABLE)
def test_what_can_be_read_but_not_used_is_named_and_dropped(
    caplog: pytest.LogCaptureFixture,
    state: dict[str, Any],
    expected: dict[str, Any],
    warnings: list[str],
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        usable = _usable(state)
    assert usable == expected
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert logged == warnings


def _gone(number: int, *, dated: bool = True) -> dict[str, Any]:
    """The bookmark of an audience no longer configured, a day later per number."""
    date = datetime.date(2020, 1, 1) + datetime.timedelta(days=number)
    values = {"replication_key_value": date.isoformat()} if dated else {}
    return _partition(f"gone_{number}", fingerprint="f", **values)


def _oldest_configured() -> dict[str, Any]:
    return _partition(replication_key_value="2000-01-01", fingerprint="f")


BOUNDED: dict[str, tuple[list[dict[str, Any]], set[str]]] = {
    "at-the-bound": ([_gone(n) for n in range(BOUND)], set()),
    "one-over": ([_gone(n) for n in range(BOUND, -1, -1)], {"gone_0"}),
    "configured-never-counted-or-dropped": (
        [_oldest_configured(), *(_gone(n) for n in range(BOUND + 2))],
        {"gone_0", "gone_1"},
    ),
    "dateless-first": (
        [*(_gone(n) for n in range(BOUND)), _gone(BOUND, dated=False)],
        {f"gone_{BOUND}"},
    ),
}


@pytest.mark.parametrize(("partitions", "dropped"), BOUNDED.values(), ids=BOUNDED)
def test_bookmarks_of_audiences_no_longer_configured_are_bounded(
    caplog: pytest.LogCaptureFixture,
    partitions: list[dict[str, Any]],
    dropped: set[str],
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        usable = _usable(_members(*partitions))
    kept = usable["bookmarks"]["audience_members"]["partitions"]
    assert kept == [p for p in partitions if p["context"]["id_or_slug"] not in dropped]
    logged = [
        r.getMessage() for r in caplog.records if "oldest bookmark" in r.getMessage()
    ]
    dropped_line = (
        f"--state: dropped the {len(dropped)} oldest bookmark(s) of audiences "
        f"no longer configured; the {BOUND} most recent are kept"
    )
    assert logged == ([dropped_line] if dropped else [])
