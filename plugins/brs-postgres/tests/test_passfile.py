"""The password reaches libpq's child programs as an in-memory password file, never in their environment."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

import pytest
from brs import processes
from brs.errors import ConfigError, DatabaseError

from brs_postgres.testing import PgCluster

pytestmark = pytest.mark.server("postgres")

_WHO = ["-X", "-At", "-c", "SELECT current_user"]
#: Characters a password file must escape, and one it must carry as it is.
_AWKWARD = "colon:back\\slash*star s"


def test_a_child_authenticates_from_memory_and_sees_no_password(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    settings = cluster.driver().settings
    tools = cluster.driver().tools
    assert settings.password
    with settings.client() as client:
        assert "PGPASSWORD" not in client.env and not [v for v in client.env.values() if settings.password in v]
        (descriptor,) = client.pass_fds
        path = client.env["PGPASSFILE"]
        assert path == f"/dev/fd/{descriptor}"
        info = os.stat(path)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600  # what libpq insists on
        assert os.readlink(f"/proc/self/fd/{descriptor}").startswith("/memfd:")  # on no disk
        # A real psql, over TCP with scram-sha-256: it can only have had the password from the file.
        out = tools.run("psql", [*_WHO, "-c", "SELECT count(*) FROM pg_stat_activity"], env=client.env, pass_fds=client.pass_fds)
        assert out.splitlines()[0] == "postgres"
        # The same child without the descriptor cannot log in: nothing else carried the password.
        with pytest.raises(DatabaseError, match="password"):
            tools.run("psql", ["--no-password", *_WHO], env=client.env)
        env = tools.env(client.env)
        child = processes.run(["cat", "/proc/self/environ"], env=env, pass_fds=client.pass_fds, capture_output=True)
        seen = dict(item.decode().split("=", 1) for item in child.stdout.split(b"\0") if b"=" in item)
        assert seen["PGPASSFILE"] == path and not [v for v in seen.values() if settings.password in v]
    with pytest.raises(OSError):
        os.fstat(descriptor)  # closed once the block ends


def test_passwords_with_separators_and_escapes(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(15)
    with cluster.connect() as conn:
        conn.execute(f"CREATE ROLE awkward LOGIN SUPERUSER PASSWORD '{_AWKWARD}'")
    settings = cluster.driver(postgres_user="awkward", postgres_password=_AWKWARD).settings
    with settings.client() as client:
        out = cluster.tools.run("psql", ["--no-password", *_WHO], env=client.env, pass_fds=client.pass_fds)
    assert out.strip() == "awkward"


def test_a_password_with_a_line_break_is_one_clear_line() -> None:
    from brs_postgres.testing import driver

    settings = driver({"postgres_password": "two\nlines"}).settings
    with pytest.raises(ConfigError, match=r"^--postgres-password cannot contain a line break"), settings.client():
        pass


def test_no_password_no_file() -> None:
    from brs_postgres.testing import driver

    with driver({}).settings.client() as client:
        assert client.pass_fds == () and "PGPASSFILE" not in client.env
