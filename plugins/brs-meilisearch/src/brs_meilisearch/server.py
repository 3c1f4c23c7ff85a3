"""A private Meilisearch process on a free loopback port (dump imports, upgrade dumps)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path
from typing import Self

from brs.errors import DatabaseError
from brs.kit.server import TemporaryServer

from brs_meilisearch.api import MeiliApi

__all__ = ["TemporaryMeilisearch"]


class TemporaryMeilisearch(TemporaryServer):
    """Runs ``binary`` on ``db_path``, reachable only on loopback with a random master key.

    Everything the process writes besides its database (log, dumps, snapshots, the temporary
    files of a dump import) goes below ``workdir``.
    """

    log_name = "meilisearch.log"

    def __init__(
        self,
        binary: Path,
        db_path: Path,
        workdir: Path,
        *,
        import_dump: Path | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(workdir, log=log)
        self.binary = binary
        self.db_path = db_path
        self.import_dump = import_dump
        self.dump_dir = workdir / "dumps"
        self.what = f"temporary Meilisearch ({binary.name} {'importing a dump' if import_dump else f'on {db_path}'})"
        self._master_key = secrets.token_hex(24)

    @property
    def api(self) -> MeiliApi:
        return MeiliApi(f"http://127.0.0.1:{self.port}", self._master_key)

    def start(self, timeout: float) -> Self:
        """Start the process and wait until it answers (a dump import finishes first)."""
        for name in ("tmp", "dumps", "snapshots"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        return super().start(timeout)

    def command(self) -> list[str]:
        command = [
            str(self.binary),
            "--db-path", str(self.db_path),
            "--http-addr", f"127.0.0.1:{self.port}",
            "--dump-dir", str(self.dump_dir),
            "--snapshot-dir", str(self.workdir / "snapshots"),
            "--no-analytics",
            "--log-level", "WARN",
        ]  # fmt: skip
        if self.import_dump is not None:
            command += ["--import-dump", str(self.import_dump)]
        return command

    def environment(self) -> dict[str, str]:
        # MEILI_* variables meant for the real server (MEILI_IMPORT_DUMP, MEILI_CONFIG_FILE_PATH,
        # MEILI_SCHEDULE_SNAPSHOT, ...) must not reach this one. The master key goes through the
        # environment, never the command line (visible in process listings).
        env = {key: value for key, value in os.environ.items() if not key.startswith("MEILI_")}
        env["MEILI_MASTER_KEY"] = self._master_key
        env["TMPDIR"] = str(self.workdir / "tmp")
        env["NO_COLOR"] = "1"
        return env

    def ready(self) -> bool:
        return self.api.healthy()

    def wait_idle(self, timeout: float) -> None:
        """Wait until no task is enqueued or processing (tasks a dump brought along)."""
        api = self.api
        deadline = time.monotonic() + timeout
        while api.unfinished_tasks():
            if time.monotonic() > deadline:
                raise DatabaseError(f"{self.what} still had unfinished tasks after {timeout:.0f}s")
            time.sleep(0.2)
