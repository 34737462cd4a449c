"""Property-based tests of the list readers, straight on a file as the tap uses them.

Whatever the body, `read_list` either accepts it and then `member_batches`
yields exactly the ids it counted, or it raises `MalformedListError`: never
another exception, and never a cut-short body accepted as complete.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_mx_audience.audience import ResponseFormat
from tap_mx_audience.lists import BodySummary, MalformedListError, read_list
from tap_mx_audience.lists.csvlist import CSV_MEMBER_COLUMNS

BOM = b"\xef\xbb\xbf"
MAX_ID_LENGTH = 512  # the documented limit: a longer id fails its audience
member_ids = st.text(min_size=1, max_size=MAX_ID_LENGTH)
id_lists = st.lists(member_ids, max_size=40)  # duplicates included on purpose
formats = st.sampled_from(ResponseFormat)


def read_all(
    body: bytes, response_format: ResponseFormat
) -> tuple[BodySummary, list[str]]:
    """Summarise a body, then read its ids back, as the tap does."""
    file = io.BytesIO(body)
    read = read_list(file, response_format)
    ids = [i for batch in read.member_batches() for i in batch]
    return read.summary, ids


@st.composite
def json_bodies(draw: st.DrawFn) -> tuple[bytes, list[str], dict[str, Any]]:
    """A valid JSON list body: any key order, optional count and unknown keys."""
    ids = draw(id_lists)
    fields: dict[str, Any] = {
        "audience_id": draw(st.text(max_size=10)),
        "institution_id": "INST",
        "list": ids,
        "updated_on": "2026-11-20",
    }
    if draw(st.booleans()):
        fields["count"] = len(ids)
    fields |= draw(st.dictionaries(st.sampled_from(["extra", "meta"]), st.integers()))
    keys = draw(st.permutations(list(fields)))
    text = json.dumps(
        {key: fields[key] for key in keys},
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 1])),
    )
    return draw(st.sampled_from([b"", BOM])) + text.encode(), ids, fields


@given(json_bodies())
def test_json_body_reads_back_every_id_in_order(
    case: tuple[bytes, list[str], dict[str, Any]],
) -> None:
    body, ids, fields = case
    summary, read = read_all(body, ResponseFormat.JSON)
    assert read == ids
    assert summary.member_count == len(ids)
    assert summary.declared_count == fields.get("count")
    assert str(summary.updated_on) == "2026-11-20"


@given(json_bodies(), st.data())
def test_json_body_cut_anywhere_is_refused(
    case: tuple[bytes, list[str], dict[str, Any]], data: st.DataObject
) -> None:
    body = case[0]
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    with pytest.raises(MalformedListError):
        read_all(body[:cut], ResponseFormat.JSON)


@st.composite
def csv_bodies(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A valid CSV body: header or not, extra columns, CRLF or LF, BOM or not."""
    ids = draw(id_lists)
    header = draw(st.sampled_from([None, *CSV_MEMBER_COLUMNS]))
    if header is None and ids and ids[0].strip().lower() in CSV_MEMBER_COLUMNS:
        ids = ids[1:]  # a headerless first id spelled like a column is a header
    extra = header is not None and draw(st.booleans())
    rows = [
        [member, "aud", "INST", "2026-11-20"] if extra else [member] for member in ids
    ]
    if header is not None:
        rows.insert(
            0,
            [header, "audience_id", "institution_id", "updated_on"][
                : len(rows[0]) if rows else 1
            ],
        )
    text = io.StringIO()
    multiline = any("\r" in member or "\n" in member for member in ids)
    writer = csv.writer(
        text,
        lineterminator=draw(st.sampled_from(["\r\n", "\n"])),
        quoting=csv.QUOTE_ALL
        if multiline or draw(st.booleans())
        else csv.QUOTE_MINIMAL,
    )
    writer.writerows(rows)
    return draw(st.sampled_from([b"", BOM])) + text.getvalue().encode(), ids


@given(csv_bodies())
def test_csv_body_reads_back_every_id_in_order(case: tuple[bytes, list[str]]) -> None:
    body, ids = case
    summary, read = read_all(body, ResponseFormat.CSV)
    assert read == ids
    assert summary.member_count == len(ids)


@given(st.binary(max_size=300), formats)
def test_any_bytes_are_read_whole_or_refused(
    body: bytes, response_format: ResponseFormat
) -> None:
    try:
        summary, read = read_all(body, response_format)
    except MalformedListError:
        return
    assert len(read) == summary.member_count
    assert all(0 < len(member) <= MAX_ID_LENGTH for member in read)


@given(id_lists, st.sampled_from(["", None, 7, "x" * (MAX_ID_LENGTH + 1)]), st.data())
def test_json_list_with_a_bad_id_is_refused(
    ids: list[str], bad: object, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(ids)))
    body = json.dumps(
        {"count": len(ids) + 1, "list": [*ids[:position], bad, *ids[position:]]}
    )
    with pytest.raises(MalformedListError, match=f"member #{position + 1} "):
        read_all(body.encode(), ResponseFormat.JSON)
