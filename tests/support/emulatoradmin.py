"""Drive the MX API emulator through its admin API, as the tests' other half."""

from __future__ import annotations

from typing import Any

import requests

CLIENT_ID = "test-client"
CLIENT_SECRET = "s3cr3t-test-client-secret-do-not-print"  # noqa: S105 - test credential
INSTITUTION = "INST_TEST"


def audience(audience_id: str, size: int, **fields: Any) -> dict[str, Any]:  # noqa: ANN401
    """An emulator audience definition in the test institution."""
    return {
        "audience_id": audience_id,
        "institution_id": INSTITUTION,
        "size": size,
        "updated_on": "2026-11-20",
        **fields,
    }


class EmulatorAdmin:
    """Admin calls on a running emulator."""

    def __init__(self, url: str) -> None:
        """Talk to the emulator at `url`."""
        self.url = url
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: object = None) -> Any:  # noqa: ANN401
        response = self._session.request(
            method, f"{self.url}/_emulator/{path}", json=body, timeout=30
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def configure(self, audiences: list[dict[str, Any]], **settings: Any) -> None:  # noqa: ANN401
        """Replace the whole world: one test client, these audiences."""
        self._call(
            "PUT",
            "config",
            {
                "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
                "audiences": audiences,
                **settings,
            },
        )
        self._call("DELETE", "faults")
        self.forget_requests()

    def patch(self, audience_id: str, **changes: Any) -> None:  # noqa: ANN401
        """Change some fields of one audience (members leave, join, ...)."""
        self._call("PATCH", f"audiences/{audience_id}", changes)

    def fault(self, kind: str, **params: Any) -> None:  # noqa: ANN401
        """Queue a fault for the next matching request(s)."""
        self._call("POST", "faults", {"kind": kind, **params})

    def members(self, audience_id: str) -> set[str]:
        """The audience's current member ids."""
        return set(self._call("GET", f"audiences/{audience_id}/members"))

    def requests(self) -> list[dict[str, Any]]:
        """The emulator's request log."""
        log = self._call("GET", "requests")
        return list(log["requests"] if isinstance(log, dict) else log)

    def forget_requests(self) -> None:
        """Empty the request log, so that it shows only what comes next."""
        self._call("DELETE", "requests")

    def revoke(self) -> None:
        """Revoke every token issued so far."""
        self._call("POST", "revoke")

    def tap_config(self, *audience_ids: str, **settings: Any) -> dict[str, Any]:  # noqa: ANN401
        """A tap config for these audiences of the test institution."""
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": self.url,
            "audiences": [
                {"id_or_slug": audience_id, "institution_public_id": INSTITUTION}
                for audience_id in audience_ids
            ],
            **settings,
        }
