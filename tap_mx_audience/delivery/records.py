"""The shape of every record the tap sends, built in this one place.

Each stream's records are a template (every field but the member's, in schema
order) and the fields that differ per member. The fast path serializes a
template once and fills in member ids; the SDK path copies it per record.
"""

from __future__ import annotations

import datetime
from typing import Any

from tap_mx_audience.api import FetchedAudience

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
    """Every field of an `audience_members` record but `member_id`: a current member."""
    return {
        **audience_fields(fetched),
        "member_id": None,
        "updated_on": fetched.updated_on.isoformat(),
        "list_fingerprint": fetched.summary.fingerprint,
        "left_on": None,
        "_sdc_deleted_at": None,
    }


def member_record(
    template: Record, member_id: str, left_on: datetime.date | None
) -> Record:
    """An `audience_members` record: a current member, or one who left on `left_on`."""
    if left_on is None:
        return {**template, "member_id": member_id}
    return {
        **template,
        "member_id": member_id,
        "left_on": left_on.isoformat(),
        "_sdc_deleted_at": f"{left_on.isoformat()}T00:00:00+00:00",
    }


def change_template(fetched: FetchedAudience) -> Record:
    """Every field of a `membership_changes` record but `member_id`: a join."""
    return {
        **audience_fields(fetched),
        "member_id": None,
        "change": "joined",
        "updated_on": fetched.updated_on.isoformat(),
        "list_fingerprint": fetched.summary.fingerprint,
        "observed_at": fetched.download.downloaded_at.isoformat(),
    }


def change_record(
    template: Record, member_id: str, left_on: datetime.date | None
) -> Record:
    """A `membership_changes` record: a join, or a leave dated `left_on`."""
    if left_on is None:
        return {**template, "member_id": member_id}
    return {
        **template,
        "member_id": member_id,
        "change": "left",
        "updated_on": left_on.isoformat(),
    }
