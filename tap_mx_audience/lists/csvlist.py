"""The CSV list reader: one member id per row, with or without a header.

With a header, the member column is `member_id`, `user_guid`, `guid` or `id`
(or the one configured), and `audience_id`, `institution_id` and `updated_on`
columns are used when present. A one-column body of simple ids is read with
byte operations (see `idspans`); any other goes through the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import IO

from tap_mx_audience.lists.idspans import PRINTABLE_ASCII, IdSpan, read_at, scan_span
from tap_mx_audience.lists.summary import (
    BATCH_SIZE,
    MAX_FRAME_BYTES,
    BodySummary,
    MalformedListError,
    MemberFingerprint,
    body_date,
    skip_bom,
)

CSV_ID_BYTES = PRINTABLE_ASCII.translate(None, b'",\\')
CSV_HEADER_BYTES = PRINTABLE_ASCII.translate(None, b'"')
CSV_MEMBER_COLUMNS = ("member_id", "user_guid", "guid", "id")


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


def csv_member_batches(
    file: IO[bytes], member_column: str | None
) -> Iterator[list[str]]:
    """The ids of a CSV body that did not qualify for the byte-level reader."""
    layout, first, rows = _csv_layout_and_rows(file, member_column)
    yield from _csv_id_batches(layout, first, rows)


def summarize_csv(file: IO[bytes], member_column: str | None) -> BodySummary:
    """Validate and summarise a CSV list body; raise `MalformedListError`."""
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

    return BodySummary(
        audience_id=field(layout.audience_id_index),
        institution_id=field(layout.institution_id_index),
        declared_count=None,
        updated_on=body_date(field(layout.updated_on_index), "updated_on"),
        member_count=fingerprint.count,
        fingerprint=fingerprint.digest,
        span=None,
    )


def _summarize_simple_csv(
    file: IO[bytes], member_column: str | None
) -> BodySummary | None:
    """Summarise a one-column CSV of simple ids, or None to leave it to `csv`.

    Its first line (header or first id) must be plain ASCII without quotes;
    every later line must be one simple id, all ending alike (CRLF or LF). A
    header naming audience columns is left to `csv`, which reads their values.
    """
    skip_bom(file)
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
    return BodySummary(
        audience_id=None,
        institution_id=None,
        declared_count=None,
        updated_on=None,
        member_count=fingerprint.count,
        fingerprint=fingerprint.digest,
        span=span,
    )
