"""The two endpoints the tap uses: create an access token, get an audience list.

Each returns an Outcome: what to answer, how a fault changes its delivery,
and the request-log record. Sockets are the server module's business.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import urllib.parse
from http.client import responses as reason_phrases
from typing import TYPE_CHECKING

from mx_audience_emulator.listbodies import list_response
from mx_audience_emulator.responses import (
    JSON_TYPE,
    Body,
    Response,
    error_response,
    json_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mx_audience_emulator.faults import Fault
    from mx_audience_emulator.model import EmulatorConfig
    from mx_audience_emulator.requestlog import RequestRecord
    from mx_audience_emulator.state import EmulatorState
    from mx_audience_emulator.tokens import TokenCheck

_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title>"
    b"</head>\n<body><center><h1>503 Service Temporarily Unavailable</h1></center>"
    b"<hr><center>gateway</center></body></html>\n"
)
_EXPIRED = 'Bearer error="invalid_token", error_description="The access token expired"'
_INVALID = 'Bearer error="invalid_token"'
_DELIVERY_FAULTS = frozenset({"drop_mid_body", "truncate", "slow_body", "stall"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How to answer one API request."""

    response: Response | None
    """What to send; None to drop the connection without a word."""
    delivery: Fault | None
    """A fault that changes how `response` goes out, if any."""
    record: RequestRecord
    """The request-log entry for this request."""


def token_request(state: EmulatorState, body: bytes, record: RequestRecord) -> Outcome:
    """`POST /api/token`: trade client credentials for a JWT."""
    fault = state.faults.take("token", set())
    config = state.config
    return _outcome(fault, lambda: _issue_token(state, config, body), record)


def list_request(  # noqa: PLR0913 - one argument per request part it depends on
    state: EmulatorState,
    id_or_slug: str,
    *,
    query: str,
    headers: dict[str, str],
    now: float,
    record: RequestRecord,
) -> Outcome:
    """`GET /api/v1/audience/{id_or_slug}/list`: the whole audience in one body.

    `headers` have lower-cased names; `now` (the arrival time) judges token
    expiry; `record` is the request-log entry so far.
    """
    institution = urllib.parse.parse_qs(query).get("institution_public_id", [None])[0]
    audience = state.config.find(id_or_slug, institution)
    names = {id_or_slug}
    if audience is not None:
        names |= {name for name in (audience.audience_id, audience.slug) if name}
    fault = state.faults.take("list", names)
    token = _bearer(headers.get("authorization", ""))
    check = state.tokens.check(token, now) if token else None

    def answer() -> Response:
        if check is None or not check.valid:
            return error_response(401, "invalid_token", ("WWW-Authenticate", _INVALID))
        if audience is None:
            return error_response(404, "not_found")
        if audience.forbidden:
            return error_response(403, "forbidden")
        return list_response(
            audience,
            csv=_wants_csv(headers.get("accept", "")),
            gzip=audience.gzip and "gzip" in headers.get("accept-encoding", ""),
        )

    record = _with_token(dataclasses.replace(record, id_or_slug=id_or_slug), check)
    return _outcome(fault, answer, record)


def _issue_token(state: EmulatorState, config: EmulatorConfig, body: bytes) -> Response:
    """A token for good credentials, `invalid_client` for anything else."""
    client_id, secret = _credentials(body)
    known = any(
        hmac.compare_digest(client.client_id.encode(), client_id.encode())
        and hmac.compare_digest(client.client_secret.encode(), secret.encode())
        for client in config.clients
    )
    if not known:
        return error_response(401, "invalid_client")
    lifetime = config.token_lifetime_seconds
    issued = state.tokens.issue(client_id, lifetime, exp_claim=config.include_exp_claim)
    payload: dict[str, object] = {config.token_key: issued.jwt, "token_type": "Bearer"}
    if config.include_expires_in:
        payload["expires_in"] = lifetime
    return json_response(200, payload, ("Cache-Control", "no-store"))


def _outcome(
    fault: Fault | None, answer: Callable[[], Response], record: RequestRecord
) -> Outcome:
    """Let a fault replace the answer, or only change how it is delivered."""
    if fault is not None and fault.kind == "drop_before_headers":
        return Outcome(None, None, dataclasses.replace(record, fault=fault.kind))
    if fault is None or fault.kind in _DELIVERY_FAULTS:
        response = answer()
    else:
        response = _fault_response(fault)
    record = dataclasses.replace(
        record, status=response.status, fault=fault.kind if fault else None
    )
    return Outcome(
        response, fault if fault and fault.kind in _DELIVERY_FAULTS else None, record
    )


def _fault_response(fault: Fault) -> Response:
    """The response a replacing fault serves instead of the real one."""
    if fault.kind == "html_200":
        return Response(200, Body.of(_HTML_PAGE, "text/html; charset=utf-8"))
    if fault.kind == "expire_token":
        return error_response(401, "invalid_token", ("WWW-Authenticate", _EXPIRED))
    status = fault.status or 200
    headers = (("Retry-After", fault.retry_after),) if fault.retry_after else ()
    payload = fault.payload()
    if payload is None:
        return error_response(status, reason_phrases.get(status, "error"), *headers)
    return Response(
        status,
        Body.of(
            payload, JSON_TYPE if fault.content_type is None else fault.content_type
        ),
        headers,
    )


def _credentials(body: bytes) -> tuple[str, str]:
    """client_id and client_secret from a JSON or form-encoded body ("" if absent)."""
    try:
        fields = json.loads(body)
    except ValueError:
        fields = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
    if not isinstance(fields, dict):
        return "", ""
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str):
        return "", ""
    return client_id, secret


def _bearer(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _with_token(record: RequestRecord, check: TokenCheck | None) -> RequestRecord:
    """Add to a list request's record what the presented token was like."""
    if check is None:
        return dataclasses.replace(
            record, token_presented=False, token_valid=False, token_expired=False
        )
    return dataclasses.replace(
        record,
        token_presented=True,
        token_valid=check.valid,
        token_expired=check.expired,
    )


def _wants_csv(accept: str) -> bool:
    """Whether the first JSON or CSV media type the client accepts is CSV."""
    for media_range in accept.split(","):
        media_type = media_range.partition(";")[0].strip().lower()
        if media_type == "text/csv":
            return True
        if media_type == "application/json":
            return False
    return False
