"""Record schemas of the three streams: audiences, their members, membership periods.

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

_LEFT_AT = th.Property(
    "left_at",
    th.DateTimeType,
    description="When the tap fetched the first list without the member (UTC); "
    "null while the stint is open.",
)
_LEFT_ON = th.Property(
    "left_on",
    th.DateType,
    description="The updated_on of the first list without the member; null while "
    "the member is in the audience.",
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
        description="The updated_on of the list this record comes from (changes "
        "mode: the list that opened or closed the member's latest stint): the "
        "replication key.",
    ),
    _LIST_FINGERPRINT,
    th.Property(
        "joined_at",
        th.DateTimeType,
        description="Changes mode: the start of the member's latest stint (member "
        "since); null in full mode.",
    ),
    th.Property(
        "joined_on",
        th.DateType,
        description="Changes mode: the updated_on of the list that started it.",
    ),
    th.Property(
        "left_at",
        th.DateTimeType,
        description="Changes mode: when the tap fetched the first list without the "
        "member; null while the member is in the audience (always null in full mode).",
    ),
    _LEFT_ON,
    th.Property(
        "_sdc_deleted_at",
        th.DateTimeType,
        description="Changes mode: left_at, the Singer convention for a removed row; "
        "null otherwise.",
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

MEMBERSHIP_PERIODS_SCHEMA = th.PropertiesList(
    *_AUDIENCE_FIELDS,
    th.Property(
        "member_id", th.StringType, required=True, description="The member's id."
    ),
    th.Property(
        "joined_at",
        th.DateTimeType,
        required=True,
        description="When the tap fetched the first list of the stint (UTC; never "
        "earlier than the stint before it): part of the key.",
    ),
    th.Property(
        "joined_on",
        th.DateType,
        required=True,
        description="The updated_on of that list.",
    ),
    _LEFT_AT,
    _LEFT_ON,
).to_dict()
