"""Record schemas of the two streams."""

from __future__ import annotations

from singer_sdk import typing as th

_AUDIENCE_FIELDS = (
    th.Property(
        "audience_id",
        th.StringType,
        required=True,
        description="The audience id the API reports.",
    ),
    th.Property(
        "id_or_slug",
        th.StringType,
        required=True,
        description="The audience id or slug as configured.",
    ),
    th.Property(
        "institution_id",
        th.StringType,
        required=True,
        description="The institution id the API reports.",
    ),
    th.Property(
        "institution_public_id",
        th.StringType,
        required=True,
        description="The institution public id as configured (the state partition).",
    ),
)

AUDIENCE_MEMBERS_SCHEMA = th.PropertiesList(
    *_AUDIENCE_FIELDS,
    th.Property(
        "member_id", th.StringType, required=True, description="The member's id."
    ),
    th.Property(
        "updated_on",
        th.DateType,
        required=True,
        description="When the audience was last updated: the replication key. "
        "Current members are the rows with the audience's latest updated_on.",
    ),
).to_dict()

AUDIENCES_SCHEMA = th.PropertiesList(
    *_AUDIENCE_FIELDS,
    th.Property(
        "count",
        th.IntegerType,
        description="The member count the API declared (null when the body has none).",
    ),
    th.Property(
        "member_count",
        th.IntegerType,
        required=True,
        description="The number of member ids received.",
    ),
    th.Property("updated_on", th.DateType, required=True),
    th.Property(
        "fingerprint",
        th.StringType,
        required=True,
        description="Order-independent digest of the member set.",
    ),
    th.Property(
        "fetched_at",
        th.DateTimeType,
        required=True,
        description="When the list finished downloading.",
    ),
).to_dict()
