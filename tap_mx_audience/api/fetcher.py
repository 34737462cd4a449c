"""Download and check audiences ahead of the stream that emits them.

While one audience's members are being written, the next ones download in a
bounded pool of threads, so many small audiences behind a slow API do not
wait one after another. Results are handed out strictly in configured order,
which keeps the output and the state deterministic.
"""

from __future__ import annotations

import datetime
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tap_mx_audience.api.client import MxApiClient
from tap_mx_audience.api.download import Download, download_list
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.errors import ApiError, AudienceFailedError
from tap_mx_audience.lists import BodySummary, ListBody, MalformedListError, read_list
from tap_mx_audience.settings import Settings

LONG_WAIT_SECONDS = 1.0
logger = logging.getLogger("tap-mx-audience")


@dataclass
class FetchedAudience:
    """A downloaded list that passed every check, with its resolved fields."""

    audience: AudienceRef
    download: Download
    body: ListBody
    audience_id: str
    institution_id: str
    updated_on: datetime.date

    @property
    def summary(self) -> BodySummary:
        """What the check of the whole body established."""
        return self.body.summary

    def close(self) -> None:
        """Remove the downloaded body."""
        self.download.close()


class AudienceFetcher:
    """Fetches configured audiences, up to `parallel_downloads` ahead."""

    def __init__(self, client: MxApiClient, settings: Settings) -> None:
        """Nothing is downloaded until the first audience is asked for."""
        self._client = client
        self._settings = settings
        self._upcoming = deque(settings.audiences)
        self._pending: deque[tuple[AudienceRef, Future[FetchedAudience]]] = deque()
        self._pool = ThreadPoolExecutor(
            max_workers=settings.parallel_downloads,
            thread_name_prefix="mx-download",
        )

    def fetch(
        self, audience: AudienceRef, on_long_wait: Callable[[], None] = lambda: None
    ) -> FetchedAudience:
        """The checked list of `audience`; raises `AudienceFailedError`.

        `on_long_wait` runs once if the list is not there within
        `LONG_WAIT_SECONDS`: the caller's chance to use the idle time.
        """
        self._top_up()
        if self._pending and self._pending[0][0] == audience:
            _, future = self._pending.popleft()
            self._top_up()
            try:
                return future.result(timeout=LONG_WAIT_SECONDS)
            except TimeoutError:
                on_long_wait()
            return future.result()
        on_long_wait()
        return self._fetch_now(audience)

    def close(self) -> None:
        """Stop downloading ahead and remove bodies nobody will read."""
        self._upcoming.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        while self._pending:
            _, future = self._pending.popleft()
            future.add_done_callback(_discard)

    def _top_up(self) -> None:
        while self._upcoming and len(self._pending) < self._settings.parallel_downloads:
            audience = self._upcoming.popleft()
            self._pending.append(
                (audience, self._pool.submit(self._fetch_now, audience))
            )

    def _fetch_now(self, audience: AudienceRef) -> FetchedAudience:
        try:
            download = download_list(
                self._client, audience, self._settings.response_format
            )
        except ApiError as exc:
            raise AudienceFailedError(audience, str(exc)) from None
        try:
            return self._check(audience, download)
        except MalformedListError as exc:
            download.close()
            raise AudienceFailedError(audience, str(exc)) from None
        except BaseException:
            download.close()
            raise

    def _check(self, audience: AudienceRef, download: Download) -> FetchedAudience:
        body = read_list(
            download.file,
            self._settings.response_format,
            self._settings.csv_member_column,
        )
        logger.debug("%s: %s", audience.label, body.how_read)
        summary = body.summary
        declared = summary.declared_count
        if declared is not None and declared != summary.member_count:
            msg = (
                f"the body's count is {declared} but its list holds "
                f"{summary.member_count} members"
            )
            raise MalformedListError(msg)
        return FetchedAudience(
            audience=audience,
            download=download,
            body=body,
            audience_id=summary.audience_id or audience.id_or_slug,
            institution_id=summary.institution_id or audience.institution_public_id,
            updated_on=summary.updated_on
            or download.last_modified
            or download.downloaded_at.date(),
        )


def _discard(future: Future[FetchedAudience]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()
