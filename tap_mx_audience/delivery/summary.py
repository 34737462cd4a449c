"""What one run did, for the closing INFO line a scheduler's log keeps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tap_mx_audience.delivery.audience import AudienceDelivery


@dataclass
class RunSummary:
    """Audiences delivered, unchanged and failed; members sent; bytes fetched."""

    delivered: int = 0
    unchanged: int = 0
    failed: int = 0
    members_sent: int = 0
    bytes_downloaded: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, delivery: AudienceDelivery) -> None:
        """Count one audience that was fetched and decided."""
        self.bytes_downloaded += delivery.fetched.download.size
        if delivery.decision.sends and delivery.members_written:
            self.delivered += 1
            self.members_sent += delivery.records_sent
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
