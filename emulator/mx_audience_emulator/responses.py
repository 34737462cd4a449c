"""A response as the emulator sends it: status, headers and a streamable body.

The body is a length plus a way to (re)generate its chunks, so huge bodies are
never built in memory and faults can cut them at a known byte offset.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

JSON_TYPE = "application/json"


@dataclasses.dataclass(frozen=True)
class Body:
    """`length` bytes of `content_type`, produced by calling `chunks`."""

    content_type: str
    length: int
    chunks: Callable[[], Iterator[bytes]]

    @classmethod
    def of(cls, data: bytes, content_type: str) -> Body:
        """A body already in memory (errors, tokens, admin answers)."""
        return cls(content_type, len(data), lambda: iter((data,)))


@dataclasses.dataclass(frozen=True)
class Response:
    """What to answer, before any fault changes how it is delivered."""

    status: int
    body: Body
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, *headers: tuple[str, str]) -> Response:  # noqa: ANN401
    """A compact JSON response, the emulator's default for everything but lists."""
    data = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, Body.of(data, JSON_TYPE), headers)


def error_response(status: int, error: str, *headers: tuple[str, str]) -> Response:
    """The `{"error": ...}` body a gateway would send."""
    return json_response(status, {"error": error}, *headers)
