"""Major upgrades with pg_upgrade on real clusters: 16 -> 18 (PyPI builds) and Debian 15.20 -> 16."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from brs.errors import DatabaseError
from brs.testing import run_brs

from brs_postgres import Postgres
from brs_postgres.testing import PASSWORD, PgCluster, bindir_for, driver, sample_snapshot

pytestmark = pytest.mark.server("postgres")

KEY = "0123456789abcdefghijklmnopqrstuv"


def _plugin(major: int, data: Path) -> Postgres:
    return driver({"postgres_bindir": str(bindir_for(major))}, data_dir=data)


def _backup(cluster: PgCluster, storage: Path) -> None:
    """A backup with the old programs, which also saves them next to the data directory."""
    run_brs(
        "backup", "--db", "postgres", "--db-data-directory", str(cluster.data), "--backup-provider", "local",
        "--local-provider-backup-path", str(storage), "--encryption-key", KEY, *cluster.cli_args(),
        env={"BRS_POSTGRES_PASSWORD": PASSWORD}, check=True,
    )  # fmt: skip


@pytest.mark.parametrize(("old", "new"), [(16, 18), (15, 16)], ids=["16-to-18", "debian15-to-16"])
def test_major_upgrade_keeps_the_data(old: int, new: int, clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    cluster = clusters(old, sample=True)
    expected = sample_snapshot(cluster)
    _backup(cluster, tmp_path / "backups")
    cluster.stop()
    store = cluster.data.parent

    _plugin(new, cluster.data).upgrade(cluster.data)

    assert (cluster.data / "PG_VERSION").read_text().strip() == str(new)
    assert (store / f"pg-bin-v{old}" / "brs-binaries.json").exists(), "old programs kept"
    assert (store / f"pg-bin-v{new}" / "brs-binaries.json").exists(), "new programs saved for the next upgrade"
    safety = list(store.glob(f"pg-upgrade-v{old}-to-v{new}-*.sql.gz"))
    assert len(safety) == 1
    with gzip.open(safety[0], "rt") as dump:
        text = dump.read()
    assert "CREATE TABLE public.items" in text and "CREATE DATABASE app2" in text
    # The data-directory lock file of the backup stays next to the data by design.
    leftovers = [p.name for p in store.iterdir() if ".brs-" in p.name and not p.name.endswith(".brs-lock")]
    assert not leftovers, "no staging or aside directories left"
    assert not (cluster.data / "pg-bin-v{old}").exists()

    upgraded = clusters(new, data=cluster.data)
    assert sample_snapshot(upgraded) == expected
    with upgraded.connect() as conn:
        row = conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'items'").fetchone()
    assert row is not None and row[0] > 0, "statistics were rebuilt (ANALYZE)"


def test_same_major_only_saves_the_programs(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(16, start=False)
    _plugin(16, cluster.data).upgrade(cluster.data)
    assert (cluster.data / "PG_VERSION").read_text().strip() == "16"
    assert (cluster.data.parent / "pg-bin-v16" / "brs-binaries.json").exists()


def test_missing_old_programs_fail_loudly_and_change_nothing(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(16, start=False)
    before = sorted(str(p) for p in cluster.data.rglob("*"))
    with pytest.raises(DatabaseError, match=r"no saved PostgreSQL 16 programs in .*pg-bin-v16"):
        _plugin(18, cluster.data).upgrade(cluster.data)
    assert sorted(str(p) for p in cluster.data.rglob("*")) == before


def test_data_newer_than_the_programs_is_an_error(clusters: Callable[..., PgCluster]) -> None:
    cluster = clusters(18, start=False)
    with pytest.raises(DatabaseError, match="newer than the programs"):
        _plugin(16, cluster.data).upgrade(cluster.data)


def test_a_running_server_is_not_upgraded(clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    cluster = clusters(16)
    _backup_programs = _plugin(16, cluster.data)
    _backup_programs.upgrade(cluster.data)  # same major: saves pg-bin-v16
    with pytest.raises(DatabaseError, match="is running"):
        _plugin(18, cluster.data).upgrade(cluster.data)
    assert (cluster.data / "PG_VERSION").read_text().strip() == "16"


def test_a_failed_pg_upgrade_leaves_the_old_cluster_startable(clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    """Debian 15.20's pg_attver column option breaks upstream pg_upgrade unless removed first."""
    cluster = clusters(15, sample=True)
    expected = sample_snapshot(cluster)
    _backup(cluster, tmp_path / "backups")
    cluster.stop()
    plugin = driver({"postgres_bindir": str(bindir_for(16)), "postgres_upgrade_strip_attver": "never"}, data_dir=cluster.data)
    with pytest.raises(
        DatabaseError, match=r"pg_upgrade of .* from PostgreSQL 15 to 16 failed: .*pg_attver.*old cluster unchanged"
    ):
        plugin.upgrade(cluster.data)
    assert (cluster.data / "PG_VERSION").read_text().strip() == "15"
    assert (cluster.data / "global" / "pg_control").exists()
    cluster.start()
    assert sample_snapshot(cluster) == expected
