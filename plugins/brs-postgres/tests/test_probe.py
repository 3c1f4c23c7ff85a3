"""Readiness and version probes against a real server."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from brs.errors import DatabaseError

from brs_postgres.facts import read_live
from brs_postgres.probe import data_dir_major
from brs_postgres.testing import PgCluster, free_port

pytestmark = pytest.mark.server("postgres")


def test_probe_and_versions(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    plugin = cluster.driver()
    assert plugin.probe() is True
    version = plugin.version()
    assert version is not None and version.startswith("15.")
    assert plugin.tools.major() == 15 and plugin.tools.version().startswith(f"PostgreSQL {version}")
    assert data_dir_major(cluster.data) == 15
    # The identity recorded in manifests is pg_control's system identifier of this cluster.
    control = subprocess.run(
        [str(plugin.tools.path("pg_controldata")), str(cluster.data)], capture_output=True, text=True, check=True
    ).stdout
    lines = [line for line in control.splitlines() if line.startswith("Database system identifier")]
    system_id = lines[0].split(":", 1)[1].strip()
    assert plugin.identity() == f"postgres:{system_id}"


def test_probe_is_false_while_unreachable_or_refused(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    wrong = cluster.driver(postgres_password="nope")
    closed = cluster.driver(postgres_port=free_port())
    assert wrong.probe() is False
    assert closed.probe() is False
    assert closed.identity() is None and wrong.identity() is None
    with pytest.raises(DatabaseError, match=f"cannot connect to PostgreSQL at 127.0.0.1:{cluster.port} as postgres"):
        wrong.version()


def test_a_backup_reads_the_facts_with_one_psql_call(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    """What a backup records (and the identity it is filed under), read without psycopg, equals
    what the server says through psycopg and pg_controldata."""
    cluster, _ = pg15
    plugin = cluster.driver()
    facts, identity = read_live(plugin.settings, plugin.tools)
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int, pg_encoding_to_char(encoding), datcollate, datctype,"
            " current_setting('data_checksums') = 'on', current_setting('shared_preload_libraries')"
            " FROM pg_database WHERE datname = 'template0'"
        ).fetchone()
    assert row is not None
    assert (facts.server_version_num, facts.encoding, facts.lc_collate, facts.lc_ctype, facts.data_checksums) == row[:5]
    assert facts.preload_libraries == row[5] and facts.superuser == "postgres" and facts.config == {}
    assert facts.server_version == plugin.version() and facts.major == 15
    assert identity == plugin.identity()  # through psycopg: no backup ran in this driver


def test_facts_of_a_server_that_does_not_answer_are_one_line(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    for plugin in (cluster.driver(postgres_port=free_port()), cluster.driver(postgres_password="nope")):
        refused = r"^reading the server's facts from 127\.0\.0\.1:\d+ failed \(exit 2\): "
        with pytest.raises(DatabaseError, match=refused) as caught:
            read_live(plugin.settings, plugin.tools)
        assert "\n" not in str(caught.value) and "nope" not in str(caught.value)
