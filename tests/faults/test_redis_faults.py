"""With a real Redis: a local restore refuses while the server answers, since the server's next
save would overwrite the restored RDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultkit import cli_env, listed

from brs.testing.helpers import assert_one_line_error, run_brs
from brs_redis.testing import StartServer, load_sample, snapshot
from brs_redis.testing import start_server as start_server

pytestmark = pytest.mark.server("redis")


def test_a_local_restore_refuses_while_redis_runs(start_server: StartServer, tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    server = start_server("redis", data)
    load_sample(server.client())
    expected = snapshot(server)
    env = cli_env(data, store, db="redis", BRS_REDIS_ADDR=server.addr)
    version = run_brs("backup", env=env, check=True).stdout.strip()
    with server.client() as client:
        client.set("written-after-the-backup", "stays")
    rdb_before = (data / "dump.rdb").read_bytes()

    assert_one_line_error(run_brs("restore", version, env=env), "redis server is running", "--server")
    assert (data / "dump.rdb").read_bytes() == rdb_before
    assert not [p for p in tmp_path.iterdir() if "brs-previous" in p.name or "brs-staging" in p.name]
    with server.client() as client:
        assert client.get("written-after-the-backup") == "stays"  # the server runs on, on its own data
    assert listed(env) == [version]

    server.stop()
    run_brs("restore", version, env=env, check=True)
    assert snapshot(start_server("redis", data)) == expected
