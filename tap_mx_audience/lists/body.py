"""A downloaded list body, checked once and then read for its members.

`read_list` reads the whole body once: it validates it, counts the ids and
fingerprints them, and finds `updated_on` wherever it sits (often after the
list). The `ListBody` it returns is the one owner of how the members are read
again, only when they are to be sent: straight from the bytes when the first
pass proved the body simple (see `idspans`), else through ijson or the csv
module. Memory stays flat: ids are handed out in batches, never as a whole list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from tap_mx_audience.audience import ResponseFormat
from tap_mx_audience.lists.csvlist import csv_member_batches, summarize_csv
from tap_mx_audience.lists.idspans import id_blocks
from tap_mx_audience.lists.jsonlist import json_member_batches, summarize_json
from tap_mx_audience.lists.summary import BodySummary

# Joins parsed ids in a block: a parsed id that holds it is escaped by the
# caller's `escape`, which must never emit it.
PARSED_ID_DELIMITER = b"\n"


@dataclass(frozen=True)
class ListBody:
    """A list body that passed every check, and how to read its members."""

    file: IO[bytes]
    response_format: ResponseFormat
    member_column: str | None
    summary: BodySummary

    @property
    def how_read(self) -> str:
        """Which reader hands out the members, for the log: speed depends on it."""
        span = self.summary.span
        if span is not None:
            return f"ids read from the body's bytes, joined by {span.delimiter!r}"
        if self.response_format is ResponseFormat.CSV:
            return "ids read by the csv module"
        return "ids read by the ijson parser"

    def member_batches(self) -> Iterator[list[str]]:
        """The member ids, in body order, in batches."""
        if self.summary.span is not None:
            delimiter = self.summary.span.delimiter.decode()
            for block in id_blocks(self.file, self.summary.span):
                yield block.decode("ascii").split(delimiter)
            return
        yield from self._parsed_batches()

    def member_id_batches(self) -> Iterator[list[bytes]]:
        """The member ids as UTF-8, in body order, in batches: what the log keeps."""
        if self.summary.span is not None:
            delimiter = self.summary.span.delimiter
            for block in id_blocks(self.file, self.summary.span):
                yield block.split(delimiter)
            return
        for batch in self._parsed_batches():
            yield [member.encode("utf-8", "surrogatepass") for member in batch]

    def member_blocks(
        self, escape: Callable[[list[str]], bytes]
    ) -> tuple[bytes, Iterator[bytes]]:
        """The member ids as blocks of bytes joined by the returned delimiter.

        A simple body's blocks are its own bytes, which need no escaping; any
        other body's ids are parsed in batches and joined by `escape`.
        """
        if self.summary.span is not None:
            return self.summary.span.delimiter, id_blocks(self.file, self.summary.span)
        return PARSED_ID_DELIMITER, map(escape, self._parsed_batches())

    def _parsed_batches(self) -> Iterator[list[str]]:
        self.file.seek(0)
        if self.response_format is ResponseFormat.CSV:
            return csv_member_batches(self.file, self.member_column)
        return json_member_batches(self.file)


def read_list(
    file: IO[bytes], response_format: ResponseFormat, member_column: str | None = None
) -> ListBody:
    """Validate a whole list body and summarise it; raise `MalformedListError`."""
    file.seek(0)
    if response_format is ResponseFormat.CSV:
        summary = summarize_csv(file, member_column)
    else:
        summary = summarize_json(file)
    return ListBody(file, response_format, member_column, summary)
