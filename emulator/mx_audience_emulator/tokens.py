"""HS256 JWT access tokens: issue, verify, expire and revoke.

The emulator remembers each token's expiry itself, so it can enforce expiry
even when it is told to leave the `exp` claim out of the JWT.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_HEADER = {"alg": "HS256", "typ": "JWT"}
_FORGET_AFTER_SECONDS = 3600


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token and when it stops being accepted."""

    jwt: str
    expires_at: int


@dataclasses.dataclass(frozen=True)
class TokenCheck:
    """What the emulator found about a presented bearer token."""

    valid: bool
    expired: bool


class TokenRegistry:
    """Issues and checks tokens; thread-safe."""

    def __init__(self) -> None:
        """Sign with a fresh random key, so no other emulator's tokens pass."""
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._expiry: dict[str, int] = {}
        self._revoked: set[str] = set()

    def issue(
        self, client_id: str, lifetime_seconds: int, *, exp_claim: bool
    ) -> IssuedToken:
        """Sign a token for `client_id` that expires `lifetime_seconds` from now."""
        now = int(time.time())
        jti = secrets.token_hex(16)
        payload: dict[str, object] = {"sub": client_id, "iat": now}
        if exp_claim:
            payload["exp"] = now + lifetime_seconds
        payload["jti"] = jti
        signing_input = f"{_b64_json(_HEADER)}.{_b64_json(payload)}"
        jwt = f"{signing_input}.{_b64(self._sign(signing_input))}"
        with self._lock:
            self._expiry = {
                known: expiry
                for known, expiry in self._expiry.items()
                if expiry > now - _FORGET_AFTER_SECONDS
            }
            self._revoked &= self._expiry.keys()
            self._expiry[jti] = now + lifetime_seconds
        return IssuedToken(jwt, now + lifetime_seconds)

    def check(self, jwt: str, now: float) -> TokenCheck:
        """Verify signature, expiry and revocation of a presented token."""
        jti = self._verified_jti(jwt)
        with self._lock:
            expiry = self._expiry.get(jti) if jti else None
            revoked = jti in self._revoked
        if expiry is None:
            return TokenCheck(valid=False, expired=False)
        expired = now >= expiry
        return TokenCheck(valid=not expired and not revoked, expired=expired)

    def revoke_all(self) -> None:
        """Revoke every token issued so far (later tokens still work)."""
        with self._lock:
            self._revoked |= self._expiry.keys()

    def clear_revocations(self) -> None:
        """Make revoked tokens valid again (for a reset between tests)."""
        with self._lock:
            self._revoked.clear()

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()

    def _verified_jti(self, jwt: str) -> str | None:
        """The token's id if it is a well-formed JWT with our signature."""
        parts = jwt.split(".")
        if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        try:
            signature = base64.urlsafe_b64decode(parts[2] + "==")
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(signing_input)):
            return None
        jti = payload.get("jti") if isinstance(payload, dict) else None
        return jti if isinstance(jti, str) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: Mapping[str, object]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())
