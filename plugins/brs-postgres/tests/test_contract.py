"""brs's database contract, for both backup methods, against a real PostgreSQL 15."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from brs.interfaces import Database
from brs.testing import BULK, DatabaseContract, free_port

from brs_postgres.testing import PASSWORD, PgCluster, bindir_for, driver, load_bulk, world_tempdir

pytestmark = pytest.mark.server("postgres")


@pytest.fixture(scope="module")
def bulky_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL 15 holding BULK bytes of incompressible rows, shared by both methods."""
    cluster = PgCluster(bindir_for(15), world_tempdir("brs-pg-bulky-"))
    try:
        cluster.init().start()
        load_bulk(cluster, BULK)
        yield cluster
    finally:
        cluster.destroy()


class _Pg15Contract(DatabaseContract):
    method = "basebackup"

    @pytest.fixture
    def database(self, pg15: tuple[PgCluster, dict[str, Any]]) -> Database[Any]:
        cluster, _ = pg15
        return cluster.driver(postgres_backup_method=self.method)

    @pytest.fixture
    def unreachable_database(self) -> Database[Any]:
        # Nothing listens on a free loopback port: the connection is refused at once.
        values = {"postgres_port": free_port(), "postgres_password": PASSWORD, "postgres_bindir": str(bindir_for(15))}
        return driver({**values, "postgres_backup_method": self.method})

    @pytest.fixture
    def bulky_database(self, bulky_cluster: PgCluster) -> Database[Any]:
        return bulky_cluster.driver(postgres_backup_method=self.method)

    @pytest.fixture
    def assert_restored(
        self, pg15: tuple[PgCluster, dict[str, Any]], check_restored: Callable[[int, Path, dict[str, Any]], None]
    ) -> Callable[[Path], None]:
        return lambda target: check_restored(15, target, pg15[1])


class TestBasebackupContract(_Pg15Contract):
    method = "basebackup"


class TestDumpallContract(_Pg15Contract):
    method = "dumpall"
