"""The one door to the MX API: every request goes through `MxApiClient.request`.

It adds the bearer token (renewed before its JWT runs out, and once more when
the API answers 401), retries what is transient (429, 5xx, dropped
connections, a response its reader found cut short) and turns any other
answer into one `ApiError` line naming the status and the URL, never the
token. The list download is built on it (`download.py`); another endpoint
needs only its path and a reader of its response.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TypeVar

import requests

from tap_mx_audience.api.auth import MxAudienceAuthenticator
from tap_mx_audience.api.retries import (
    RETRYABLE_STATUSES,
    RetryableError,
    gave_up,
    http_policy,
    retry_after,
)
from tap_mx_audience.errors import ApiError
from tap_mx_audience.retrying import retried
from tap_mx_audience.settings import Settings

logger = logging.getLogger("tap-mx-audience")

CONNECT_TIMEOUT_SECONDS = 15.0
AUTH_LABEL = "MX token endpoint"
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_Read = TypeVar("_Read")


class MxApiClient:
    """Authenticated, retried GET requests to one MX environment."""

    def __init__(self, settings: Settings) -> None:
        """Build the authenticator and the retry policy from the settings."""
        self._settings = settings
        self.authenticator = MxAudienceAuthenticator(
            token_url=f"{settings.api_url}/api/token",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            timeout_seconds=settings.request_timeout_seconds,
        )
        self._policy = http_policy(
            max_retries=settings.max_retries,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        )
        self._sessions = threading.local()

    def authenticate(self) -> None:
        """Get a token now: bad credentials or `api_url` stop the run up front."""
        self._retried(AUTH_LABEL, self.authenticator.current_token)

    def request(  # noqa: PLR0913 - one keyword per part of a request
        self,
        path: str,
        *,
        label: str,
        read: Callable[[requests.Response], _Read],
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
        not_found: str = "",
    ) -> _Read:
        """GET `path` (below `api_url`) and return what `read` makes of the response.

        `read` runs inside the retries: raising `RetryableError` (a body cut
        short) sends the request again. `label` names the call in log lines
        and errors; `not_found` is what a 404 tells the user to check.
        """

        def attempt() -> _Read:
            with self._get(path, params or {}, accept, label, not_found) as response:
                return read(response)

        return self._retried(label, attempt)

    def _retried(self, label: str, call: Callable[[], _Read]) -> _Read:
        try:
            return retried(self._policy, label, call)
        except RetryableError as exc:
            raise gave_up(exc, self._settings.max_retries) from None

    def _get(
        self,
        path: str,
        params: Mapping[str, str],
        accept: str,
        label: str,
        not_found: str,
    ) -> requests.Response:
        """Send the GET, renewing the token once if the API calls it invalid."""
        response = self._send(path, params, accept)
        if response.status_code == HTTPStatus.UNAUTHORIZED:  # revoked or expired early
            response.close()
            logger.info("%s: token refused (HTTP 401); renewing it once", label)
            self.authenticator.invalidate(_bearer(response))
            response = self._send(path, params, accept)
        if response.ok:
            return response
        response.close()
        raise _status_error(response, not_found)

    def _send(
        self, path: str, params: Mapping[str, str], accept: str
    ) -> requests.Response:
        timeout = (CONNECT_TIMEOUT_SECONDS, self._settings.request_timeout_seconds)
        try:
            return self._session().get(
                f"{self._settings.api_url}{path}",
                params=params,
                headers={"Accept": accept},
                auth=self.authenticator,
                timeout=timeout,
                stream=True,
            )
        except TRANSPORT_ERRORS as exc:
            msg = f"could not reach {self._settings.api_url} ({describe(exc)})"
            raise RetryableError(msg) from None

    def _session(self) -> requests.Session:
        """This download thread's session, so its connection is reused.

        `requests.get` opens a new connection (and TLS handshake) per audience:
        twice the CPU of a reused one (1.6 against 0.9 ms for a small list on
        loopback). A session is not shared between threads.
        """
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session


def describe(exc: BaseException) -> str:
    """Name a transport failure in a few words; its full text can be pages long."""
    detail = str(exc).rsplit(": ", 1)[-1].strip(" ')\"(")
    return f"{type(exc).__name__}: {detail[:120]}" if detail else type(exc).__name__


def _bearer(response: requests.Response) -> str:
    header = str(response.request.headers.get("Authorization", ""))
    return header.removeprefix("Bearer ")


def _status_error(response: requests.Response, not_found: str) -> ApiError:
    status = response.status_code
    where = f"HTTP {status} from GET {response.url}"
    if status == HTTPStatus.UNAUTHORIZED:
        return ApiError(
            f"token refused twice ({where}); were the credentials revoked?", status
        )
    if status == HTTPStatus.FORBIDDEN:
        return ApiError(
            f"forbidden ({where}): these credentials may not read it", status
        )
    if status == HTTPStatus.NOT_FOUND:
        hint = f": check {not_found}" if not_found else ""
        return ApiError(f"not found ({where}){hint}", status)
    if status in RETRYABLE_STATUSES:
        return RetryableError(
            f"the API answered {where}",
            status,
            retry_after(response.headers.get("Retry-After")),
        )
    return ApiError(f"the API answered {where}", status)
