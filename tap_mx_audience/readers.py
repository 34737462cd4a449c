"""Streaming readers for a downloaded audience list (JSON or CSV).

Plain functions over a binary file, so they are easy to fuzz and shared by the
SDK path, the fast path and the benchmarks. Memory stays flat: ids are handled
in batches, never as a whole list.

`summarize` reads the whole body once: it validates it, counts the ids and
fingerprints them, and finds `updated_on` wherever it sits (often after the
list). `member_batches` reads it again, only when the members are to be sent.

Both first try the simple layout of `idspans` (compact JSON, one-column CSV,
ids needing no escaping), which is read with byte operations; any other body
is read with ijson or the csv module, which also word every error message.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import IO

import ijson
import xxhash

from tap_mx_audience.errors import MalformedListError
from tap_mx_audience.idspans import (
    MAX_ID_LENGTH,
    PRINTABLE_ASCII,
    IdSpan,
    find_byte,
    id_blocks,
    read_at,
    scan_span,
)
from tap_mx_audience.settings import ResponseFormat

BATCH_SIZE = 16_384
READ_BUFFER_BYTES = 1 << 20
MAX_FRAME_BYTES = 1 << 16
JSON_LIST_OPENING = b'"list":['
JSON_ID_BYTES = PRINTABLE_ASCII.translate(None, b'"\\')
CSV_ID_BYTES = PRINTABLE_ASCII.translate(None, b'",\\')
CSV_HEADER_BYTES = PRINTABLE_ASCII.translate(None, b'"')
UTF8_BOM = b"\xef\xbb\xbf"
CSV_MEMBER_COLUMNS = ("member_id", "user_guid", "guid", "id")
JSON_SCALAR_KEYS = frozenset({"audience_id", "institution_id", "count", "updated_on"})


@dataclass(frozen=True)
class ListSummary:
    """What one pass over a list body tells about it."""

    audience_id: str | None
    institution_id: str | None
    declared_count: int | None
    updated_on: datetime.date | None
    member_count: int
    fingerprint: str
    span: IdSpan | None
    """Where the ids sit when the body is simple; None sends readers to the parsers."""


class MemberFingerprint:
    """An order-independent digest of a multiset of member ids.

    The sum of each id's 64-bit xxh3 hash, with the number of ids: the same
    members in another order or with other whitespace give the same value.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._total = 0
        self.count = 0

    def add(self, ids: list[bytes]) -> None:
        """Fold a batch of UTF-8 ids into the digest."""
        self._total += sum(map(xxhash.xxh3_64_intdigest, ids))
        self.count += len(ids)

    def add_checked(self, ids: list[str]) -> None:
        """Check a batch of parsed ids, then fold it in."""
        _check_ids(ids, self.count)
        self.add(list(map(str.encode, ids)))

    @property
    def digest(self) -> str:
        """The digest as stored in state."""
        return f"xxh3sum:{self.count}:{self._total % (1 << 64):016x}"


def summarize(
    file: IO[bytes], response_format: ResponseFormat, member_column: str | None = None
) -> ListSummary:
    """Validate a whole list body and summarise it; raise `MalformedListError`."""
    file.seek(0)
    if response_format is ResponseFormat.CSV:
        return _summarize_csv(file, member_column)
    return _summarize_json(file)


def member_batches(
    file: IO[bytes],
    summary: ListSummary,
    response_format: ResponseFormat,
    member_column: str | None = None,
) -> Iterator[list[str]]:
    """Yield the member ids of a body that `summarize` accepted, in batches."""
    if summary.span is not None:
        delimiter = summary.span.delimiter.decode()
        for block in id_blocks(file, summary.span):
            yield block.decode("ascii").split(delimiter)
        return
    file.seek(0)
    if response_format is ResponseFormat.CSV:
        yield from _csv_member_batches(file, member_column)
        return
    _skip_bom(file)
    ids = ijson.items(file, "list.item", buf_size=READ_BUFFER_BYTES)
    while batch := list(islice(ids, BATCH_SIZE)):
        yield batch


def _check_ids(batch: list[str], seen_before: int) -> None:
    """Reject empty or absurdly long ids, naming the first offender's position."""
    if "" in batch:
        position = seen_before + batch.index("") + 1
        msg = f"member #{position} is an empty id"
        raise MalformedListError(msg)
    if max(map(len, batch)) > MAX_ID_LENGTH:
        longest = max(range(len(batch)), key=lambda i: len(batch[i]))
        msg = (
            f"member #{seen_before + longest + 1} is longer than "
            f"{MAX_ID_LENGTH} characters, not a member id"
        )
        raise MalformedListError(msg)


