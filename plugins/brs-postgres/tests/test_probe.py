"""Readiness and version probes against a real server."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from brs.errors import DatabaseError

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
