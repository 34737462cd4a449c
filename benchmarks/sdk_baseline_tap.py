"""The typical singer-sdk REST tap, as a benchmark baseline (never shipped).

What most SDK taps do: a `RESTStream` that reads the whole body with
`response.json()` (or `response.text` for CSV) and yields one dict per member
through the SDK's per-record pipeline. Config: api_url, client_id,
client_secret, audience, institution, response_format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import cached_property
from typing import Any, ClassVar

import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.streams import RESTStream
from typing_extensions import override


class MembersStream(RESTStream[Any]):
    """All members of one audience, one RECORD each."""

    name = "audience_members"
    primary_keys: ClassVar[list[str]] = ["audience_id", "member_id"]
    records_jsonpath = "$.list[*]"
    path = "/api/v1/audience/{audience}/list"  # the URL comes from get_url()
    schema = th.PropertiesList(
        th.Property("audience_id", th.StringType),
        th.Property("institution_id", th.StringType),
        th.Property("member_id", th.StringType),
        th.Property("updated_on", th.DateType),
    ).to_dict()

    @property
    @override
    def url_base(self) -> str:
        return str(self.config["api_url"])

    @override
    def get_url(self, context: Any) -> str:
        return f"{self.url_base}/api/v1/audience/{self.config['audience']}/list"

    @override
    def get_url_params(self, context: Any, next_page_token: Any) -> dict[str, Any]:
        return {"institution_public_id": self.config["institution"]}

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        csv_body = self.config.get("response_format") == "csv"
        return {"Accept": "text/csv" if csv_body else "application/json"}

    @cached_property
    @override
    def authenticator(self) -> BearerTokenAuthenticator:
        response = requests.post(
            f"{self.url_base}/api/token",
            json={
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"],
            },
            timeout=60,
        )
        response.raise_for_status()
        return BearerTokenAuthenticator(token=response.json()["access_token"])

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        audience = str(self.config["audience"])
        institution = str(self.config["institution"])
        if self.config.get("response_format") == "csv":
            reader = csv.DictReader(io.StringIO(response.text))
            members: Iterable[Any] = (row["member_id"] for row in reader)
            updated_on = response.headers.get("Last-Modified", "")
        else:
            body = response.json()
            members = extract_jsonpath(self.records_jsonpath, body)
            updated_on = body["updated_on"]
        for member in members:
            yield {
                "audience_id": audience,
                "institution_id": institution,
                "member_id": member,
                "updated_on": updated_on,
            }


class SdkBaselineTap(Tap):
    """The baseline tap: one stream, the SDK's defaults everywhere."""

    name = "tap-sdk-baseline"
    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, required=True),
        th.Property("client_id", th.StringType, required=True),
        th.Property("client_secret", th.StringType, required=True, secret=True),
        th.Property("audience", th.StringType, required=True),
        th.Property("institution", th.StringType, required=True),
        th.Property("response_format", th.StringType),
    ).to_dict()

    @override
    def discover_streams(self) -> list[MembersStream]:
        return [MembersStream(self)]


if __name__ == "__main__":
    SdkBaselineTap.cli()
