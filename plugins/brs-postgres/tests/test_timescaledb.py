"""TimescaleDB 2.28.3 on real clusters: round trips on PostgreSQL 15 and major upgrades 15 -> 16 -> 18.

The extension comes from ../shared/servers (scripts/install-test-servers.sh); without it these
tests fail. Every cluster preloads TimescaleDB through its postgresql.conf and holds hypertables,
compressed chunks and a continuous aggregate; the data is compared by row counts and a SHA-256
over all rows computed by the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from brs.errors import DatabaseError
from brs.testing import run_brs

from brs_postgres import Postgres
from brs_postgres.binaries import save_binaries
from brs_postgres.testing import (
    PASSWORD,
    PgCluster,
    bindir_for,
    driver,
    load_timescale_sample,
    preload_timescaledb,
    timescale_snapshot,
    world_tempdir,
)
from brs_postgres.timescale import installed_version, preload_libraries
from brs_postgres.tools import Toolset

pytestmark = pytest.mark.server("postgres")

KEY = "0123456789abcdefghijklmnopqrstuv"
VERSION = "2.28.3"


def _timescale_cluster(major: int, root: Path) -> PgCluster:
    found = installed_version(Toolset(bindir_for(major)))
    assert found == VERSION, f"TimescaleDB {VERSION} is not installed for PostgreSQL {major} (found {found}): make test-servers"
    cluster = PgCluster(bindir_for(major), root).init()
    preload_timescaledb(cluster)
    cluster.start()
    load_timescale_sample(cluster)
    return cluster


@pytest.fixture(scope="module")
def source() -> Iterator[tuple[PgCluster, dict[str, Any]]]:
    """One PostgreSQL 15 cluster with the TimescaleDB sample, only read by the round trips."""
    cluster = _timescale_cluster(15, world_tempdir("brs-ts15-"))
    try:
        expected = timescale_snapshot(cluster)
        assert expected["conditions"][0] == 17280 and expected["conditions_chunks"] == (4, 6), expected
        yield cluster, expected
    finally:
        cluster.destroy()


def _brs(command: str, cluster: PgCluster, data: Path, storage: Path, *extra: str) -> None:
    result = run_brs(
        command, "--db", "postgres", "--db-data-directory", str(data), "--backup-provider", "local",
        "--local-provider-backup-path", str(storage), "--encryption-key", KEY, *cluster.cli_args(), *extra,
        env={"BRS_POSTGRES_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("method", ["basebackup", "dumpall"])
def test_round_trip_keeps_hypertables_compressed_chunks_and_aggregates(
    method: str, source: tuple[PgCluster, dict[str, Any]], tmp_path: Path, clusters: Callable[..., PgCluster]
) -> None:
    cluster, expected = source
    restored = tmp_path / "restored"
    _brs("backup", cluster, cluster.data, tmp_path / "backups", "--postgres-backup-method", method)
    _brs("restore", cluster, restored, tmp_path / "backups")
    assert "timescaledb" in (restored / "postgresql.conf").read_text()
    started = clusters(15, data=restored)
    assert timescale_snapshot(started) == expected
    started.stop()


def _plugin(bindir: Path, data: Path) -> Postgres:
    return driver({"postgres_bindir": str(bindir)}, data_dir=data)


def _files(data: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(data)), p.stat().st_size, p.stat().st_mtime_ns) for p in data.rglob("*") if p.is_file())


def _without_timescaledb(major: int, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working copy of the PostgreSQL ``major`` programs without TimescaleDB; returns its bindir."""
    copy = save_binaries(Toolset(bindir_for(major)), root)
    for path in copy.rglob("timescaledb*"):
        path.unlink()
    if (copy / "brs-libs").is_dir():  # the wheel's bundled libpq, found by rpath from its own place
        monkeypatch.setenv("LD_LIBRARY_PATH", str(copy / "brs-libs"))
    return copy / "bin"


def test_upgrades_15_to_16_to_18_keep_the_timescaledb_data(
    tmp_path: Path, clusters: Callable[..., PgCluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = _timescale_cluster(15, world_tempdir("brs-ts-upgrade-"))
    try:
        expected = timescale_snapshot(cluster)
        _brs("backup", cluster, cluster.data, tmp_path / "backups")  # saves pg-bin-v15 next to the data
        cluster.stop()
        store = cluster.data.parent

        # New programs without TimescaleDB: refused before anything is touched.
        before = _files(cluster.data)
        with monkeypatch.context() as patch:
            bare = _without_timescaledb(16, tmp_path / "bare", patch)
            with pytest.raises(DatabaseError, match=r"TimescaleDB version mismatch: .* PostgreSQL 15 programs have 2\.28\.3, "
                               r"the PostgreSQL 16 programs .* have no TimescaleDB; .*nothing was changed"):  # fmt: skip
                _plugin(bare, cluster.data).upgrade(cluster.data)
        assert _files(cluster.data) == before
        assert not list(store.glob("pg-upgrade-*")) and not (store / "pg-bin-v16").exists()

        for old, new in ((15, 16), (16, 18)):
            _plugin(bindir_for(new), cluster.data).upgrade(cluster.data)
            assert (cluster.data / "PG_VERSION").read_text().strip() == str(new)
            assert len(list(store.glob(f"pg-upgrade-v{old}-to-v{new}-*.sql.gz"))) == 1, "safety dump first"
            upgraded = clusters(new, data=cluster.data)
            assert timescale_snapshot(upgraded) == expected, f"{old} -> {new}"
            with upgraded.connect() as conn:
                row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
                assert row == (VERSION,)
            upgraded.stop()
    finally:
        cluster.destroy()


def test_preload_libraries_are_read_from_the_clusters_own_config_files(clusters: Callable[..., PgCluster]) -> None:
    """postgresql.auto.conf (ALTER SYSTEM) overrides postgresql.conf, as when the server starts."""
    cluster = clusters(16, start=False)
    assert preload_libraries(cluster.tools, cluster.data, cluster.owner) == []
    preload_timescaledb(cluster)
    assert preload_libraries(cluster.tools, cluster.data, cluster.owner) == ["timescaledb"]
    (cluster.data / "postgresql.auto.conf").write_text("shared_preload_libraries = 'pg_stat_statements, \"timescaledb\"'\n")
    assert preload_libraries(cluster.tools, cluster.data, cluster.owner) == ["pg_stat_statements", "timescaledb"]