def _skip_bom(file: IO[bytes]) -> None:
    if file.read(len(UTF8_BOM)) != UTF8_BOM:
        file.seek(0)


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


def _summarize_json(file: IO[bytes]) -> ListSummary:
    _skip_bom(file)
    body_start = file.tell()
    simple = _summarize_simple_json(file, body_start)
    if simple is not None:
        return simple
    file.seek(body_start)
    fingerprint = MemberFingerprint()
    top = _scan_json(file, fingerprint.add_checked)
    return _json_summary(top, fingerprint, None)


def _summarize_simple_json(file: IO[bytes], body_start: int) -> ListSummary | None:
    """Summarise a compact body with simple ids, or None to leave it to ijson.

    The body around the list (its "frame") is checked by ijson with the list
    cut out, so the keys are validated exactly as on the ijson path; the list
    must be the frame's only array, so the cut is the top-level `list`.
    """
    head = read_at(file, body_start, MAX_FRAME_BYTES)
    opening = head.find(JSON_LIST_OPENING)
    if opening < 0:
        return None
    list_start = body_start + opening + len(JSON_LIST_OPENING)
    list_stop = find_byte(file, list_start, b"]")
    if list_stop is None:
        return None
    tail = read_at(file, list_stop + 1, MAX_FRAME_BYTES + 1)
    frame = head[: opening + len(JSON_LIST_OPENING)] + b"]" + tail
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
    """The ids between the array's brackets: `"a","b"` gives the span `a","b`."""
    if list_start == list_stop:
        return IdSpan(list_start, list_stop, b'","')
    quoted = read_at(file, list_start, 1) + read_at(file, list_stop - 1, 1) == b'""'
    if list_stop - list_start < len(b'"x"') or not quoted:
        return None
    return IdSpan(list_start + 1, list_stop - 1, b'","')


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
        msg = f"the JSON body is cut short or malformed ({str(exc)[:120]})"
        raise MalformedListError(msg) from None
    top.check_list()
    if batch:
        on_ids(batch)
    return top


