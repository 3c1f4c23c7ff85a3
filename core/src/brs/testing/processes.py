"""Server processes in tests: free ports, waiting until a server answers, stopping it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from brs.processes import free_port, stop_process

__all__ = ["free_port", "kill_server", "stop_server", "wait_for_http", "wait_for_port"]

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
