"""Pod simulation with a real RethinkDB 2.4.4: ``brs start --db rethinkdb`` and ``brs wait -- rethinkdb``.

The database container's command is the server itself on loopback ports; ``brs wait`` stops it
with SIGTERM for an online restore and when the pod stops.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podsim import ServerPod, free_port

from brs.testing.helpers import brs_executable
from brs_rethinkdb.testing import PASSWORD, RealServer, content, server_binary

pytestmark = pytest.mark.server("rethinkdb")


class RethinkPod(ServerPod):
    """Sidecar and database container of a RethinkDB pod, sharing the data directory."""

    def __init__(self, root: Path, binary: str) -> None:
        super().__init__(root)
        self.binary = binary
        self.data = root / "data"
        self.backups = root / "backup"
        self.password_file = root / "password"
        self.password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        self.client = RealServer(binary, self.data)  # only for connecting: the pod runs the server
        self.client.port = free_port()

    def start(self) -> None:
        sidecar = [
            brs_executable(), "start", "--db", "rethinkdb", "--db-data-directory", str(self.data),
            "--local-provider-backup-path", str(self.backups), "--port", str(self.api_port), "--metrics-port", "0",
            "--backup-cron-schedule", "0 0 1 1 *", "--probe-interval", "0.5",
            "--rethinkdb-url", f"127.0.0.1:{self.client.port}", "--rethinkdb-passwordfile", str(self.password_file),
            "--rethinkdb-binary", self.binary,
        ]  # fmt: skip
        database = [
            self.binary, "--directory", str(self.data), "--bind", "127.0.0.1", "--driver-port", str(self.client.port),
            "--cluster-port", str(free_port()), "--no-http-admin", "--no-update-check",
            "--initial-password", PASSWORD,  # used only when the directory is new
        ]  # fmt: skip
        self.launch(sidecar, database, {**os.environ, "BRS_LOG_FORMAT": "json"}, stop_timeout=60)


@pytest.fixture
def rethinkpod(tmp_path: Path) -> Iterator[RethinkPod]:
    pod = RethinkPod(tmp_path, server_binary())
    try:
        yield pod
    finally:
        pod.kill()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def _load(pod: RethinkPod) -> dict[str, Any]:
    from rethinkdb import RethinkDB

    r = RethinkDB()
    with pod.client.connect() as conn:
        r.db_create("app").run(conn)
        r.db("app").table_create("events").run(conn)
        r.db("app").table("events").index_create("kind").run(conn)
        r.db("app").table("events").insert([{"id": i, "kind": f"k{i % 5}", "note": f"é {i}"} for i in range(300)]).run(conn)
    return content(pod.client)


def test_rethinkdb_pod_online_restore_and_restore_of_a_wiped_directory(rethinkpod: RethinkPod) -> None:
    from rethinkdb import RethinkDB

    r = RethinkDB()
    pod = rethinkpod
    pod.start()  # an empty volume and no backups: the server initialises the directory itself
    pod.wait_ready()
    expected = _load(pod)
    version = pod.backup()

    # Online restore through the API: the sidecar stops the server, restores, starts it again.
    with pod.client.connect() as conn:
        r.db("app").table("events").filter(r.row["id"] >= 100).delete().run(conn)
        r.db("app").table_create("unwanted").run(conn)
    status, answer = pod.post("/v1/restore", {"version": version})
    assert status == 200, (answer, pod.logs())
    pod.wait_ready()
    assert content(pod.client) == expected

    # The pod comes back on a wiped volume: the sidecar restores before the server starts.
    pod.kill()
    shutil.rmtree(pod.data)
    pod.start()
    pod.wait_ready()
    assert content(pod.client) == expected
    assert f"restored backup {version}" in pod.logs()

    # SIGTERM to brs wait: the server shuts down cleanly and brs wait exits with its code.
    pod.waiter.send_signal(signal.SIGTERM)
    assert pod.waiter.wait(120) == 0, pod.logs()
