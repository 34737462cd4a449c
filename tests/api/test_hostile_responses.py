"""Hostile or surprising list bodies, served to `aud_a` over real HTTP.

Each either delivers exactly the ids in the body or fails `aud_a` with one
line naming it, with no record and no bookmark for it; `aud_b` is delivered
either way. Decisions: a duplicate id is delivered as received and counts
toward `count` (upsert absorbs it; spotting it would take memory growing with
the audience); an empty, null, numeric or over-512-character id fails the
audience; a missing `count` is accepted, since the body parsed completely.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.livetap import committed
from tests.support.tapdriver import TapRun, run_tap

LONGEST = "i" * 512
HEAD = '{"audience_id":"aud_a","institution_id":"INST_TEST","updated_on":"2026-11-20",'


@dataclass(frozen=True)
class Body:
    """What `aud_a` serves: a raw body, another fault, or audience settings."""

    raw: bytes | None = None
    content_type: str = "application/json"
    fault: str | None = None
    audience: dict[str, Any] = field(default_factory=dict)
    response_format: str = "json"

    def sync(self, emulator: EmulatorAdmin, tmp_path: Path) -> TapRun:
        """Serve this body to `aud_a`, a plain list to `aud_b`, and run a sync."""
        emulator.configure(
            [audience("aud_a", 6, **self.audience), audience("aud_b", 4)]
        )
        if self.raw is not None:
            emulator.fault(
                "body",
                id_or_slug="aud_a",
                body_base64=base64.b64encode(self.raw).decode(),
                content_type=self.content_type,
            )
        if self.fault is not None:
            emulator.fault(self.fault, id_or_slug="aud_a")
        config = emulator.tap_config(
            "aud_a", "aud_b", response_format=self.response_format
        )
        run = run_tap(tmp_path, config)
        assert Counter(run.member_ids("aud_b")) == Counter(emulator.members("aud_b"))
        assert "Traceback" not in run.stderr
        return run


def json_body(members: str, count: str = "") -> bytes:
    """A JSON body with this list (JSON text) and an optional count."""
    return f'{HEAD}{count}"list":{members}}}'.encode()


ACCEPTED: dict[str, tuple[Body, list[str] | None]] = {
    "count-missing": (Body(json_body('["m1","m2"]')), ["m1", "m2"]),
    "count-zero-empty-list": (Body(json_body("[]", '"count":0,')), []),
    "duplicates-counted": (
        Body(json_body('["m1","m1","m2"]', '"count":3,')),
        ["m1", "m1", "m2"],
    ),
    "id-of-512-chars": (Body(json_body(f'["{LONGEST}"]', '"count":1,')), [LONGEST]),
    "unknown-keys": (
        Body(json_body('["m1"]', '"count":1,"meta":{"pages":[1]},"next":null,')),
        ["m1"],
    ),
    "escaped-ids": (Body(json_body('["a\\"b","\\u00e9t\\u00e9"]')), ['a"b', "été"]),
    "text-plain-content-type": (
        Body(json_body('["m1"]'), content_type="text/plain"),
        ["m1"],
    ),
    "no-content-type": (Body(json_body('["m1","m2"]'), content_type=""), ["m1", "m2"]),
    "keys-in-reverse-order": (
        Body(audience={"key_order": ["updated_on", "list", "institution_id", "count"]}),
        None,
    ),
    "gzip-encoded": (Body(audience={"gzip": True}), None),
    "csv-bom-crlf": (
        Body(
            b"\xef\xbb\xbfmember_id\r\nm1\r\nm2\r\n", "text/csv", response_format="csv"
        ),
        ["m1", "m2"],
    ),
    "csv-quoted-fields": (
        Body(
            b'member_id,updated_on\r\n"m,1",2026-11-20\r\n"m""2",2026-11-20\r\n',
            "text/csv",
            response_format="csv",
        ),
        ["m,1", 'm"2'],
    ),
    "csv-empty-body": (Body(b"", "text/csv", response_format="csv"), []),
}

REFUSED: dict[str, tuple[Body, str]] = {
    "truncated": (Body(json_body('["m1","m2"]')[:-9]), "cut short or malformed"),
    "count-a-string": (Body(json_body('["m1"]', '"count":"1",')), "'count' is not"),
    "count-negative": (Body(json_body("[]", '"count":-1,')), "'count' is not"),
    "count-a-fraction": (Body(json_body('["m1"]', '"count":1.5,')), "'count' is not"),
    "count-wrong": (Body(audience={"count_delta": -1}), "count is 5 but its list"),
    "list-missing": (Body(f'{HEAD}"count":0}}'.encode()), "has no 'list'"),
    "list-not-an-array": (Body(json_body('"m1"')), "'list' is not an array"),
    "list-of-numbers": (Body(json_body("[1,2]")), "member #1 is a number"),
    "null-id": (Body(json_body('["m1",null]')), "member #2 is null"),
    "empty-id": (Body(json_body('["m1",""]')), "member #2 is an empty id"),
    "id-of-513-chars": (
        Body(json_body(f'["m1","{LONGEST}x"]')),
        "member #2 is longer than 512 characters",
    ),
    "html-page-with-200": (Body(fault="html_200"), "HTML page instead of JSON"),
    "not-json": (Body(b"<xml/>", "application/json"), "cut short or malformed"),
    "csv-empty-id": (
        Body(b'member_id\r\nm1\r\n""\r\n', "text/csv", response_format="csv"),
        "member #2 is an empty id",
    ),
}


@pytest.mark.parametrize(("body", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_surprising_body_delivers_exactly_its_ids(
    emulator: EmulatorAdmin,
    tmp_path: Path,
    body: Body,
    expected: list[str] | None,
) -> None:
    run = body.sync(emulator, tmp_path)
    assert run.returncode == 0, run.stderr
    members = emulator.members("aud_a") if expected is None else expected
    assert Counter(run.member_ids("aud_a")) == Counter(members)
    (summary,) = (r for r in run.records("audiences") if r["id_or_slug"] == "aud_a")
    assert summary["member_count"] == len(members)
    assert committed(run.last_state, "aud_a") == summary["updated_on"]


@pytest.mark.parametrize(("body", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_hostile_body_fails_only_its_audience_in_one_line(
    emulator: EmulatorAdmin, tmp_path: Path, body: Body, reason: str
) -> None:
    run = body.sync(emulator, tmp_path)
    assert run.returncode == 1
    assert run.member_ids("aud_a") == []
    assert committed(run.last_state, "aud_a") is None
    last_line = run.stderr.splitlines()[-1]
    assert f"audience 'aud_a' (institution '{INSTITUTION}')" in last_line
    assert reason in last_line
