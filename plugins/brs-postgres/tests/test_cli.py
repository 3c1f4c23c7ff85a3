"""The real ``brs`` CLI against PostgreSQL 15: encrypted backups through local storage, wipe, restore; clear failures."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from brs.testing import run_brs
from brs.testing.helpers import expected_failure

from brs_postgres.testing import PASSWORD, PgCluster, bindir_for, free_port, sample_snapshot

pytestmark = pytest.mark.server("postgres")

KEY = "0123456789abcdefghijklmnopqrstuv"


def _common(storage: Path, data: Path) -> list[str]:
    return [
        "--db", "postgres", "--db-data-directory", str(data),
        "--backup-provider", "local", "--local-provider-backup-path", str(storage),
        "--encryption-key", KEY, "--log-level", "warning",
    ]  # fmt: skip


def _listed(storage: Path, data: Path) -> list[dict[str, Any]]:
    result = run_brs("backups", "list", "--json", *_common(storage, data)[4:], check=True)
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("method", ["basebackup", "dumpall"])
def test_backup_wipe_restore_through_the_cli(method: str, clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    cluster = clusters(15, sample=True)
    expected = sample_snapshot(cluster)
    storage = tmp_path / "backups"
    password_file = tmp_path / "pgpass"
    password_file.write_text(PASSWORD + "\n")
    common = _common(storage, cluster.data)
    backup = run_brs(
        "backup", *common, *cluster.cli_args(), "--postgres-backup-method", method, "--postgres-password-file", str(password_file)
    )
    assert backup.returncode == 0, backup.stderr
    backup_id = backup.stdout.strip()
    listed = _listed(storage, cluster.data)
    assert [row["version"] for row in listed] == [backup_id]
    assert listed[0]["encrypted"] and listed[0]["method"] == method
    # The programs were saved next to (not inside) the data directory, for later upgrades.
    assert (cluster.data.parent / "pg-bin-v15" / "brs-binaries.json").exists()
    assert not any(p.name.startswith("pg-bin") for p in cluster.data.iterdir())

    cluster.stop()
    shutil.rmtree(cluster.data)
    cluster.data.mkdir(mode=0o700)
    restore = run_brs("restore", *common, *cluster.cli_args(), env={"BRS_POSTGRES_PASSWORD": PASSWORD})
    assert restore.returncode == 0, restore.stderr
    assert restore.stdout.strip() == backup_id
    info = cluster.data.stat()
    assert (info.st_mode & 0o777, info.st_uid) == (0o700, cluster.owner.uid)
    assert not (cluster.data / "backup_manifest").exists()
    cluster.start()
    assert sample_snapshot(cluster) == expected


def test_a_15_dump_restores_into_16(
    pg15: tuple[PgCluster, dict[str, Any]], tmp_path: Path, check_restored: Callable[[int, Path, dict[str, Any]], None]
) -> None:
    cluster, expected = pg15
    storage, data = tmp_path / "backups", tmp_path / "pg16-data"
    env = {"BRS_POSTGRES_PASSWORD": PASSWORD}
    run_brs("backup", *_common(storage, data), *cluster.cli_args(), "--postgres-backup-method", "dumpall", env=env, check=True)
    restored = run_brs("restore", *_common(storage, data), "--postgres-bindir", str(bindir_for(16)), env=env)
    assert restored.returncode == 0, restored.stderr
    assert (data / "PG_VERSION").read_text().strip() == "16"
    check_restored(16, data, expected)


@pytest.fixture
def one_backup(pg15: tuple[PgCluster, dict[str, Any]], tmp_path: Path) -> tuple[PgCluster, Path, Path]:
    """Storage holding one good backup, and a data directory with content that must survive."""
    cluster, _ = pg15
    storage, data = tmp_path / "backups", tmp_path / "data"
    data.mkdir()
    (data / "keep-me").write_text("precious")
    run_brs("backup", *_common(storage, data), *cluster.cli_args(), env={"BRS_POSTGRES_PASSWORD": PASSWORD}, check=True)
    return cluster, storage, data


def _fails_cleanly(result: Any, storage: Path, data: Path, before: list[str], *fragments: str, backup: bool = True) -> None:
    assert expected_failure(result.returncode), (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("brs: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert PASSWORD not in result.stderr and "wrong-password" not in result.stderr
    if backup:
        # Nothing was stored but the record of the failed attempt, which repeats the printed line.
        added = sorted(set(_files(storage)) - set(before))
        assert set(before) <= set(_files(storage)) and len(added) == 1 and added[0].endswith(".failed.json"), added
        record = json.loads((storage / added[0]).read_text())
        assert " ".join(record["error"].split()) in lines[0]  # the printed line folds white space
        assert PASSWORD not in record["error"] and "wrong-password" not in record["error"]
    else:  # a failed restore stores nothing at all
        assert _files(storage) == before
    assert (data / "keep-me").read_text() == "precious"
    assert len(_listed(storage, data)) == 1


def test_wrong_password_is_one_clear_error(one_backup: tuple[PgCluster, Path, Path]) -> None:
    cluster, storage, data = one_backup
    before = _files(storage)
    result = run_brs("backup", *_common(storage, data), *cluster.cli_args(), env={"BRS_POSTGRES_PASSWORD": "wrong-password"})
    _fails_cleanly(result, storage, data, before, f"127.0.0.1:{cluster.port}", "password authentication failed")


def test_unreachable_server_is_one_clear_error(one_backup: tuple[PgCluster, Path, Path]) -> None:
    cluster, storage, data = one_backup
    before = _files(storage)
    port = free_port()
    args = ["--postgres-port", str(port), "--postgres-bindir", str(cluster.tools.bindir)]
    result = run_brs("backup", *_common(storage, data), *args, env={"BRS_POSTGRES_PASSWORD": PASSWORD})
    _fails_cleanly(result, storage, data, before, f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("missing", "compression"),
    [("pg_basebackup", "lz4"), ("pg_basebackup", "none"), ("psql", "auto")],
    ids=["pg_basebackup-for-its-lz4", "pg_basebackup-for-the-plain-stream", "psql-for-the-facts"],
)
def test_a_missing_program_is_one_clear_error(
    missing: str, compression: str, one_backup: tuple[PgCluster, Path, Path], tmp_path: Path
) -> None:
    cluster, storage, data = one_backup
    before = _files(storage)
    bindir = tmp_path / f"bin-without-{missing}"
    bindir.mkdir()
    assert cluster.tools.bindir is not None
    for program in cluster.tools.bindir.iterdir():
        if program.name != missing:
            os.symlink(program, bindir / program.name)
    args = ["--postgres-port", str(cluster.port), "--postgres-bindir", str(bindir)]
    args += ["--postgres-basebackup-compression", compression]
    result = run_brs("backup", *_common(storage, data), *args, env={"BRS_POSTGRES_PASSWORD": PASSWORD})
    _fails_cleanly(result, storage, data, before, f"{missing} not found", str(bindir))


def test_a_failed_restore_leaves_the_data_directory_alone(one_backup: tuple[PgCluster, Path, Path], tmp_path: Path) -> None:
    cluster, storage, data = one_backup
    before = _files(storage)
    bindir = tmp_path / "bin-without-pg_verifybackup"
    bindir.mkdir()
    assert cluster.tools.bindir is not None
    for program in cluster.tools.bindir.iterdir():
        if program.name != "pg_verifybackup":
            os.symlink(program, bindir / program.name)
    result = run_brs("restore", *_common(storage, data), "--postgres-bindir", str(bindir))
    _fails_cleanly(result, storage, data, before, "pg_verifybackup not found", backup=False)
    assert sorted(p.name for p in data.iterdir()) == ["keep-me"]
    assert not [p for p in data.parent.iterdir() if ".brs-" in p.name and not p.name.endswith(".brs-lock")]  # the lock stays
