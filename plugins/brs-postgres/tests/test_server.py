"""The temporary server of restores and upgrades: private, clean to stop, and a clear line when it cannot start."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from brs.errors import DatabaseError

from brs_postgres.server import TempServer
from brs_postgres.testing import PgCluster

pytestmark = pytest.mark.server("postgres")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_a_private_server_that_stops_cleanly(clusters: Callable[..., PgCluster], monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = clusters(15, start=False)
    monkeypatch.setenv("BRS_ENCRYPTION_KEY", "k" * 32)
    monkeypatch.setenv("PGPASSWORD", "meant-for-the-live-server")
    with TempServer(cluster.tools, cluster.data, cluster.owner, ("work_mem=5MB",)) as server:
        assert server.socket_dir is not None and server.pid is not None
        socket_dir, pid = server.socket_dir, server.pid
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
            settings: dict[str, str] = dict(
                conn.execute("SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'work_mem')")
            )
        assert settings == {"listen_addresses": "", "work_mem": "5120"}  # no TCP at all; the options applied
        info = socket_dir.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == cluster.owner.uid
        uids = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
        assert set(uids.split()[1:]) == {str(cluster.owner.uid)}  # the data's owner, not root
        assert not [name for name in _environ(pid) if name.startswith(("BRS_", "PG"))]
    assert not _alive(pid) and not socket_dir.exists()
    control = cluster.tools.run("pg_controldata", [str(cluster.data)])
    assert "Database cluster state:               shut down\n" in control  # a clean stop, checkpointed


def test_a_server_that_cannot_start_is_one_line_and_leaves_nothing(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(15, start=False)
    server = TempServer(cluster.tools, cluster.data, cluster.owner, ("no_such_setting=1",))
    socket_dir = server.socket_dir
    with pytest.raises(DatabaseError) as caught:
        server.start()
    message = str(caught.value)
    assert message.startswith(f"cannot start PostgreSQL on {cluster.data}: ") and "no_such_setting" in message
    assert "\n" not in message
    assert socket_dir is not None and not socket_dir.exists() and server.pid is None
    assert not (cluster.data / "postmaster.pid").exists()


def test_a_server_that_died_fails_its_stop(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(15, start=False)
    server = TempServer(cluster.tools, cluster.data, cluster.owner).start()
    assert server.pid is not None
    os.kill(server.pid, 9)
    deadline = time.monotonic() + 30
    while server.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(DatabaseError, match=f"the temporary server on {cluster.data} stopped on its own"):
        server.stop()
    assert server.socket_dir is None
