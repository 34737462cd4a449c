"""The JSON list reader: `{"audience_id": ..., "count": ..., "list": [...], ...}`.

Keys may come in any order (`updated_on` often follows the list). A body of
simple ids joined alike (compact, spaced or pretty-printed, any line endings)
is read with byte operations (see `idspans`); any other is validated event by
event with ijson, which also words every error.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import IO

import ijson

from tap_mx_audience.lists.idspans import (
    MAX_DELIMITER_BYTES,
    MAX_ID_LENGTH,
    PRINTABLE_ASCII,
    IdSpan,
    find_byte,
    read_at,
    scan_span,
)
from tap_mx_audience.lists.summary import (
    BATCH_SIZE,
    MAX_FRAME_BYTES,
    READ_BUFFER_BYTES,
    BodySummary,
    MalformedListError,
    MemberFingerprint,
    body_date,
    skip_bom,
)

JSON_WHITESPACE = b" \t\r\n"
JSON_LIST_OPENING = re.compile(rb'"list"[ \t\r\n]*:[ \t\r\n]*\[')
JSON_ID_DELIMITER = re.compile(rb'"[ \t\r\n]*,[ \t\r\n]*"')
COMPACT_ID_DELIMITER = b'","'
JSON_ID_BYTES = PRINTABLE_ASCII.translate(None, b'"\\')
JSON_SCALAR_KEYS = frozenset({"audience_id", "institution_id", "count", "updated_on"})


def json_member_batches(file: IO[bytes]) -> Iterator[list[str]]:
    """The ids of a JSON body that did not qualify for the byte-level reader."""
    skip_bom(file)
    ids = ijson.items(file, "list.item", buf_size=READ_BUFFER_BYTES)
    while batch := list(islice(ids, BATCH_SIZE)):
        yield batch


class _JsonTopLevel:
    """The JSON body's keys other than the list items: scalars and structure."""

    def __init__(self) -> None:
        self.scalars: dict[str, object] = {}
        self.keys: set[str] = set()
        self.list_is_array = False

    def see(self, prefix: str, event: str, value: object) -> None:
        if prefix == "" and event == "map_key":
            if value in self.keys:
                msg = f"the JSON body has the key '{value}' twice"
                raise MalformedListError(msg)
            self.keys.add(str(value))
        elif prefix == "list" and event == "start_array":
            self.list_is_array = True
        elif prefix in JSON_SCALAR_KEYS and event != "map_key":
            if event in {"start_map", "start_array"}:
                msg = f"the JSON body's '{prefix}' is {_json_kind(event)}"
                raise MalformedListError(msg)
            self.scalars[prefix] = value

    def check_list(self) -> None:
        if "list" not in self.keys:
            msg = "the JSON body has no 'list' of members"
            raise MalformedListError(msg)
        if not self.list_is_array:
            msg = "the JSON body's 'list' is not an array"
            raise MalformedListError(msg)


def summarize_json(file: IO[bytes]) -> BodySummary:
    """Validate and summarise a JSON list body; raise `MalformedListError`."""
    skip_bom(file)
    body_start = file.tell()
    simple = _summarize_simple_json(file, body_start)
    if simple is not None:
        return simple
    file.seek(body_start)
    fingerprint = MemberFingerprint()
    top = _scan_json(file, fingerprint.add_checked)
    return _json_summary(top, fingerprint, None)


def _summarize_simple_json(file: IO[bytes], body_start: int) -> BodySummary | None:
    """Summarise a body of simple ids joined alike, or None to leave it to ijson.

    The body around the list (its "frame") is checked by ijson with the list
    cut out, so the keys are validated exactly as on the ijson path; the list
    must be the frame's only array, so the cut is the top-level `list`.
    """
    head = read_at(file, body_start, MAX_FRAME_BYTES)
    opening = JSON_LIST_OPENING.search(head)
    if opening is None:
        return None
    list_start = body_start + opening.end()
    list_stop = find_byte(file, list_start, b"]")
    if list_stop is None:
        return None
    tail = read_at(file, list_stop + 1, MAX_FRAME_BYTES + 1)
    frame = head[: opening.end()] + b"]" + tail
    if len(tail) > MAX_FRAME_BYTES or frame.count(b"[") != 1:
        return None
    try:
        top = _scan_json(io.BytesIO(frame), _refuse_ids)
    except MalformedListError:
        return None
    span = _json_id_span(file, list_start, list_stop)
    fingerprint = MemberFingerprint()
    if span is None or not scan_span(file, span, JSON_ID_BYTES, fingerprint.add):
        return None
    return _json_summary(top, fingerprint, span)


