"""What one run did, for the closing INFO line a scheduler's log keeps."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from tap_mx_audience.delivery.audience import AudienceDelivery


@dataclass
class RunSummary:
    """Lists fetched and failed; audiences whose members changed; records per stream."""

    lists_fetched: int = 0
    bytes_fetched: int = 0
    failed: int = 0
    members_changed: int = 0
    members_unchanged: int = 0
    records: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def fetched(self, size: int) -> None:
        """Count one list that arrived whole (it may still fail later)."""
        self.lists_fetched += 1
        self.bytes_fetched += size

    def sent(self, stream: str, count: int) -> None:
        """Count records of one stream that went out."""
        self.records[stream] += count

    def add(self, delivery: AudienceDelivery) -> None:
        """Count one audience that was delivered (its bookmarks committed)."""
        for stream, count in delivery.sent.items():
            self.sent(stream, count)
        if delivery.members_changed:
            self.members_changed += 1
        else:
            self.members_unchanged += 1

    def line(self) -> str:
        """One line a scheduler's log keeps."""
        sent = ", ".join(f"{count} {stream}" for stream, count in self.records.items())
        return (
            f"Run summary: {self.lists_fetched} list(s) fetched "
            f"({self.bytes_fetched / 1e6:.1f} MB), {self.failed} audience(s) failed; "
            f"members changed in {self.members_changed} audience(s), unchanged in "
            f"{self.members_unchanged}; records sent: {sent or 'none'}; "
            f"{time.monotonic() - self.started:.1f} s"
        )
