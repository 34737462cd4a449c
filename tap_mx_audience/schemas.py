"""Record schemas of the three streams.

Rows are keyed by the audience as configured (`id_or_slug`,
`institution_public_id`), not by the ids the body reports: a CSV body may not
report them at all, so a key built from them would change with
`response_format`.
"""

from __future__ import annotations

from singer_sdk import typing as th

AUDIENCE_KEY = ("id_or_slug", "institution_public_id")

_AUDIENCE_FIELDS = (
    th.Property(
        "audience_id",
        th.StringType,
        required=True,
        description="The audience id the API reports (the configured id_or_slug "
        "when the body does not say).",
    ),
    th.Property(
        "id_or_slug",
        th.StringType,
        required=True,
        description="The audience id or slug as configured (part of the key).",
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
        description="The institution public id as configured (part of the key).",
    ),
)

_LIST_FINGERPRINT = th.Property(
    "list_fingerprint",
    th.StringType,
    required=True,
    description="Order-independent digest of the member set of the list this "
    "record comes from.",
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
        description="The updated_on of the list this record comes from: the "
        "replication key.",
    ),
    _LIST_FINGERPRINT,
    th.Property(
        "left_on",
        th.DateType,
        description="Changes mode: the updated_on of the first list without this "
        "member; null while the member is in the audience (always null in full mode).",
    ),
    th.Property(
        "_sdc_deleted_at",
        th.DateTimeType,
        description="Changes mode: left_on as an instant, the Singer convention for "
        "a removed row; null otherwise.",
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
        description="Order-independent digest of the member set served this sync.",
    ),
    th.Property(
        "list_fingerprint",
        th.StringType,
        required=True,
        description="The fingerprint of the list whose members were last delivered: "
        "in full mode, the current members are the member rows carrying it.",
    ),
    th.Property(
        "fetched_at",
        th.DateTimeType,
        required=True,
        description="When the list finished downloading.",
    ),
).to_dict()

MEMBERSHIP_CHANGES_SCHEMA = th.PropertiesList(
    *_AUDIENCE_FIELDS,
    th.Property(
        "member_id", th.StringType, required=True, description="The member's id."
    ),
    th.Property(
        "change",
        th.StringType(allowed_values=["joined", "left"]),
        required=True,
        description="Whether the member joined or left the audience.",
    ),
    th.Property(
        "updated_on",
        th.DateType,
        required=True,
        description="The updated_on of the first list that showed the change.",
    ),
    _LIST_FINGERPRINT,
    th.Property(
        "observed_at",
        th.DateTimeType,
        required=True,
        description="When the tap saw the change (the list's download time): "
        "part of the key, so no event overwrites another.",
    ),
).to_dict()
