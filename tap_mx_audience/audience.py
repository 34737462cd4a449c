"""What names an audience and the list format asked for: shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ResponseFormat(StrEnum):
    """The body format the tap asks for in `Accept`."""

    JSON = "json"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        """The `Accept` header value for this format."""
        return "text/csv" if self is ResponseFormat.CSV else "application/json"


@dataclass(frozen=True)
class AudienceRef:
    """One configured audience: the unit of download, state and failure."""

    id_or_slug: str
    institution_public_id: str

    @property
    def label(self) -> str:
        """How messages name this audience."""
        return (
            f"audience '{self.id_or_slug}' (institution '{self.institution_public_id}')"
        )

    @property
    def context_key(self) -> tuple[str, str]:
        """The audience's key in state partitions and rows."""
        return (self.id_or_slug, self.institution_public_id)

    @property
    def context(self) -> dict[str, str]:
        """The stream partition (and state partition) for this audience."""
        return {
            "id_or_slug": self.id_or_slug,
            "institution_public_id": self.institution_public_id,
        }
