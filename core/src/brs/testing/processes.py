"""Server processes in tests: free ports, waiting until a server answers, stopping it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, Protocol, Self, TypeVar

from brs.processes import free_port, stop_process

__all__ = [
    "ServerProcess",
    "free_port",
    "kill_server",
    "serve",
    "server_factory",
    "stop_server",
    "wait_for_http",
    "wait_for_port",
]

#: Seconds a test server gets after SIGTERM, and again after SIGKILL.
STOP_TIMEOUT = 10.0


def stop_server(process: subprocess.Popen[Any] | None, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; nothing for a missing or ended process."""
    if process is not None:
        stop_process(process, timeout, kill_timeout=timeout)


def kill_server(process: subprocess.Popen[Any] | None) -> None:
    """SIGKILL: the server dies mid-request, as in a crash."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(STOP_TIMEOUT)


def wait_for_port(
    port: int, process: subprocess.Popen[Any] | None, timeout: float = 30, *, name: str = "server", poll: float = 0.05
) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections.

    Raises :class:`RuntimeError` when ``process`` exits first or nothing listens within
    ``timeout`` seconds; the caller decides whether to stop the process.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen within {timeout:.0f}s") from None
            time.sleep(poll)


def wait_for_http(
    url: str, process: subprocess.Popen[Any] | None, timeout: float = 30, *, poll: float = 0.1, **kwargs: Any
) -> None:
    """Wait until ``url`` answers with any HTTP status (an error status still means "up").

    ``kwargs`` go to :func:`urllib.request.urlopen` (e.g. an SSL ``context``). Raises
    :class:`RuntimeError` when ``process`` exits first or ``url`` stays silent for ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2, **kwargs).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(poll)


class ServerProcess:
    """Mixin for a test server run as one subprocess, kept in ``self.process``.

    The class (often a dataclass) declares ``process`` and implements ``start()``, which ends
    with ``return self.ready(lambda: wait_for_...(...))``.
    """

    process: subprocess.Popen[bytes] | None

    def ready(self, wait: Callable[[], object]) -> Self:
        """Run ``wait`` until the server answers; when it fails, stop the server and re-raise."""
        try:
            wait()
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as in a crash."""
        kill_server(self.process)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; nothing when it is not running."""
        stop_server(self.process)


class Startable(Protocol):
    """A test server object: ``start()`` returns it once it answers, ``stop()`` ends it."""

    def start(self) -> Self: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


def serve(server: S) -> Iterator[S]:
    """Start ``server``, yield it, stop it; for a fixture body: ``yield from serve(MyServer())``."""
    started = server.start()
    try:
        yield started
    finally:
        started.stop()


def server_factory(make: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """Yield a function that builds (with ``make``) and starts servers; all are stopped after.

    For a fixture body: ``yield from server_factory(MyServer)``; tests that kill or restart a
    server get their own this way.
    """
    made: list[S] = []

    def start(*args: Any, **kwargs: Any) -> S:
        server = make(*args, **kwargs)
        made.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in made:
            server.stop()
