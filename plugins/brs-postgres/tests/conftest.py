"""Fixtures: real PostgreSQL clusters, always stopped again, in directories the postgres account can enter."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brs_postgres.testing import PgCluster, bindir_for, load_sample, sample_snapshot, world_tempdir

ClusterFactory = Callable[..., PgCluster]


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Replaces pytest's tmp_path: its parents are private to root, and the servers run as postgres."""
    path = world_tempdir("brs-pgtest-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _factory(registry: list[PgCluster]) -> ClusterFactory:
    def make(major: int, *, data: Path | None = None, sample: bool = False, start: bool = True) -> PgCluster:
        cluster = PgCluster(bindir_for(major), world_tempdir(f"brs-pg{major}-"), data)
        registry.append(cluster)
        if data is None:
            cluster.init()
        else:
            cluster.prepare()
        if start:
            cluster.start()
        if sample:
            load_sample(cluster)
        return cluster

    return make


@pytest.fixture
def clusters() -> Iterator[ClusterFactory]:
    """``clusters(major, data=None, sample=False, start=True)``: clusters stopped and removed after the test."""
    registry: list[PgCluster] = []
    yield _factory(registry)
    for cluster in reversed(registry):
        cluster.destroy()


@pytest.fixture(scope="session")
def pg15() -> Iterator[tuple[PgCluster, dict[str, Any]]]:
    """One running PostgreSQL 15 cluster with the sample data, shared read-only by many tests."""
    registry: list[PgCluster] = []
    try:
        cluster = _factory(registry)(15, sample=True)
        yield cluster, sample_snapshot(cluster)
    finally:
        for cluster in registry:
            cluster.destroy()


@pytest.fixture
def check_restored(clusters: ClusterFactory) -> Callable[[int, Path, dict[str, Any]], None]:
    """Start a server of ``major`` on a restored directory and compare the sample data."""

    def check(major: int, data: Path, expected: dict[str, Any]) -> None:
        cluster = clusters(major, data=data)
        try:
            assert sample_snapshot(cluster) == expected
        finally:
            cluster.stop()

    return check
