"""OAuth client-credentials flow for the MX Audience Service.

MX tokens are JWTs that live about five minutes. The token is fetched lazily,
its lifetime is read from the JWT (`exp` - `iat`, so a skewed local clock does
not matter), and it is renewed a safety margin before it runs out, so no
request ever leaves with an expired token however long the sync runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import requests
from typing_extensions import override

from tap_mx_audience.api.retries import RETRYABLE_STATUSES, RetryableError
from tap_mx_audience.errors import ApiError, CredentialsRejectedError, SettingsError

DEFAULT_TOKEN_LIFETIME_SECONDS = 300.0
MAX_REFRESH_MARGIN_SECONDS = 60.0
REFRESH_MARGIN_FRACTION = 0.2
TIME_RESOLUTION_SECONDS = 1.0
JWT_PARTS = 3  # header.payload.signature
_REJECTED_CREDENTIALS = frozenset(
    {HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}
)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the local monotonic time after which it is not used."""

    value: str
    renew_at: float


class MxAudienceAuthenticator(requests.auth.AuthBase):
    """Adds a valid bearer token to every request; safe to share across threads."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keep the credentials; no request is made until a token is needed."""
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout_seconds = timeout_seconds
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self._session = requests.Session()

    @override
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current_token()}"
        return request

    def current_token(self) -> str:
        """The cached token, renewed first when it is within its safety margin."""
        with self._lock:
            if self._token is None or self._clock() >= self._token.renew_at:
                self._token = self._request_token()
            return self._token.value

    def invalidate(self, rejected_token: str) -> None:
        """Forget a token the API refused (revoked or expired early).

        Only the token that was refused is dropped, so parallel downloads that
        all see the same 401 fetch one new token, not one each.
        """
        with self._lock:
            if self._token is not None and self._token.value == rejected_token:
                self._token = None

    def _request_token(self) -> AccessToken:
        requested_at = self._clock()
        try:
            response = self._session.post(
                self._token_url,
                json={
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Accept": "application/json"},
                timeout=self._timeout_seconds,
            )
        except requests.RequestException as exc:
            msg = (
                f"could not reach the token endpoint {self._token_url} "
                f"({type(exc).__name__})"
            )
            raise RetryableError(msg) from None
        if response.status_code in _REJECTED_CREDENTIALS:
            msg = (
                f"MX rejected the client_id/client_secret (HTTP "
                f"{response.status_code} from {self._token_url}): check the "
                "'client_id' and 'client_secret' settings"
            )
            raise CredentialsRejectedError(msg)
        if response.status_code == HTTPStatus.NOT_FOUND:  # a wrong base URL
            raise SettingsError.about(
                "api_url",
                f"leads to no token endpoint (HTTP 404 from {self._token_url}): "
                "it must be the base URL of your MX environment",
            )
        if response.status_code in RETRYABLE_STATUSES:
            msg = f"the token endpoint answered HTTP {response.status_code}"
            raise RetryableError(msg, response.status_code)
        if not response.ok:
            msg = f"the token endpoint answered HTTP {response.status_code}"
            raise ApiError(msg, response.status_code)
        token, lifetime = _read_token_response(response)
        margin = min(MAX_REFRESH_MARGIN_SECONDS, lifetime * REFRESH_MARGIN_FRACTION)
        return AccessToken(value=token, renew_at=requested_at + lifetime - margin)


def _read_token_response(response: requests.Response) -> tuple[str, float]:
    """Return the token and its lifetime in seconds from a token response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        msg = "The MX token endpoint answered without a JSON object"
        raise ApiError(msg, response.status_code)
    token = body.get("access_token") or body.get("token")
    if not isinstance(token, str) or not token:
        msg = "The MX token response has neither 'access_token' nor 'token'"
        raise ApiError(msg, response.status_code)
    return token, _token_lifetime(token, body.get("expires_in"))


def _token_lifetime(token: str, expires_in: object) -> float:
    """Lifetime from the JWT claims, else `expires_in`, else five minutes.

    JWT times and `expires_in` are whole seconds: a token issued late in second
    `iat` lives up to a second less than `exp - iat`, so that second is not counted.
    """
    claims = _jwt_claims(token)
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is not None:
        lifetime = exp - (time.time() if iat is None else iat)
    else:
        seconds = _number(expires_in)
        lifetime = DEFAULT_TOKEN_LIFETIME_SECONDS if seconds is None else seconds
    return max(0.0, lifetime - TIME_RESOLUTION_SECONDS)


def _jwt_claims(token: str) -> dict[str, Any]:
    """Decode (never verify) a JWT payload; the tap only reads its times."""
    parts = token.split(".")
    if len(parts) != JWT_PARTS:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
