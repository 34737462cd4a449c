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


def write_record_lines(  # noqa: PLR0913, PLR0917 - the parts of one RECORD line
    writer: BufferedSingerWriter,
    stream_name: str,
    record_template: dict[str, Any],
    time_extracted: datetime.datetime,
    delimiter: bytes,
    blocks: Iterable[bytes],
) -> int:
    """Write one RECORD line per member id in `blocks`; return how many.

    Each block holds ids joined by `delimiter`, which is shorter than the end
    and start of a RECORD line that replace it.
    """
    message = RecordMessage(
        stream=stream_name,
        record={**record_template, "member_id": _PLACEHOLDER},
        time_extracted=time_extracted,
    )
    line = serialize_json(message.to_dict()) + "\n"
    prefix, suffix = (
        half.encode() for half in line.split(serialize_json(_PLACEHOLDER)[1:-1])
    )
    between = suffix + prefix
    # > 0: a RECORD line's end and start are longer than any id delimiter.
    growth = len(between) - len(delimiter)
    written = 0
    for block in blocks:
        lines = block.replace(delimiter, between)
        writer.write_lines(prefix, lines, suffix)
        # Each delimiter grew into `between`: n ids had n - 1 delimiters.
        written += 1 + (len(lines) - len(block)) // growth
    return written


def escaped_block(batch: list[str]) -> bytes:
    """Parsed ids, escaped as the SDK's serializer escapes them, one per line.

    The line break between them is never in an id copied verbatim, and never
    in the SDK's escaping of one.
    """
    if _NEEDS_ESCAPING.search("".join(batch)) is None:
        return "\n".join(batch).encode()
    return "\n".join(serialize_json(member)[1:-1] for member in batch).encode()
