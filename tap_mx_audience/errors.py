"""The failures a user can act on, each with a one-line message.

Messages name the setting, the audience or the HTTP status involved and never
carry a configured value that could be a secret.
"""

from __future__ import annotations

from tap_mx_audience.audience import AudienceRef


class TapMxAudienceError(Exception):
    """Base class: anything the tap reports as one line and a non-zero exit."""

    def __init__(self, message: str) -> None:
        """Fold the message onto one line (parser errors can span several)."""
        super().__init__(" ".join(message.split()))


class SettingsError(TapMxAudienceError):
    """A setting is missing or invalid; the message names it, never its value."""

    @classmethod
    def about(cls, setting: str, problem: str) -> SettingsError:
        """Name the setting and say what is wrong with it."""
        return cls(f"Setting '{setting}' {problem}")


class CredentialsRejectedError(TapMxAudienceError):
    """The token endpoint refused the client_id/client_secret pair."""


class ApiError(TapMxAudienceError):
    """A request to the MX API failed for good (after any retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the HTTP status (None for transport failures) for callers."""
        super().__init__(message)
        self.status = status


class AudienceFailedError(TapMxAudienceError):
    """One audience could not be delivered; the others go on."""

    def __init__(self, audience: AudienceRef, reason: str) -> None:
        """Prefix the reason with the audience it concerns."""
        super().__init__(f"{audience.label}: {reason}")
        self.audience = audience
        self.reason = reason


class SyncIncompleteError(TapMxAudienceError):
    """Raised at the end of a sync in which some audiences failed."""

    def __init__(self, failures: list[AudienceFailedError]) -> None:
        """Summarise every failed audience in one line."""
        listed = "; ".join(str(failure) for failure in failures)
        super().__init__(f"{len(failures)} audience(s) failed: {listed}")
        self.failures = failures


class StateError(TapMxAudienceError):
    """The `--state` cannot be used; the message says where in it and why."""

    @classmethod
    def at(cls, path: str, problem: str) -> StateError:
        """Name the place in the state and say what is wrong with it."""
        return cls(f"--state '{path}' {problem}")
