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

from collections.abc import Iterator
from typing import IO

from tap_mx_audience.csvlist import csv_member_batches, summarize_csv
from tap_mx_audience.idspans import id_blocks
from tap_mx_audience.jsonlist import json_member_batches, summarize_json
from tap_mx_audience.listsummary import ListSummary
from tap_mx_audience.settings import ResponseFormat

__all__ = ["ListSummary", "member_batches", "summarize"]


def summarize(
    file: IO[bytes], response_format: ResponseFormat, member_column: str | None = None
) -> ListSummary:
    """Validate a whole list body and summarise it; raise `MalformedListError`."""
    file.seek(0)
    if response_format is ResponseFormat.CSV:
        return summarize_csv(file, member_column)
    return summarize_json(file)


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
        yield from csv_member_batches(file, member_column)
    else:
        yield from json_member_batches(file)
