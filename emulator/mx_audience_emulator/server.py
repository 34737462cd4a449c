"""The HTTP server: real sockets on loopback, one thread per connection."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from mx_audience_emulator.admin import PREFIX, admin_request
from mx_audience_emulator.api import Outcome, list_request, token_request
from mx_audience_emulator.delivery import deliver
from mx_audience_emulator.requestlog import RequestRecord
from mx_audience_emulator.responses import error_response
from mx_audience_emulator.state import EmulatorState

if TYPE_CHECKING:
    from mx_audience_emulator.model import EmulatorConfig

_LOGGER = logging.getLogger(__name__)
_TOKEN_PATH = "/api/token"  # noqa: S105 - a path, not a secret
_LIST_PATH = re.compile(r"/api/v1/audience/([^/]+)/list")
_POLL_SECONDS = 0.05


class EmulatorServer:
    """An MX Audience Service emulator serving from a background thread.

    Use as a context manager, or call `start()` and `stop()`. Tests in the
    same process change the world through `state` (the same state the admin
    API changes): its config, tokens, faults and request log.
    """

    def __init__(
        self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Prepare to serve `config` on `host:port` (port 0 picks a free one).

        A `host` that is not an IPv4 loopback address raises `ValueError`: the
        emulator accepts any token and must not face a network.
        """
        try:
            loopback = ipaddress.IPv4Address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            msg = f"the emulator only binds an IPv4 loopback address, not {host!r}"
            raise ValueError(msg)
        self.state = EmulatorState(config)
        self._address = (host, port)
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running emulator, e.g. `http://127.0.0.1:54321`."""
        host, port = self._running().server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Bind the socket and serve in a daemon thread."""
        if self._server is not None:
            msg = "the emulator is already running"
            raise RuntimeError(msg)
        self._server = _HTTPServer(self._address, self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="mx-audience-emulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket and open connections."""
        server, thread = self._running(), self._thread
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        """Start serving."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def _running(self) -> _HTTPServer:
        if self._server is None:
            msg = "the emulator is not running"
            raise RuntimeError(msg)
        return self._server


class _HTTPServer(ThreadingHTTPServer):
    """Threading server that knows its state and can close live connections."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: EmulatorState) -> None:
        self.state = state
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, live: bool) -> None:
        """Note a connection opening or closing, so `stop()` can close it."""
        with self._connections_lock:
            if live:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down keep-alive and stalled connections still open."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class _Handler(BaseHTTPRequestHandler):
    """Routes each request to the API or the admin API and writes the answer."""

    protocol_version = "HTTP/1.1"
    server_version = "mx-audience-emulator"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        """Track the connection while it is open."""
        super().setup()
        self.server.track(self.connection, live=True)

    def finish(self) -> None:
        """Stop tracking the connection."""
        try:
            super().finish()
        finally:
            self.server.track(self.connection, live=False)

    def do_GET(self) -> None:
        """Answer a GET."""
        self._handle()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Answer a PUT."""
        self._handle()

    def do_PATCH(self) -> None:
        """Answer a PATCH."""
        self._handle()

    def do_DELETE(self) -> None:
        """Answer a DELETE."""
        self._handle()

    def version_string(self) -> str:
        """Name the emulator in the Server header, without Python's version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
        """Log request lines at debug level (they hold no token or secret)."""
        _LOGGER.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        """Answer one request; a client that hangs up early is not an error."""
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer(self) -> None:
        arrived = time.time()
        url = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        state, stopping = self.server.state, self.server.stopping
        if url.path.startswith(PREFIX):
            deliver(
                self, admin_request(state, self.command, url.path, body), None, stopping
            )
            return
        latency = state.config.latency_seconds
        if latency:
            stopping.wait(latency)
        outcome = self._api(url, body, arrived)
        state.log.append(outcome.record)
        if outcome.response is None:
            self.close_connection = True
            return
        deliver(self, outcome.response, outcome.delivery, stopping)

    def _api(
        self, url: urllib.parse.SplitResult, body: bytes, arrived: float
    ) -> Outcome:
        """Route an API request to its endpoint."""
        state = self.server.state
        record = RequestRecord(arrived, self.command, url.path, "other")
        list_path = _LIST_PATH.fullmatch(url.path)
        if url.path == _TOKEN_PATH and self.command == "POST":
            return token_request(
                state, body, dataclasses.replace(record, endpoint="token")
            )
        if list_path and self.command == "GET":
            headers = {name.lower(): value for name, value in self.headers.items()}
            id_or_slug = urllib.parse.unquote(list_path[1])
            record = dataclasses.replace(record, endpoint="list")
            return list_request(
                state,
                id_or_slug,
                query=url.query,
                headers=headers,
                now=arrived,
                record=record,
            )
        if url.path == _TOKEN_PATH or list_path:
            response = error_response(405, "method_not_allowed")
        else:
            response = error_response(404, "not_found")
        return Outcome(
            response, None, dataclasses.replace(record, status=response.status)
        )

    def _read_body(self) -> bytes:
        """Read the request body; with framing we cannot follow, close afterwards."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return b""
        return self.rfile.read(length)
