"""Every uniform list layout is read from its bytes and gives the SDK's records.

The emulator serves one audience per layout (JSON compact, spaced after the
colon and/or the comma, pretty-printed with LF or CRLF; CSV with or without a
header, LF or CRLF). Each is synced twice through the real CLI: once on the
fast path, once forced onto the SDK record pipeline by a stream map that
changes nothing. The RECORD lines must be byte-identical but for
`time_extracted`, and the DEBUG log must say the ids were read from the bytes,
joined by the delimiter the layout puts between them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap

DEBUG = {"TAP_MX_AUDIENCE_LOGLEVEL": "DEBUG"}
NO_OP_MAP = {"stream_maps": {"audience_members": {"member_id": "member_id"}}}
TIME_EXTRACTED = re.compile(r',"time_extracted":"[^"]*"')
METRIC = re.compile(r"METRIC: (\{.*\})")
# Printable ids that hold the layouts' separators, but no quote: still simple.
SEPARATOR_IDS = ("one, two", "key: value", "a,b", "x ,y")
SIZE = 3000
LAYOUTS: dict[str, tuple[str, dict[str, Any], bytes]] = {
    "json-compact": ("json", {"json_layout": "compact"}, b'","'),
    "json-spaced-colon": ("json", {"json_layout": "spaced_colon"}, b'","'),
    "json-spaced-comma": ("json", {"json_layout": "spaced_comma"}, b'", "'),
    "json-spaced-both": ("json", {"json_layout": "spaced"}, b'", "'),
    "json-pretty-lf": ("json", {"json_layout": "pretty"}, b'",\n    "'),
    "json-pretty-crlf": ("json", {"json_layout": "pretty_crlf"}, b'",\r\n    "'),
    "json-list-first-pretty": (
        "json",
        {"json_layout": "pretty", "key_order": ["list", "count", "updated_on"]},
        b'",\n    "',
    ),
    "csv-header-crlf": ("csv", {"csv_line_ending": "crlf"}, b"\r\n"),
    "csv-header-lf": ("csv", {"csv_line_ending": "lf"}, b"\n"),
    "csv-no-header-crlf": (
        "csv",
        {"csv_header": None, "csv_line_ending": "crlf"},
        b"\r\n",
    ),
    "csv-no-header-lf": ("csv", {"csv_header": None, "csv_line_ending": "lf"}, b"\n"),
}


def _record_lines(run: TapRun) -> list[str]:
    """audience_members RECORD lines as written, without their time_extracted."""
    assert run.returncode == 0, run.stderr
    return [
        TIME_EXTRACTED.sub("", line)
        for line in run.stdout.splitlines()
        if line.startswith('{"type":"RECORD","stream":"audience_members"')
    ]


def _members_counted(run: TapRun) -> int:
    """The audience_members record_count the tap logged: the fast path's own count."""
    metrics = [json.loads(found) for found in METRIC.findall(run.stderr)]
    return sum(
        int(metric["value"])
        for metric in metrics
        if metric["metric"] == "record_count"
        and metric["tags"].get("stream") == "audience_members"
    )


@pytest.mark.parametrize(
    ("response_format", "fields", "delimiter"), LAYOUTS.values(), ids=LAYOUTS
)
def test_layout_takes_the_byte_path_and_writes_the_sdk_records(
    emulator: EmulatorAdmin,
    tmp_path: Path,
    response_format: str,
    fields: dict[str, Any],
    delimiter: bytes,
) -> None:
    extras = SEPARATOR_IDS if response_format == "json" else ()
    emulator.configure(
        [audience("aud_layout", SIZE, extra_members=list(extras), **fields)]
    )
    config = emulator.tap_config("aud_layout", response_format=response_format)
    fast = run_tap(tmp_path, config, env=DEBUG)
    sdk = run_tap(tmp_path, {**config, **NO_OP_MAP}, env=DEBUG)
    for run, path in ((fast, "the fast path"), (sdk, "the SDK record pipeline")):
        assert f"members go through {path}" in run.stderr
        assert f"ids read from the body's bytes, joined by {delimiter!r}" in run.stderr
    lines = _record_lines(fast)
    assert lines == _record_lines(sdk)
    assert len(lines) == _members_counted(fast) == SIZE + len(extras)
    assert set(fast.member_ids()) == emulator.members("aud_layout")
