"""Helpers for the child processes plugins start: a free loopback port, a polite stop."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
from typing import Any

__all__ = ["free_port", "stop_process"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the caller binds it, so callers that start a server on
    it retry with a new port when the server reports the address in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    process: subprocess.Popen[Any],
    timeout: float,
    *,
    log: logging.Logger | None = None,
    what: str = "process",
    kill_timeout: float | None = None,
) -> bool:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; True when it ended on SIGTERM.

    A process that has already exited counts as stopped on SIGTERM. When it has to be killed,
    ``log`` (if given) gets a warning naming ``what``. ``kill_timeout`` bounds the wait after
    SIGKILL (``None``: wait until it is gone).
    """
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        if log is not None:
            log.warning("%s ignored SIGTERM for %.0fs; killing it", what, timeout)
        process.kill()
        process.wait(timeout=kill_timeout)
        return False
