"""A private Meilisearch process on a free loopback port (dump imports, upgrade dumps)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from brs import processes
from brs.processes import free_port, stop_process
from brs.errors import DatabaseError

from brs_meilisearch.api import MeiliApi

__all__ = ["TemporaryServer", "free_port"]

#: Seconds a stopping server gets after SIGTERM before it is killed.
STOP_TIMEOUT = 30.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PORT_ATTEMPTS = 3


class TemporaryServer:
    """Runs ``binary`` on ``db_path``, reachable only on loopback with a random master key.

    Everything the process writes besides its database (log, dumps, snapshots, the temporary
    files of a dump import) goes below ``workdir``. Used as a context manager, the process is
    always stopped on exit, also when the body fails.
    """

    def __init__(
        self,
        binary: Path,
        db_path: Path,
        workdir: Path,
        *,
        import_dump: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.binary = binary
        self.db_path = db_path
        self.workdir = workdir
        self.import_dump = import_dump
        self.dump_dir = workdir / "dumps"
        self.log_path = workdir / "meilisearch.log"
        self._log = log or logging.getLogger("brs.database.meilisearch")
        self._master_key = secrets.token_hex(24)
        self._process: subprocess.Popen[bytes] | None = None
        self.api: MeiliApi | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> TemporaryServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _command(self, port: int) -> list[str]:
        command = [
            str(self.binary),
            "--db-path", str(self.db_path),
            "--http-addr", f"127.0.0.1:{port}",
            "--dump-dir", str(self.dump_dir),
            "--snapshot-dir", str(self.workdir / "snapshots"),
            "--no-analytics",
            "--log-level", "WARN",
        ]  # fmt: skip
        if self.import_dump is not None:
            command += ["--import-dump", str(self.import_dump)]
        return command

    def _environment(self) -> dict[str, str]:
        # MEILI_* variables meant for the real server (MEILI_IMPORT_DUMP, MEILI_CONFIG_FILE_PATH,
        # MEILI_SCHEDULE_SNAPSHOT, ...) must not reach this one. The master key goes through the
        # environment, never the command line (visible in process listings).
        env = {key: value for key, value in os.environ.items() if not key.startswith("MEILI_")}
        env["MEILI_MASTER_KEY"] = self._master_key
        env["TMPDIR"] = str(self.workdir / "tmp")
        env["NO_COLOR"] = "1"
        return env

    def start(self, timeout: float) -> MeiliApi:
        """Start the process and wait until it answers (a dump import finishes first)."""
        for name in ("tmp", "dumps", "snapshots"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        for attempt in range(_PORT_ATTEMPTS):
            port = free_port()
            with open(self.log_path, "ab") as log_file:
                self._process = processes.popen(
                    self._command(port),
                    die_with_parent=signal.SIGKILL,  # a temporary server never outlives a killed brs
                    cwd=self.workdir,  # a ./config.toml elsewhere must not be picked up
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            self.api = MeiliApi(f"http://127.0.0.1:{port}", self._master_key)
            try:
                self._wait_healthy(timeout)
                return self.api
            except DatabaseError:
                # Another process may have taken the port between probing and binding.
                if attempt + 1 < _PORT_ATTEMPTS and "Address already in use" in self._log_text():
                    self.stop()
                    continue
                raise
        raise AssertionError("unreachable")

    def _wait_healthy(self, timeout: float) -> None:
        assert self._process is not None and self.api is not None
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            code = self._process.poll()
            if code is not None:
                raise DatabaseError(f"{self._what()} exited with code {code}: {self.last_error()}")
            if self.api.healthy():
                return
            if time.monotonic() > deadline:
                raise DatabaseError(f"{self._what()} did not become healthy within {timeout:.0f}s: {self.last_error()}")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def wait_idle(self, timeout: float) -> None:
        """Wait until no task is enqueued or processing (tasks a dump brought along)."""
        assert self.api is not None
        deadline = time.monotonic() + timeout
        while self.api.unfinished_tasks():
            if time.monotonic() > deadline:
                raise DatabaseError(f"{self._what()} still had unfinished tasks after {timeout:.0f}s")
            time.sleep(0.2)

    def stop(self) -> bool:
        """SIGTERM, wait, then SIGKILL; returns True when the process ended on SIGTERM."""
        process, self._process = self._process, None
        if process is None:
            return True
        return stop_process(process, STOP_TIMEOUT, log=self._log, what=self._what())

    # -- diagnostics -------------------------------------------------------------------------
    def _what(self) -> str:
        action = "importing a dump" if self.import_dump is not None else f"on {self.db_path}"
        return f"temporary Meilisearch ({self.binary.name} {action})"

    def _log_text(self) -> str:
        try:
            return _ANSI.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            return ""

    def last_error(self) -> str:
        """The most telling line of the process's output, for a one-line error."""
        lines = [line.strip() for line in self._log_text().splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith("Error: "):
                return line[len("Error: ") :]
        for line in reversed(lines):
            if "ERROR" in line:
                return line
        return lines[-1] if lines else "no output"
