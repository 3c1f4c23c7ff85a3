"""The sidecar's HTTP API (JSON over ``http.server``).

Routes::

    GET  /healthz                      the process serves requests
    GET  /readyz                       200 once the database may run and answered its probe, else 503
    GET  /v1/initializer[?since=N&timeout=S]
                                       initializer status and the desired database state;
                                       long-polls up to S seconds for a version newer than N
    POST /v1/waiter                    brs wait reports {"state", "generation", "pid"}
    GET  /v1/backups                   committed backups, newest first
    POST /v1/backups                   take a backup now (201; 409 when busy)
    POST /v1/backups/<version>/verify  download and check a backup
    GET  /v1/backups/<version>         one backup, everything its manifest records
    DELETE /v1/backups/<version>[?force=true]  delete one backup
    POST /v1/restore                   {"version": "latest" | id}: stop the database, restore, start it
    POST /v1/prune                     {"dry_run": bool}: apply the sidecar's retention policy now
    GET  /v1/status                    state, running operation, last results, next runs, recorded failures

On a non-loopback address every POST needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from brs import results
from brs.errors import BackupNotFound, BrsError, BusyError, ConfigError, IntegrityError, StorageError
from brs.sidecar.service import Sidecar
from brs.sidecar.state import InitStatus, SidecarState

__all__ = ["ApiServer", "is_loopback"]

log = logging.getLogger("brs.sidecar.api")
MAX_LONG_POLL = 30.0
MAX_BODY = 1 << 16
REQUEST_TIMEOUT = 30.0
_STATUS: list[tuple[type[BrsError], int]] = [
    (BusyError, 409),
    (BackupNotFound, 404),
    (ConfigError, 400),
    (IntegrityError, 422),
    (StorageError, 502),
]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _readiness(state: SidecarState) -> str:
    """The current reason for /readyz: once the initializer is done, whether the database answers
    now (not the initializer's last message, which says nothing after the database stopped)."""
    if state.status is not InitStatus.DONE:
        return state.message
    if state.database_ready:
        return "the database answers its probe"
    return "the database does not answer its probe (starting, stopped for a restore, or down)"


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiServer(ThreadingHTTPServer):
    """Serves :class:`Sidecar` over HTTP; one thread per request, so long polls do not block."""

    daemon_threads = True

    def __init__(self, host: str, port: int, sidecar: Sidecar, token: str | None) -> None:
        if not is_loopback(host) and not token:
            raise ConfigError(f"--bind-addr {host} is reachable from other hosts: set --api-token-file (or bind to 127.0.0.1)")
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), _Handler)
        except OSError as error:
            raise BrsError(f"cannot serve the API on {host}:{port}: {error.strerror or error}") from error
        self.sidecar = sidecar
        self.token = token
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="brs-api", daemon=True)
        self._thread.start()
        host, port = self.server_address[:2]
        log.info("API on http://%s:%d", host, port, extra={"auth": "bearer token" if self.token else "none (loopback only)"})

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    server_version = "brs"
    #: Seconds a client may stay silent (a body shorter than its Content-Length) before its
    #: connection is dropped: a request never holds a thread for long.
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/") if p]
        try:
            if method != "GET":
                self._authorize()
                body = self._body()
            else:
                body = {}
            status, document = self._route(method, parts, query, body)
        except _HttpError as error:
            status, document = error.status, {"error": str(error), "type": "HttpError"}
        except BrsError as error:
            status = next((code for kind, code in _STATUS if isinstance(error, kind)), 500)
            document = {"error": " ".join(str(error).split()), "type": type(error).__name__}
        except Exception as error:
            log.exception("API %s %s failed", method, self.path)
            status, document = 500, {"error": f"internal error: {type(error).__name__}: {error}", "type": "InternalError"}
        self._send(status, document)

    def _authorize(self) -> None:
        token = self.server.token
        if not token:
            return
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise _HttpError(401, "a valid bearer token is required (Authorization: Bearer <token>)")

    def _body(self) -> dict[str, Any]:
        header = (self.headers.get("Content-Length") or "0").strip()
        if not header.isdigit():  # also refuses "-1", which would read until the client hangs up
            raise _HttpError(400, f"Content-Length must be a non-negative integer, not {header[:40]!r}")
        length = int(header)
        if length > MAX_BODY:
            raise _HttpError(413, "request body too large")
        try:
            raw = self.rfile.read(length) if length else b""
        except TimeoutError:
            raise _HttpError(408, f"the request body did not arrive within {REQUEST_TIMEOUT:.0f}s") from None
        if len(raw) < length:
            raise _HttpError(400, f"the request body ended after {len(raw)} of {length} bytes")
        if not raw.strip():
            return {}
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise _HttpError(400, f"body is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise _HttpError(400, "body must be a JSON object")
        return document

    def _send(self, status: int, document: Any) -> None:
        payload = json.dumps(document).encode() + b"\n"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="brs"')
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.debug("client went away before the answer to %s", self.path)

    # -- routes -----------------------------------------------------------------------------
    def _route(self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        sidecar = self.server.sidecar
        route = (method, *parts)
        if route == ("GET", "healthz"):
            return 200, {"ok": True}
        if route == ("GET", "readyz"):
            ready = sidecar.state.database_ready
            return (200 if ready else 503), {
                "ready": ready,
                "status": sidecar.state.status.value,
                "message": _readiness(sidecar.state),
            }
        if route == ("GET", "v1", "initializer"):
            try:
                since = int(query.get("since", "0"))
                timeout = min(float(query.get("timeout", "0")), MAX_LONG_POLL)
            except ValueError:
                raise _HttpError(400, "since and timeout must be numbers") from None
            return 200, sidecar.state.wait_change(since, timeout)
        if route == ("POST", "v1", "waiter"):
            sidecar.waiter_reported(str(body.get("state")), int(body.get("generation") or 0), body.get("pid"))
            return 200, sidecar.state.snapshot()
        if route == ("GET", "v1", "status"):
            return 200, sidecar.report()
        if route == ("GET", "v1", "backups"):
            return 200, results.listing(sidecar.catalog())
        if route == ("POST", "v1", "backups"):
            manifest = sidecar.backup(trigger="api")
            return 201, results.backup_row(manifest)
        if len(parts) == 3 and parts[:2] == ["v1", "backups"] and method in ("GET", "DELETE"):
            if method == "GET":
                return 200, results.backup_details(sidecar.engine.describe(parts[2]))
            force = query.get("force", "").lower() in ("1", "true", "yes")
            return 200, results.deleted([sidecar.delete(parts[2], force=force)])
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "backups"] and parts[3] == "verify":
            return 200, results.verified(sidecar.verify(parts[2]))
        if route == ("POST", "v1", "prune"):
            dry_run = bool(body.get("dry_run"))
            return 200, results.pruned(sidecar.prune(dry_run), dry_run=dry_run)
        if route == ("POST", "v1", "restore"):
            version = str(body.get("version") or "latest")
            return 200, results.restored(sidecar.restore(version))
        known = {"healthz", "readyz", "v1"}
        raise _HttpError(405 if parts and parts[0] in known and method != "GET" else 404, f"no route {method} /{'/'.join(parts)}")