def _json_id_span(file: IO[bytes], list_start: int, list_stop: int) -> IdSpan | None:
    """The ids between the array's brackets, joined by the body's own delimiter.

    `[ "a", "b" ]` gives the span `a", "b` joined by `", "`: whitespace after
    `[` and before `]` is stepped over, and the delimiter is learned from the
    first two ids; `scan_span` then proves that it joins every id.
    """
    window = min(list_stop - list_start, MAX_FRAME_BYTES)
    leading = read_at(file, list_start, window)
    first = list_start + window - len(leading.lstrip(JSON_WHITESPACE))
    if first == list_stop:
        return IdSpan(first, first, COMPACT_ID_DELIMITER)
    trailing = read_at(file, list_stop - window, window)
    last = list_stop - window + len(trailing.rstrip(JSON_WHITESPACE))
    quoted = read_at(file, first, 1) + read_at(file, last - 1, 1) == b'""'
    if last - first < len(b'"x"') or not quoted:
        return None
    span = IdSpan(first + 1, last - 1, COMPACT_ID_DELIMITER)
    first_id = read_at(file, span.start, MAX_ID_LENGTH + MAX_DELIMITER_BYTES + 1)
    end = first_id.find(b'"')
    if span.start + end == span.stop:  # one id: nothing joins it
        return span
    delimiter = JSON_ID_DELIMITER.match(first_id, end) if end >= 0 else None
    if delimiter is None or len(delimiter[0]) > MAX_DELIMITER_BYTES:
        return None
    return IdSpan(span.start, span.stop, delimiter[0])


def _refuse_ids(ids: list[str]) -> None:
    """The frame's list was cut out: any member in it means the cut was wrong."""
    msg = f"unexpected members outside the list: {len(ids)}"
    raise MalformedListError(msg)


def _scan_json(file: IO[bytes], on_ids: Callable[[list[str]], None]) -> _JsonTopLevel:
    """Validate a JSON body with ijson, handing its member ids on in batches."""
    top = _JsonTopLevel()
    batch: list[str] = []
    seen = 0
    events = ijson.parse(file, buf_size=READ_BUFFER_BYTES)
    try:
        first = next(events, None)
        if first is None or first[1] != "start_map":
            msg = "the JSON body is not an object"
            raise MalformedListError(msg)
        for prefix, event, value in events:
            if prefix != "list.item":
                top.see(prefix, event, value)
                continue
            if event != "string":
                position = seen + len(batch) + 1
                msg = f"member #{position} is {_json_kind(event)}, not an id string"
                raise MalformedListError(msg)
            batch.append(value)
            if len(batch) == BATCH_SIZE:
                on_ids(batch)
                seen += len(batch)
                batch = []
    except ijson.JSONError as exc:
        # The parser's first line says what is wrong; the next ones quote the
        # body around it, member ids included.
        problem = str(exc).partition("\n")[0][:120]
        msg = f"the JSON body is cut short or malformed ({problem})"
        raise MalformedListError(msg) from None
    top.check_list()
    if batch:
        on_ids(batch)
    return top


def _json_summary(
    top: _JsonTopLevel, fingerprint: MemberFingerprint, span: IdSpan | None
) -> BodySummary:
    return BodySummary(
        audience_id=_optional_str(top.scalars.get("audience_id")),
        institution_id=_optional_str(top.scalars.get("institution_id")),
        declared_count=_declared_count(top.scalars),
        updated_on=body_date(top.scalars.get("updated_on"), "updated_on"),
        member_count=fingerprint.count,
        fingerprint=fingerprint.digest,
        span=span,
    )


def _json_kind(event: str) -> str:
    return {
        "start_map": "an object",
        "start_array": "an array",
        "null": "null",
        "boolean": "a boolean",
        "number": "a number",
    }.get(event, event)


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _declared_count(scalars: dict[str, object]) -> int | None:
    count = scalars.get("count")
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        msg = "the JSON body's 'count' is not a whole number >= 0"
        raise MalformedListError(msg)
    return count
