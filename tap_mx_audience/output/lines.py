"""RECORD lines for many members at once, without singer-sdk's per-record pipeline.

Every record of a batch differs only in `member_id`, so the RECORD line is
built once by the SDK's own serializer and cut around the member id; a block
of ids joined by a delimiter then becomes a block of RECORD lines with one
`bytes.replace`. Callers use this only where the SDK could not have changed
the records (`delivery/fastpath.py` decides).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.json import serialize_json

from tap_mx_audience.output.writer import BufferedSingerWriter

_PLACEHOLDER = "\x00member\x00"
# Ids with any of these need the SDK's escaping; other ids are copied verbatim.
_NEEDS_ESCAPING = re.compile(r'["\\\x00-\x1f\x7f-\U0010ffff]')
_BYTES_NEEDING_ESCAPING = re.compile(rb'["\\\x00-\x1f\x7f-\xff]')
_LINES_NEEDING_ESCAPING = re.compile(rb'["\\\x00-\x09\x0b-\x1f\x7f-\xff]')
ID_DELIMITER = b"\n"
"""Joins the ids of an escaped block: never in an id copied verbatim, nor in an
escaped one."""


class RecordLines:
    """RECORD lines of one template, for any number of member ids.

    The line is serialized once, around a placeholder member id; a block of
    ids joined by a delimiter becomes a block of lines with one `bytes.replace`.
    """

    def __init__(
        self,
        stream_name: str,
        template: dict[str, Any],
        time_extracted: datetime.datetime,
    ) -> None:
        """Serialize the template's line with the SDK's own serializer, and cut it."""
        message = RecordMessage(
            stream=stream_name,
            record={**template, "member_id": _PLACEHOLDER},
            time_extracted=time_extracted,
        )
        line = serialize_json(message.to_dict()) + "\n"
        self._prefix, self._suffix = (
            half.encode() for half in line.split(serialize_json(_PLACEHOLDER)[1:-1])
        )
        self._between = self._suffix + self._prefix

    def write(
        self, writer: BufferedSingerWriter, delimiter: bytes, blocks: Iterable[bytes]
    ) -> int:
        """Write one line per member id in `blocks`; return how many.

        Each block holds ids joined by `delimiter`, which is shorter than the
        end and start of a RECORD line that replace it.
        """
        # > 0: a RECORD line's end and start are longer than any id delimiter.
        growth = len(self._between) - len(delimiter)
        written = 0
        for block in blocks:
            lines = block.replace(delimiter, self._between)
            writer.write_lines(self._prefix, lines, self._suffix)
            # Each delimiter grew into `between`: n ids had n - 1 delimiters.
            written += 1 + (len(lines) - len(block)) // growth
        return written


def escaped_block(batch: list[str]) -> bytes:
    """Parsed ids, escaped as the SDK's serializer escapes them, one per line."""
    if _NEEDS_ESCAPING.search("".join(batch)) is None:
        return "\n".join(batch).encode()
    return ID_DELIMITER.join(serialize_json(member)[1:-1].encode() for member in batch)


def verbatim_block(lines: bytes) -> bytes | None:
    """Newline-terminated UTF-8 ids as a block joined by `ID_DELIMITER`.

    None if an id needs JSON escaping (almost none does).
    """
    if _LINES_NEEDING_ESCAPING.search(lines) is None:
        return lines[:-1]
    return None


def escaped_ids(ids: list[bytes]) -> bytes:
    """UTF-8 ids (the log's), escaped as the SDK's serializer would, one per line."""
    block = ID_DELIMITER.join(ids)
    if _BYTES_NEEDING_ESCAPING.search(block) is None:
        return block
    return escaped_block([member.decode("utf-8", "surrogatepass") for member in ids])
