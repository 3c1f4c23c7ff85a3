"""Data-directory checks on real clusters: empty, healthy, corrupt."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from brs.interfaces import DataDirStatus

from brs_postgres import Postgres
from brs_postgres.testing import PgCluster, bindir_for, driver

pytestmark = pytest.mark.server("postgres")


def _plugin() -> Postgres:
    return driver({"postgres_bindir": str(bindir_for(15))})


def test_a_stopped_and_a_running_cluster_are_healthy(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(15)
    running = _plugin().check(cluster.data)
    cluster.stop()
    stopped = _plugin().check(cluster.data)
    assert running.status is DataDirStatus.HEALTHY, running.reason
    assert stopped.status is DataDirStatus.HEALTHY and "shut down" in stopped.reason


def test_corruption_is_detected_with_a_reason(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(15, start=False)
    control = cluster.data / "global" / "pg_control"
    original = control.read_bytes()

    control.write_bytes(original[:100] + bytes(50) + original[150:])
    damaged = _plugin().check(cluster.data)
    assert damaged.status is DataDirStatus.CORRUPT and "CRC" in damaged.reason

    control.unlink()
    missing = _plugin().check(cluster.data)
    assert missing.status is DataDirStatus.CORRUPT and missing.needs_restore
    assert missing.reason == f"{control} is missing"

    control.write_bytes(original)
    (cluster.data / "PG_VERSION").unlink()
    assert "PG_VERSION is missing" in _plugin().check(cluster.data).reason

    (cluster.data / "PG_VERSION").write_text("banana\n")
    assert _plugin().check(cluster.data).status is DataDirStatus.CORRUPT
