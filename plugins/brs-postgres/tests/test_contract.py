"""brs's database contract, for both backup methods, against a real PostgreSQL 15."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from brs.interfaces import Database, PluginContext
from brs.testing import DatabaseContract

from brs_postgres import Postgres
from brs_postgres.testing import PgCluster


class _Pg15Contract(DatabaseContract):
    method = "basebackup"

    @pytest.fixture
    def database(self, pg15: tuple[PgCluster, dict[str, Any]]) -> Database:
        cluster, _ = pg15
        return Postgres(PluginContext(name="postgres", options=cluster.options(postgres_backup_method=self.method)))

    @pytest.fixture
    def assert_restored(
        self, pg15: tuple[PgCluster, dict[str, Any]], check_restored: Callable[[int, Path, dict[str, Any]], None]
    ) -> Callable[[Path], None]:
        return lambda target: check_restored(15, target, pg15[1])


class TestBasebackupContract(_Pg15Contract):
    method = "basebackup"


class TestDumpallContract(_Pg15Contract):
    method = "dumpall"
