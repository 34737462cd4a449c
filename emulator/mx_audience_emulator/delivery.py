"""Write a response to the socket, as told or as a delivery fault bends it.

Content-Length is always sent, so a client can tell a cut body from a whole
one; when a fault cuts the body, the connection is closed after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterator
    from http.server import BaseHTTPRequestHandler

    from mx_audience_emulator.faults import Fault
    from mx_audience_emulator.responses import Response


def deliver(
    handler: BaseHTTPRequestHandler,
    response: Response,
    fault: Fault | None,
    stopping: threading.Event,
) -> None:
    """Send `response` on the handler's connection, applying a delivery fault.

    `fault` is a `drop_mid_body`, `truncate`, `slow_body` or `stall` fault, or
    None; `stopping` is set when the server stops, to cut fault delays short.
    """
    body = response.body
    kind = fault.kind if fault else None
    half = body.length // 2
    handler.send_response(response.status)
    if body.content_type:
        handler.send_header("Content-Type", body.content_type)
    handler.send_header(
        "Content-Length", str(half if kind == "truncate" else body.length)
    )
    for name, value in response.headers:
        handler.send_header(name, value)
    if kind == "truncate":
        handler.send_header("Connection", "close")
    handler.end_headers()
    stream = _ByteStream(body.chunks())
    write = handler.wfile.write
    if fault is not None and kind == "slow_body":
        piece = -(-body.length // fault.pieces)
        for number in range(fault.pieces):
            if number:
                stopping.wait(fault.delay_seconds)
            stream.copy(write, piece)
    elif fault is not None and kind in {"drop_mid_body", "truncate", "stall"}:
        stream.copy(write, half)
        if kind == "stall":
            stopping.wait(fault.delay_seconds)
        handler.close_connection = True
    else:
        stream.copy(write, body.length)


class _ByteStream:
    """Copy exact byte counts out of a stream of chunks of any size."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def copy(self, write: Callable[[memoryview], object], count: int) -> None:
        """Write the next `count` bytes (fewer if the stream ends first)."""
        while count > 0:
            if not self._left:
                chunk = next(self._chunks, None)
                if chunk is None:
                    return
                self._left = memoryview(chunk)
            piece = self._left[:count]
            write(piece)
            count -= len(piece)
            self._left = self._left[len(piece) :]
