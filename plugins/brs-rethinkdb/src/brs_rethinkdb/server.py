"""A private RethinkDB server on free loopback ports, used to load a dump into a data directory."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from brs import processes
from brs.processes import free_port, stop_process
from brs.errors import ConfigError, DatabaseError

from brs_rethinkdb.connection import AuthRejected, connect

__all__ = ["TemporaryServer", "free_port"]

#: Seconds a stopping server gets after SIGTERM before it is killed.
STOP_TIMEOUT = 60.0


class TemporaryServer:
    """``rethinkdb`` on ``directory``, listening only on loopback, with no web console.

    The admin password is handed over in a 0600 config file below ``workdir``
    (``initial-password=``, the config-file form of ``--initial-password``), so it never shows
    on a command line. Used as a context manager, the process is always stopped on exit.
    """

    def __init__(
        self, binary: Path, directory: Path, workdir: Path, password: str | None, log: logging.Logger | None = None
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.workdir = workdir
        self.password = password
        self.driver_port = 0
        self.cluster_port = 0
        self.config_file = workdir / "rethinkdb.conf"
        self.log_path = workdir / "rethinkdb.log"
        self._log = log or logging.getLogger("brs.database.rethinkdb")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> TemporaryServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.driver_port}"

    def write_config(self) -> None:
        """The config file with the initial admin password (owner-only)."""
        lines = []
        if self.password:
            if "\n" in self.password or "\r" in self.password:
                raise ConfigError("the RethinkDB admin password must be a single line")
            lines.append(f"initial-password={self.password}")
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # the server reads the password's UTF-8 bytes
            handle.write("".join(line + "\n" for line in lines))

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--directory", str(self.directory),
            "--bind", "127.0.0.1",
            "--driver-port", str(self.driver_port),
            "--cluster-port", str(self.cluster_port),
            "--no-http-admin",
            "--no-update-check",
            "--config-file", str(self.config_file),
        ]  # fmt: skip

    def start(self, timeout: float) -> None:
        """Start the server and wait until it accepts the admin password."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.driver_port, self.cluster_port = free_port(), free_port()
        with open(self.log_path, "ab") as log_file:
            try:
                self._process = processes.popen(
                    self.command(),
                    die_with_parent=signal.SIGKILL,  # a temporary server never outlives a killed brs
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            except OSError as error:
                raise DatabaseError(f"cannot start {self.binary}: {error.strerror or error}") from error
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            code = self._process.poll()
            if code is not None:
                raise DatabaseError(f"temporary RethinkDB server exited with code {code}: {self.last_output()}")
            try:
                connect("127.0.0.1", self.driver_port, self.password).close()
                return
            except AuthRejected:
                raise
            except DatabaseError:
                pass
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"temporary RethinkDB server did not accept connections within {timeout:.0f}s: {self.last_output()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def stop(self) -> bool:
        """SIGTERM, wait, then SIGKILL; returns True when the process ended on SIGTERM."""
        process, self._process = self._process, None
        if process is None:
            return True
        return stop_process(process, STOP_TIMEOUT, log=self._log, what="temporary RethinkDB server")

    def last_output(self) -> str:
        """The last line the server printed, for a one-line error."""
        try:
            lines = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        return lines[-1] if lines else "no output"
