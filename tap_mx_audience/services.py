"""What one sync needs beyond singer-sdk: the streams' collaborators.

The tap owns one `SyncServices`; the streams are handed it explicitly rather
than reaching through the tap, so the data path reads from this file: settings
in, lists fetched ahead, records out through one writer, failures collected.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tap_mx_audience.api import AudienceFetcher, FetchedAudience, MxAudienceClient
from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.delivery.output import BufferedSingerWriter
from tap_mx_audience.delivery.plan import DeliveryPlan
from tap_mx_audience.delivery.snapshots import SnapshotStore
from tap_mx_audience.delivery.statewriter import ThrottledStateWriter
from tap_mx_audience.errors import AudienceFailedError, SyncIncompleteError
from tap_mx_audience.settings import Settings


@dataclass
class RunSummary:
    """What one run did, for its closing INFO line."""

    delivered: int = 0
    unchanged: int = 0
    failed: int = 0
    members_sent: int = 0
    bytes_downloaded: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, plan: DeliveryPlan) -> None:
        """Count one audience that was fetched and decided."""
        self.bytes_downloaded += plan.fetched.download.size
        if plan.decision.sends and plan.members_written:
            self.delivered += 1
            self.members_sent += plan.records_sent
        else:
            self.unchanged += 1

    def line(self) -> str:
        """One line a scheduler's log keeps."""
        return (
            f"Run summary: {self.delivered} audience(s) delivered, "
            f"{self.unchanged} unchanged or skipped, {self.failed} failed; "
            f"{self.members_sent} member record(s) sent; "
            f"{self.bytes_downloaded / 1e6:.1f} MB downloaded in "
            f"{time.monotonic() - self.started:.1f} s"
        )


class SyncServices:
    """Settings, the API client, the fetcher, the writer and the failure list.

    Everything is built on first use, so discovery and `--about` never need a
    valid config.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        output: BufferedSingerWriter,
        log_failure: Callable[[AudienceFailedError], None],
    ) -> None:
        """Keep what the services are built from."""
        self._config = config
        self.output = output
        self._log_failure = log_failure
        self.failures: list[AudienceFailedError] = []
        self.summary = RunSummary()
        self.state_writer = ThrottledStateWriter(output)
        self.run_id = datetime.datetime.now(datetime.UTC).isoformat()
        self._identities: dict[tuple[str, str], AudienceRef] = {}

    @cached_property
    def settings(self) -> Settings:
        """The validated settings."""
        return Settings.from_config(self._config)

    @cached_property
    def client(self) -> MxAudienceClient:
        """The MX API client, with its token, for this sync."""
        return MxAudienceClient(self.settings)

    @cached_property
    def snapshot_store(self) -> SnapshotStore | None:
        """Changes mode's store of delivered member sets; None in full mode."""
        url = self.settings.snapshot_store
        return None if url is None else SnapshotStore(url)

    @cached_property
    def fetcher(self) -> AudienceFetcher:
        """Downloads the lists, ahead of the stream, for this sync."""
        return AudienceFetcher(self.client, self.settings)

    def claim_identity(self, fetched: FetchedAudience) -> AudienceRef | None:
        """The configured audience that already showed the same API identity, if any.

        One audience configured twice (once by slug, once by id) would be
        delivered twice under two keys; the body's `audience_id` reveals it.
        """
        reported = fetched.summary.audience_id
        if reported is None:
            return None
        institution = (
            fetched.summary.institution_id or fetched.audience.institution_public_id
        )
        first = self._identities.setdefault((reported, institution), fetched.audience)
        return None if first == fetched.audience else first

    def report_failure(self, failure: AudienceFailedError) -> None:
        """Record an audience that could not be delivered; the sync goes on."""
        self._log_failure(failure)
        self.failures.append(failure)
        self.summary.failed += 1

    def raise_for_failures(self) -> None:
        """End a sync in which some audiences failed with a non-zero exit."""
        if self.failures:
            raise SyncIncompleteError(self.failures)

    def close(self) -> None:
        """Flush the state and what is buffered; stop downloads nobody will read."""
        self.state_writer.flush()
        self.output.flush()
        if "fetcher" in self.__dict__:
            self.fetcher.close()
