"""Downloads one audience list to a temporary file, through the client's one door.

The list is not paginated, so a body can be hundreds of MB. It is streamed to
an anonymous temporary file (gone when closed, even if the process is killed)
and only handed on once it arrived whole; a download cut short is discarded
and fetched again, never parsed as if complete.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import tempfile
import time
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote

import requests

from tap_mx_audience.api.client import TRANSPORT_ERRORS, MxApiClient, describe
from tap_mx_audience.api.retries import RetryableError
from tap_mx_audience.audience import AudienceRef, ResponseFormat
from tap_mx_audience.errors import ApiError

logger = logging.getLogger("tap-mx-audience")

# Small enough that a slow body still yields chunks between progress lines.
CHUNK_BYTES = 1 << 16
PROGRESS_INTERVAL_SECONDS = 5.0


@dataclass
class Download:
    """A complete list body on local disk, with what the headers told."""

    file: IO[bytes]
    last_modified: datetime.date | None
    downloaded_at: datetime.datetime
    size: int

    def close(self) -> None:
        """Remove the temporary file."""
        self.file.close()


def list_path(audience: AudienceRef) -> str:
    """The list endpoint of one audience, below `api_url`."""
    return f"/api/v1/audience/{quote(audience.id_or_slug, safe='')}/list"


def download_list(
    client: MxApiClient, audience: AudienceRef, response_format: ResponseFormat
) -> Download:
    """Download the whole list body, or raise `ApiError` saying why not."""
    body = tempfile.TemporaryFile(prefix="tap-mx-audience-")  # noqa: SIM115 - owned by the result
    try:
        return client.request(
            list_path(audience),
            params={"institution_public_id": audience.institution_public_id},
            accept=response_format.media_type,
            label=audience.label,
            read=lambda response: _receive(response, body, audience, response_format),
            not_found="its id_or_slug and institution_public_id",
        )
    except BaseException:
        body.close()
        raise


def _receive(
    response: requests.Response,
    body: IO[bytes],
    audience: AudienceRef,
    response_format: ResponseFormat,
) -> Download:
    """Stream one response into `body` (emptied first: this may be a retry)."""
    content_type = response.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() == "text/html":
        msg = (
            f"answered HTTP {response.status_code} with an HTML page instead "
            f"of {response_format.value.upper()}"
        )
        raise ApiError(msg, response.status_code)
    body.seek(0)
    body.truncate()
    progress = _Progress(audience)
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            body.write(chunk)
            progress.advance(len(chunk))
    except TRANSPORT_ERRORS as exc:
        msg = f"the download was cut short ({describe(exc)})"
        raise RetryableError(msg) from None
    body.flush()
    body.seek(0)
    return Download(
        file=body,
        last_modified=_http_date(response.headers.get("Last-Modified")),
        downloaded_at=datetime.datetime.now(datetime.UTC),
        size=progress.received,
    )


class _Progress:
    """Logs a long download every `PROGRESS_INTERVAL_SECONDS`: bytes, rate, audience."""

    def __init__(self, audience: AudienceRef) -> None:
        self._audience = audience
        self._started = self._logged = time.monotonic()
        self.received = 0

    def advance(self, size: int) -> None:
        self.received += size
        now = time.monotonic()
        if now - self._logged >= PROGRESS_INTERVAL_SECONDS:
            self._logged = now
            rate = self.received / (now - self._started)
            logger.info(
                "%s: downloading, %.1f MB so far at %.1f MB/s",
                self._audience.label,
                self.received / 1e6,
                rate / 1e6,
            )


def _http_date(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None
