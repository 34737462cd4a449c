"""The admin API under `/_emulator/`.

Tests, demos and benchmarks in other processes shape the emulator's world
through it.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING

from mx_audience_emulator.faults import Fault
from mx_audience_emulator.jsonmodel import ConfigError, from_json_dict, to_json_dict
from mx_audience_emulator.model import Audience, EmulatorConfig
from mx_audience_emulator.responses import Response, error_response, json_response

if TYPE_CHECKING:
    from mx_audience_emulator.state import EmulatorState

PREFIX = "/_emulator/"


def admin_request(
    state: EmulatorState, method: str, path: str, body: bytes
) -> Response:
    """Answer one admin request; bad JSON or settings are a 400 naming the problem."""
    parts = tuple(urllib.parse.unquote(part) for part in path[len(PREFIX) :].split("/"))
    try:
        return _dispatch(state, method, parts, body)
    except ConfigError as error:
        return json_response(400, {"error": "bad_request", "detail": str(error)})


def _dispatch(  # noqa: C901, PLR0911, PLR0912 - one case per admin route reads best
    state: EmulatorState, method: str, parts: tuple[str, ...], body: bytes
) -> Response:
    match (method, *parts):
        case ("GET", "health"):
            return json_response(200, {"ok": True})
        case ("GET", "config"):
            return json_response(200, state.config.to_dict())
        case ("PUT", "config"):
            state.set_config(EmulatorConfig.from_dict(_json(body)))
            return json_response(200, state.config.to_dict())
        case ("POST", "reset"):
            state.reset()
            return json_response(200, {"ok": True})
        case ("PUT", "audiences", audience_id):
            audience = from_json_dict(
                Audience, {"audience_id": audience_id, **_object(body)}
            )
            if audience.audience_id != audience_id:
                msg = "audience_id in the body differs from the path"
                raise ConfigError(msg)
            state.put_audience(audience)
            return json_response(200, to_json_dict(audience))
        case ("PATCH", "audiences", audience_id):
            patched = state.patch_audience(audience_id, _object(body))
            if patched is None:
                return error_response(404, "not_found")
            return json_response(200, to_json_dict(patched))
        case ("DELETE", "audiences", audience_id):
            found = state.delete_audience(audience_id)
            return (
                json_response(200, {"ok": True})
                if found
                else error_response(404, "not_found")
            )
        case ("GET", "audiences", audience_id, "members"):
            members = state.members(audience_id)
            return (
                error_response(404, "not_found")
                if members is None
                else json_response(200, members)
            )
        case ("GET", "faults"):
            return json_response(
                200, [fault.to_dict() for fault in state.faults.pending()]
            )
        case ("POST", "faults"):
            fault = Fault.from_dict(_json(body))
            state.faults.add(fault)
            return json_response(200, fault.to_dict())
        case ("DELETE", "faults"):
            state.faults.clear()
            return json_response(200, {"ok": True})
        case ("POST", "revoke"):
            state.tokens.revoke_all()
            return json_response(200, {"ok": True})
        case ("GET", "requests"):
            return json_response(
                200, [record.to_dict() for record in state.log.records()]
            )
        case ("DELETE", "requests"):
            state.log.clear()
            return json_response(200, {"ok": True})
    return error_response(404, "not_found")


def _json(body: bytes) -> object:
    """Parse a request body as JSON."""
    try:
        return json.loads(body)
    except ValueError as error:
        msg = f"body is not JSON: {error}"
        raise ConfigError(msg) from None


def _object(body: bytes) -> dict[str, object]:
    """Parse a request body as a JSON object."""
    data = _json(body)
    if not isinstance(data, dict):
        msg = "body must be a JSON object"
        raise ConfigError(msg)
    return data
