"""HTTP proxies for storage tests: a plain relay to build on, and one that fails on purpose.

Put :class:`FlakyProxy` between a storage driver and its (emulated) server to prove that the
driver retries throttled requests and resumes downloads that break mid-body. Subclass
:class:`RelayProxy` for other man-in-the-middle needs (TLS termination, URL rewriting).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

__all__ = ["FlakyProxy", "InFlightProxy", "RelayProxy"]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}
"""Headers that belong to one connection and are never relayed."""


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up on a connection (after a 503, or an aborted TLS handshake) are
    expected, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class RelayProxy:
    """Forwards every request to ``upstream`` (``http://host:port``) on a free 127.0.0.1 port.

    Subclasses change what passes through by overriding :meth:`intercept` (answer a request
    themselves), :meth:`rewrite_header` / :meth:`rewrite_body` (change the response) and
    :meth:`deliver` (how the body reaches the client).
    """

    #: Scheme of :attr:`endpoint`; a subclass that wraps the socket in TLS sets ``https``.
    scheme = "http"
    #: Seconds an idle keep-alive connection is kept (None: as long as the client wants).
    idle_timeout: float | None = None

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())

    @property
    def endpoint(self) -> str:
        """The proxy's own ``scheme://127.0.0.1:port``."""
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def intercept(self, handler: BaseHTTPRequestHandler) -> bool:
        """Answer the request instead of relaying it; True when it was answered."""
        return False

    def rewrite_header(self, handler: BaseHTTPRequestHandler, key: str, value: str) -> str:
        """The value of response header ``key`` as the client gets it."""
        return value

    def rewrite_body(self, handler: BaseHTTPRequestHandler, response: http.client.HTTPResponse, data: bytes) -> bytes:
        """The response body as the client gets it."""
        return data

    def deliver(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        """Write the response body to the client."""
        handler.wfile.write(data)

    def _relay(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if self.intercept(handler):
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=60)
        try:
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = self.rewrite_body(handler, response, response.read())
        finally:
            upstream.close()
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                handler.send_header(key, self.rewrite_header(handler, key, value))
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            self.deliver(handler, data)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = proxy.idle_timeout

            def log_message(self, *_args: object) -> None:
                pass

            def _relay(self) -> None:
                proxy._relay(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _relay

        return Handler

    @contextmanager
    def running(self) -> Iterator[Self]:
        """Serve in a background thread until the block ends."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


class InFlightProxy(RelayProxy):
    """A relay that holds every upload of at least ``min_body`` bytes (a part, a block) for
    ``hold`` seconds before passing it on, and records in :attr:`peak` how many were held at
    once: how many parts the client really sends in parallel::

        with InFlightProxy(server.endpoint).running() as proxy:
            ...  # upload through proxy.endpoint
        assert proxy.peak == 4
    """

    def __init__(self, upstream: str, hold: float = 0.5, min_body: int = 1 << 20) -> None:
        super().__init__(upstream)
        self.hold, self.min_body = hold, min_body
        #: Uploads held at once, at most; and how many were held in all.
        self.peak = self.held = 0
        self._now = 0
        self._lock = threading.Lock()

    def intercept(self, handler: BaseHTTPRequestHandler) -> bool:
        if handler.command == "PUT" and int(handler.headers.get("Content-Length") or 0) >= self.min_body:
            with self._lock:
                self._now += 1
                self.held += 1
                self.peak = max(self.peak, self._now)
            time.sleep(self.hold)
            with self._lock:
                self._now -= 1
        return False


class FlakyProxy(RelayProxy):
    """A relay where every ``every``-th request fails with 503.

    The 503 carries an S3-style ``SlowDown`` body; the Azure and GCS clients retry on the status
    alone. ``requests`` and ``injected`` count what went through and what failed::

        with FlakyProxy(server.endpoint, every=3).running() as proxy:
            ...  # point the driver at proxy.endpoint
        assert proxy.injected > 0
    """

    def __init__(self, upstream: str, every: int = 3, cut_get_after: int | None = None) -> None:
        super().__init__(upstream)
        self.every = every
        #: When set, the first GET whose body is longer gets only this many bytes before the
        #: connection closes: a download broken mid-body.
        self.cut_get_after = cut_get_after
        self.cut = 0
        self.requests = 0
        self.injected = 0
        self._lock = threading.Lock()

    def _should_fail(self) -> bool:
        with self._lock:
            self.requests += 1
            fail = self.requests % self.every == 0
            self.injected += fail
            return fail

    def _should_cut(self, size: int) -> bool:
        with self._lock:
            if self.cut_get_after is None or self.cut or size <= self.cut_get_after:
                return False
            self.cut += 1
            return True

    def intercept(self, handler: BaseHTTPRequestHandler) -> bool:
        if not self._should_fail():
            return False
        payload = b"<Error><Code>SlowDown</Code><Message>injected by the test</Message></Error>"
        handler.send_response(503)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        return True

    def deliver(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        if handler.command == "GET" and self._should_cut(len(data)):
            handler.wfile.write(data[: self.cut_get_after])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(data)
