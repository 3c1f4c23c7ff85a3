"""Pod simulation with a real PostgreSQL 15: ``brs start --db postgres`` and ``brs wait -- postgres``.

The database container's command runs the server as the ``postgres`` account through
``setpriv`` (which execs, so SIGTERM from ``brs wait`` reaches the postmaster itself).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import brs_postgres.testing as brs_postgres_testing
from podsim import ServerPod, pid_alive, wait_for

from brs.testing.helpers import brs_executable

pytestmark = pytest.mark.server("postgres")

PASSWORD = brs_postgres_testing.PASSWORD


def _bindir() -> Path:
    # A missing PostgreSQL 15 fails the test (bindir_for says what to install); it never skips.
    return Path(brs_postgres_testing.bindir_for(15))


class PgPod(ServerPod):
    """Sidecar and database container of a PostgreSQL pod, with their data on shared paths."""

    def __init__(self, root: Path, bindir: Path) -> None:
        super().__init__(root)
        self.bindir = bindir
        self.cluster = brs_postgres_testing.PgCluster(bindir, root / "cluster")
        self.data = self.cluster.data
        self.sock = self.cluster.sock
        self.port = self.cluster.port
        self.backups = root / "backup"
        self.env = {**os.environ, "BRS_POSTGRES_PASSWORD": PASSWORD, "BRS_LOG_FORMAT": "json"}

    def start(self) -> None:
        sidecar = [
            brs_executable(), "start", "--db", "postgres", "--db-data-directory", str(self.data),
            "--local-provider-backup-path", str(self.backups), "--port", str(self.api_port), "--metrics-port", "0",
            "--backup-cron-schedule", "0 0 1 1 *", "--probe-interval", "0.5",
            "--postgres-host", "127.0.0.1", "--postgres-port", str(self.port), "--postgres-bindir", str(self.bindir),
        ]  # fmt: skip
        database = [
            "setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--",
            str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.sock}", "-c", "fsync=off",
        ]  # fmt: skip
        self.launch(sidecar, database, self.env)

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        with self.cluster.connect() as conn:
            cursor = conn.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []

    def kill(self) -> None:
        super().kill()
        # A container restart gets a fresh socket directory; here the killed postmaster's socket
        # lock file would remain, and postgres refuses to start if its PID was reused meanwhile.
        if self.sock.is_dir():
            for leftover in self.sock.iterdir():
                leftover.unlink(missing_ok=True)
        # The postmaster's children die with it; make sure nothing holds the port or data.
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():
            try:
                pid = int(pidfile.read_text().split()[0])
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except (ValueError, IndexError, ProcessLookupError):
                pass


@pytest.fixture
def pgpod() -> Iterator[PgPod]:
    bindir = _bindir()
    root = brs_postgres_testing.world_tempdir("brs-pgpod-")
    pod = PgPod(root, bindir)
    try:
        yield pod
    finally:
        pod.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_pod_restores_a_wiped_data_directory(pgpod: PgPod) -> None:
    pgpod.cluster.init()  # a fresh cluster, as the image's entry point would create
    pgpod.start()
    pgpod.wait_ready()
    pgpod.sql("CREATE TABLE items (id int PRIMARY KEY, name text)")
    pgpod.sql("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g")

    version = pgpod.backup()
    # The manifest records this cluster's identity; a physical restore keeps it.
    (system_id,) = pgpod.sql("SELECT system_identifier FROM pg_control_system()")[0]
    (manifest,) = pgpod.backups.glob(f"{version}*.manifest.json")
    assert json.loads(manifest.read_text())["identity"]["database"] == f"postgres:{system_id}"

    pgpod.kill()
    shutil.rmtree(pgpod.data)
    pgpod.start()
    pgpod.wait_ready()
    assert pgpod.sql("SELECT count(*), max(name) FROM items") == [(500, "item 99")]
    assert f"restored backup {version}" in pgpod.logs()
    assert pgpod.sql("SELECT system_identifier FROM pg_control_system()") == [(system_id,)]

    # SIGTERM to brs wait: PostgreSQL shuts down cleanly and brs wait exits with its code.
    postmaster = int((pgpod.data / "postmaster.pid").read_text().split()[0])
    pgpod.waiter.send_signal(signal.SIGTERM)
    assert pgpod.waiter.wait(120) == 0, pgpod.logs()
    wait_for(lambda: not pid_alive(postmaster), 60, "the postmaster to exit")
    check = subprocess.run([str(pgpod.bindir / "pg_controldata"), str(pgpod.data)], capture_output=True, text=True)
    assert "shut down" in check.stdout, check.stdout
