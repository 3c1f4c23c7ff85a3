"""Readiness and version probes against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from brs.errors import DatabaseError
from brs.interfaces import PluginContext

from brs_postgres import Postgres
from brs_postgres.probe import data_dir_major
from brs_postgres.testing import PgCluster, free_port


def test_probe_and_versions(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    plugin = Postgres(PluginContext(name="postgres", options=cluster.options()))
    assert plugin.brs_database_probe() is True
    version = plugin.brs_database_version()
    assert version is not None and version.startswith("15.")
    assert plugin.tools.major() == 15 and plugin.tools.version().startswith(f"PostgreSQL {version}")
    assert data_dir_major(cluster.data) == 15


def test_probe_is_false_while_unreachable_or_refused(pg15: tuple[PgCluster, dict[str, Any]]) -> None:
    cluster, _ = pg15
    wrong = Postgres(PluginContext(name="postgres", options=cluster.options(postgres_password="nope")))
    closed = Postgres(PluginContext(name="postgres", options=cluster.options(postgres_port=free_port())))
    assert wrong.brs_database_probe() is False
    assert closed.brs_database_probe() is False
    with pytest.raises(DatabaseError, match=f"cannot connect to PostgreSQL at 127.0.0.1:{cluster.port} as postgres"):
        wrong.brs_database_version()