def _json_summary(
    top: _JsonTopLevel, fingerprint: MemberFingerprint, span: IdSpan | None
) -> ListSummary:
    return ListSummary(
        audience_id=_optional_str(top.scalars.get("audience_id")),
        institution_id=_optional_str(top.scalars.get("institution_id")),
        declared_count=_declared_count(top.scalars),
        updated_on=_parse_date(top.scalars.get("updated_on"), "updated_on"),
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


def _parse_date(value: object, field: str) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            pass
    msg = f"'{field}' is not a date (YYYY-MM-DD)"
    raise MalformedListError(msg)


@dataclass(frozen=True)
class _CsvLayout:
    """Where the member id (and optional audience fields) sit in each row."""

    has_header: bool
    member_index: int
    width: int
    audience_id_index: int | None = None
    institution_id_index: int | None = None
    updated_on_index: int | None = None


def _csv_layout(first_row: list[str], member_column: str | None) -> _CsvLayout:
    names = [cell.strip().lower() for cell in first_row]
    wanted = (member_column.lower(),) if member_column else CSV_MEMBER_COLUMNS
    member_name = next((name for name in wanted if name in names), None)
    if member_name is None:
        if member_column:
            msg = f"the CSV header has no '{member_column}' column (csv_member_column)"
            raise MalformedListError(msg)
        if len(first_row) == 1:
            return _CsvLayout(has_header=False, member_index=0, width=1)
        msg = (
            f"the CSV has {len(first_row)} columns but none is named "
            f"{', '.join(CSV_MEMBER_COLUMNS)}; set csv_member_column"
        )
        raise MalformedListError(msg)

    def index(name: str) -> int | None:
        return names.index(name) if name in names else None

    return _CsvLayout(
        has_header=True,
        member_index=names.index(member_name),
        width=len(names),
        audience_id_index=index("audience_id"),
        institution_id_index=index("institution_id"),
        updated_on_index=index("updated_on"),
    )


def _csv_rows(file: IO[bytes]) -> Iterator[list[str]]:
    """Rows of a UTF-8 CSV (BOM and CRLF tolerated), blank lines dropped."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from filter(None, csv.reader(text, strict=True))
    except (csv.Error, UnicodeDecodeError) as exc:
        msg = f"the CSV body is malformed ({str(exc)[:120]})"
        raise MalformedListError(msg) from None
    finally:
        text.detach()  # leave the downloaded file open for the next pass


def _csv_layout_and_rows(
    file: IO[bytes], member_column: str | None
) -> tuple[_CsvLayout, list[str] | None, Iterator[list[str]]]:
    """The layout, the first data row (None when the body is empty) and the rest."""
    rows = _csv_rows(file)
    first = next(rows, None)
    if first is None:
        return _CsvLayout(has_header=False, member_index=0, width=1), None, rows
    layout = _csv_layout(first, member_column)
    data = next(rows, None) if layout.has_header else first
    return layout, data, rows


def _csv_id_batches(
    layout: _CsvLayout, first: list[str] | None, rows: Iterator[list[str]]
) -> Iterator[list[str]]:
    if first is None:
        return
    member = itemgetter(layout.member_index)
    pending: Iterator[list[str]] = iter([first])
    seen = 0
    while chunk := [*pending, *islice(rows, BATCH_SIZE)]:
        pending = iter(())
        try:
            batch = list(map(member, chunk))
        except IndexError:
            short = next(
                i for i, row in enumerate(chunk) if len(row) <= layout.member_index
            )
            msg = (
                f"CSV row of member #{seen + short + 1} has "
                f"{len(chunk[short])} column(s), the header has {layout.width}"
            )
            raise MalformedListError(msg) from None
        seen += len(batch)
        yield batch


def _csv_member_batches(
    file: IO[bytes], member_column: str | None
) -> Iterator[list[str]]:
    layout, first, rows = _csv_layout_and_rows(file, member_column)
    yield from _csv_id_batches(layout, first, rows)


def _summarize_csv(file: IO[bytes], member_column: str | None) -> ListSummary:
    simple = _summarize_simple_csv(file, member_column)
    if simple is not None:
        return simple
    file.seek(0)
    layout, first, rows = _csv_layout_and_rows(file, member_column)
    fingerprint = MemberFingerprint()
    for batch in _csv_id_batches(layout, first, rows):
        fingerprint.add_checked(batch)

    def field(index: int | None) -> str | None:
        if first is None or index is None or index >= len(first):
            return None
        return first[index].strip() or None

    return ListSummary(
        audience_id=field(layout.audience_id_index),
        institution_id=field(layout.institution_id_index),
        declared_count=None,
        updated_on=_parse_date(field(layout.updated_on_index), "updated_on"),
        member_count=fingerprint.count,
        fingerprint=fingerprint.digest,
        span=None,
    )


def _summarize_simple_csv(
    file: IO[bytes], member_column: str | None
) -> ListSummary | None:
    """Summarise a one-column CSV of simple ids, or None to leave it to `csv`.

    Its first line (header or first id) must be plain ASCII without quotes;
    every later line must be one simple id, all ending alike (CRLF or LF). A
    header naming audience columns is left to `csv`, which reads their values.
    """
    _skip_bom(file)
    body_start = file.tell()
    head = read_at(file, body_start, MAX_FRAME_BYTES)
    line_end = head.find(b"\n")
    ending = b"\r\n" if head[line_end - 1 : line_end] == b"\r" else b"\n"
    first_line = head[: line_end + 1 - len(ending)]
    if line_end <= 0 or first_line.translate(None, CSV_HEADER_BYTES):
        return None
    layout = _csv_layout(first_line.decode("ascii").split(","), member_column)
    if layout != _CsvLayout(has_header=layout.has_header, member_index=0, width=1):
        return None
    data_start = body_start + line_end + 1 if layout.has_header else body_start
    size = file.seek(0, io.SEEK_END)
    ends_with_ending = read_at(file, size - len(ending), len(ending)) == ending
    stop = size - len(ending) if ends_with_ending else size
    span = IdSpan(data_start, max(stop, data_start), ending)
    fingerprint = MemberFingerprint()
    if not scan_span(file, span, CSV_ID_BYTES, fingerprint.add):
        return None
    return ListSummary(
        audience_id=None,
        institution_id=None,
        declared_count=None,
        updated_on=None,
        member_count=fingerprint.count,
        fingerprint=fingerprint.digest,
        span=span,
    )
