"""The shape of every record the tap sends, built in this one place.

Member and period records come in groups that differ only in `member_id`:
one template per group (every field, in schema order, `member_id` None).
The fast path serializes a template once and fills in member ids; the SDK
path copies it per record (`with_member`).
"""

from __future__ import annotations

from typing import Any

from tap_mx_audience.api import FetchedAudience
from tap_mx_audience.history.changes import Stint
from tap_mx_audience.history.table import TableHeader

Record = dict[str, Any]


def audience_fields(fetched: FetchedAudience) -> dict[str, str]:
    """The four fields that name the audience in every record, in schema order."""
    return {
        "audience_id": fetched.audience_id,
        "id_or_slug": fetched.audience.id_or_slug,
        "institution_id": fetched.institution_id,
        "institution_public_id": fetched.audience.institution_public_id,
    }


def summary_record(fetched: FetchedAudience, list_fingerprint: str) -> Record:
    """The `audiences` record of one fetched list."""
    summary = fetched.summary
    return {
        **audience_fields(fetched),
        "count": summary.declared_count,
        "member_count": summary.member_count,
        "updated_on": fetched.updated_on.isoformat(),
        "fingerprint": summary.fingerprint,
        "list_fingerprint": list_fingerprint,
        "fetched_at": fetched.download.downloaded_at.isoformat(),
    }


def member_template(fetched: FetchedAudience) -> Record:
    """Full mode: every field of an `audience_members` record of the served list."""
    return {
        **audience_fields(fetched),
        "member_id": None,
        "updated_on": fetched.updated_on.isoformat(),
        "list_fingerprint": fetched.summary.fingerprint,
        "joined_at": None,
        "joined_on": None,
        "left_at": None,
        "left_on": None,
        "_sdc_deleted_at": None,
    }


def latest_stint_template(
    fetched: FetchedAudience, header: TableHeader, stint: Stint
) -> Record:
    """Changes mode: an `audience_members` record whose latest stint is `stint`.

    Its `updated_on` and `list_fingerprint` are those of the list that last
    changed the member (opened or closed the stint), so a resend is the same row.
    """
    opened = header.observations[stint.opened]
    closed = None if stint.closed is None else header.observations[stint.closed]
    last = closed or opened
    return {
        **audience_fields(fetched),
        "member_id": None,
        "updated_on": last.on.isoformat(),
        "list_fingerprint": last.fingerprint,
        "joined_at": opened.instant,
        "joined_on": opened.on.isoformat(),
        "left_at": None if closed is None else closed.instant,
        "left_on": None if closed is None else closed.on.isoformat(),
        "_sdc_deleted_at": None if closed is None else closed.instant,
    }


def period_template(
    fetched: FetchedAudience, header: TableHeader, stint: Stint
) -> Record:
    """A `membership_periods` record: one stint."""
    opened = header.observations[stint.opened]
    closed = None if stint.closed is None else header.observations[stint.closed]
    return {
        **audience_fields(fetched),
        "member_id": None,
        "joined_at": opened.instant,
        "joined_on": opened.on.isoformat(),
        "left_at": None if closed is None else closed.instant,
        "left_on": None if closed is None else closed.on.isoformat(),
    }


def with_member(template: Record, member_id: str) -> Record:
    """A record of a group: its template with the member's id."""
    return {**template, "member_id": member_id}
