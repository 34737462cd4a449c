"""The send-or-skip rule and the bookmarks' bookkeeping, as tables.

In-process and in milliseconds; test_incremental.py, test_kill_resume.py and
test_state_input.py prove the whole through the CLI.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest

from tap_mx_audience.delivery.bookmarks import (
    Bookmark,
    Decision,
    clear_own_mark,
    commit,
    commit_watermark,
    mark_delivering,
)

DAY = datetime.date(2026, 11, 20)
EARLIER = datetime.date(2026, 11, 1)
LATER = datetime.date(2026, 11, 25)
SERVED = "xxh3sum:3:00000000000000aa"
OTHER = "xxh3sum:3:00000000000000bb"
CONTEXT = {"id_or_slug": "aud_a", "institution_public_id": "INST"}

NOTHING = {"delivering_run": None, "log": None, "watermark": None}
NO_BOOKMARK = Bookmark(updated_on=None, fingerprint=None, **NOTHING)
DATE_ONLY = Bookmark(updated_on=DAY, fingerprint=None, **NOTHING)
DELIVERED = Bookmark(updated_on=DAY, fingerprint=SERVED, **NOTHING)


@dataclass(frozen=True)
class Served:
    """One fetched list against a bookmark: what `Bookmark.decide` is given."""

    bookmark: Bookmark
    fingerprint: str = SERVED
    updated_on: datetime.date = DAY
    start_date: datetime.date | None = None
    unconfirmed: bool = False

    def decide(self) -> Decision:
        """The decision for this list."""
        return self.bookmark.decide(
            self.fingerprint,
            self.updated_on,
            self.start_date,
            unconfirmed=self.unconfirmed,
        )


DECISIONS: dict[str, tuple[Served, Decision]] = {
    "no-bookmark": (Served(NO_BOOKMARK), Decision.SEND_FIRST),
    "on-the-start-date": (Served(NO_BOOKMARK, start_date=DAY), Decision.SEND_FIRST),
    "date-but-no-fingerprint": (Served(DATE_ONLY), Decision.SEND_NO_FINGERPRINT),
    "other-set-later": (
        Served(DELIVERED, OTHER, updated_on=LATER),
        Decision.SEND_CHANGED,
    ),
    "other-set-same-day": (Served(DELIVERED, OTHER), Decision.SEND_CHANGED),
    "other-set-earlier": (
        Served(DELIVERED, OTHER, updated_on=EARLIER),
        Decision.SEND_CHANGED,
    ),
    "other-set-unconfirmed": (
        Served(DELIVERED, OTHER, unconfirmed=True),
        Decision.SEND_CHANGED,
    ),
    "same-set-unconfirmed": (
        Served(DELIVERED, unconfirmed=True),
        Decision.SEND_INTERRUPTED,
    ),
    "same-set": (Served(DELIVERED), Decision.SKIP_UNCHANGED),
    "same-set-later": (Served(DELIVERED, updated_on=LATER), Decision.SKIP_UNCHANGED),
    "same-set-earlier": (
        Served(DELIVERED, updated_on=EARLIER),
        Decision.SKIP_UNCHANGED,
    ),
    "before-start-date": (
        Served(NO_BOOKMARK, start_date=LATER),
        Decision.SKIP_BEFORE_START,
    ),
    "before-start-date-whatever-else": (
        Served(DELIVERED, OTHER, start_date=LATER, unconfirmed=True),
        Decision.SKIP_BEFORE_START,
    ),
}


@pytest.mark.parametrize(("served", "expected"), DECISIONS.values(), ids=DECISIONS)
def test_decide(served: Served, expected: Decision) -> None:
    assert served.decide() is expected


def test_the_decision_table_names_every_outcome() -> None:
    assert {decision for _, decision in DECISIONS.values()} == set(Decision)


SENDS_AND_COMMITS = {
    Decision.SEND_FIRST: (True, True),
    Decision.SEND_NO_FINGERPRINT: (True, True),
    Decision.SEND_CHANGED: (True, True),
    Decision.SEND_INTERRUPTED: (True, True),
    Decision.SKIP_UNCHANGED: (False, False),
    Decision.SKIP_BEFORE_START: (False, False),
}


@pytest.mark.parametrize("decision", Decision, ids=[d.name for d in Decision])
def test_what_each_decision_sends_and_commits(decision: Decision) -> None:
    assert (decision.sends, decision.commits) == SENDS_AND_COMMITS[decision]


READS: dict[str, tuple[dict[str, Any], Bookmark]] = {
    "empty": ({}, NO_BOOKMARK),
    "everything": (
        {
            "context": CONTEXT,
            "replication_key": "updated_on",
            "replication_key_value": "2026-11-20",
            "fingerprint": SERVED,
            "member_count": 3,
            "delivering": "run-1",
            "log": "log-1",
            "watermark": 4,
        },
        Bookmark(
            updated_on=DAY,
            fingerprint=SERVED,
            delivering_run="run-1",
            log="log-1",
            watermark=4,
        ),
    ),
    "an-unreleased-snapshot-key-ignored": (
        {"replication_key_value": "2026-11-20", "fingerprint": SERVED, "snapshot": "x"},
        DELIVERED,
    ),
    "timestamp-keeps-its-date": (
        {"replication_key_value": "2026-11-20T08:30:00+00:00", "fingerprint": SERVED},
        DELIVERED,
    ),
    "progress-markers-ignored": (
        {
            "progress_markers": {
                "replication_key": "updated_on",
                "replication_key_value": "2026-11-25",
            }
        },
        NO_BOOKMARK,
    ),
    "values-of-another-type-ignored": (
        {
            "replication_key_value": 20261120,
            "fingerprint": 7,
            "delivering": {"run": 1},
            "log": 3,
            "watermark": True,
        },
        NO_BOOKMARK,
    ),
    "unreadable-date-ignored": (
        {"replication_key_value": "yesterday", "fingerprint": SERVED},
        Bookmark(updated_on=None, fingerprint=SERVED, **NOTHING),
    ),
}


@pytest.mark.parametrize(("partition", "expected"), READS.values(), ids=READS)
def test_read(partition: dict[str, Any], expected: Bookmark) -> None:
    assert Bookmark.read(partition) == expected


BACKWARDS: dict[str, tuple[Bookmark, datetime.date, bool]] = {
    "no-bookmark-date": (NO_BOOKMARK, EARLIER, False),
    "earlier": (DELIVERED, EARLIER, True),
    "same-day": (DELIVERED, DAY, False),
    "later": (DELIVERED, LATER, False),
}


@pytest.mark.parametrize(
    ("bookmark", "served_on", "expected"), BACKWARDS.values(), ids=BACKWARDS
)
def test_is_backwards(
    bookmark: Bookmark, served_on: datetime.date, *, expected: bool
) -> None:
    assert bookmark.is_backwards(served_on) is expected


MARKS: dict[str, tuple[dict[str, Any], bool, dict[str, Any]]] = {
    "no-bookmark": ({"context": CONTEXT}, False, {"context": CONTEXT}),
    "progress-markers-only": (
        {"context": CONTEXT, "progress_markers": {}},
        False,
        {"context": CONTEXT, "progress_markers": {}},
    ),
    "delivered": (
        {"context": CONTEXT, "fingerprint": SERVED},
        True,
        {"context": CONTEXT, "fingerprint": SERVED, "delivering": "run-2"},
    ),
    "earlier-run-mark-kept": (
        {"context": CONTEXT, "fingerprint": SERVED, "delivering": "run-1"},
        False,
        {"context": CONTEXT, "fingerprint": SERVED, "delivering": "run-1"},
    ),
    "own-mark": (
        {"fingerprint": SERVED, "delivering": "run-2"},
        False,
        {"fingerprint": SERVED, "delivering": "run-2"},
    ),
}


@pytest.mark.parametrize(("partition", "added", "expected"), MARKS.values(), ids=MARKS)
def test_mark_delivering(
    partition: dict[str, Any], *, added: bool, expected: dict[str, Any]
) -> None:
    assert mark_delivering(partition, "run-2") is added
    assert partition == expected


CLEARS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "own-mark": (
        {"fingerprint": SERVED, "delivering": "run-2"},
        {"fingerprint": SERVED},
    ),
    "earlier-run-mark-kept": (
        {"fingerprint": SERVED, "delivering": "run-1"},
        {"fingerprint": SERVED, "delivering": "run-1"},
    ),
    "no-mark": ({"fingerprint": SERVED}, {"fingerprint": SERVED}),
}


@pytest.mark.parametrize(("partition", "expected"), CLEARS.values(), ids=CLEARS)
def test_clear_own_mark(partition: dict[str, Any], expected: dict[str, Any]) -> None:
    clear_own_mark(partition, "run-2")
    assert partition == expected


def _committed(date: str) -> dict[str, Any]:
    """A partition as `commit` leaves it for the served list (`SERVED`, 3 members)."""
    return {
        "context": CONTEXT,
        "replication_key": "updated_on",
        "replication_key_value": date,
        "fingerprint": SERVED,
        "member_count": 3,
    }


COMMITS: dict[str, tuple[dict[str, Any], datetime.date, dict[str, Any]]] = {
    "first": ({"context": CONTEXT}, DAY, _committed("2026-11-20")),
    "date-moves-forward": (
        {"context": CONTEXT, "replication_key_value": "2026-11-20"},
        LATER,
        _committed("2026-11-25"),
    ),
    "date-never-moves-backwards": (
        {"context": CONTEXT, "replication_key_value": "2026-11-25"},
        EARLIER,
        _committed("2026-11-25"),
    ),
    "later-timestamp-kept-as-its-date": (
        {"context": CONTEXT, "replication_key_value": "2026-11-25T23:00:00Z"},
        DAY,
        _committed("2026-11-25"),
    ),
    "unreadable-date-replaced": (
        {"context": CONTEXT, "replication_key_value": "yesterday"},
        DAY,
        _committed("2026-11-20"),
    ),
    "progress-markers-and-mark-dropped": (
        {
            "context": CONTEXT,
            "fingerprint": OTHER,
            "member_count": 9,
            "delivering": "run-1",
            "progress_markers": {
                "replication_key": "updated_on",
                "replication_key_value": "2026-11-01",
            },
        },
        DAY,
        _committed("2026-11-20"),
    ),
    "unreleased-snapshot-dropped": (
        {"context": CONTEXT, "snapshot": "snap-1"},
        DAY,
        _committed("2026-11-20"),
    ),
}


@pytest.mark.parametrize(
    ("partition", "served_on", "expected"), COMMITS.values(), ids=COMMITS
)
def test_commit(
    partition: dict[str, Any], served_on: datetime.date, expected: dict[str, Any]
) -> None:
    commit(partition, updated_on=served_on, fingerprint=SERVED, member_count=3)
    assert partition == expected


WATERMARKS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "first": (
        {"context": CONTEXT},
        {"context": CONTEXT, "log": "log-2", "watermark": 7},
    ),
    "another-log-replaced": (
        {"context": CONTEXT, "log": "log-1", "watermark": 9},
        {"context": CONTEXT, "log": "log-2", "watermark": 7},
    ),
    "unreleased-snapshot-dropped": (
        {"context": CONTEXT, "snapshot": "snap-1"},
        {"context": CONTEXT, "log": "log-2", "watermark": 7},
    ),
}


@pytest.mark.parametrize(("partition", "expected"), WATERMARKS.values(), ids=WATERMARKS)
def test_commit_watermark(partition: dict[str, Any], expected: dict[str, Any]) -> None:
    commit_watermark(partition, "log-2", 7)
    assert partition == expected
