"""Fault injection for storage tests: an HTTP proxy that fails requests on purpose.

Put :class:`FlakyProxy` between a storage driver and its (emulated) server to prove that the
driver retries throttled requests and resumes downloads that break mid-body.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["FlakyProxy"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up on a connection (after a 503) are expected, not worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class FlakyProxy:
    """Forwards to ``upstream`` (``http://host:port``); every ``every``-th request fails with 503.

    The 503 carries an S3-style ``SlowDown`` body; the Azure and GCS clients retry on the status
    alone. ``requests`` and ``injected`` count what went through and what failed::

        with FlakyProxy(server.endpoint, every=3).running() as proxy:
            ...  # point the driver at proxy.endpoint
        assert proxy.injected > 0
    """

    def __init__(self, upstream: str, every: int = 3, cut_get_after: int | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.every = every
        #: When set, the first GET whose body is longer gets only this many bytes before the
        #: connection closes: a download broken mid-body.
        self.cut_get_after = cut_get_after
        self.cut = 0
        self.requests = 0
        self.injected = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def endpoint(self) -> str:
        """The proxy's own ``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy._should_fail():
                    payload = b"<Error><Code>SlowDown</Code><Message>injected by the test</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    if body is not None:
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command == "GET" and proxy._should_cut(len(data)):
                        self.wfile.write(data[: proxy.cut_get_after])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _relay

        return Handler

    @contextmanager
    def running(self) -> Iterator[FlakyProxy]:
        """Serve in a background thread until the block ends."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()
