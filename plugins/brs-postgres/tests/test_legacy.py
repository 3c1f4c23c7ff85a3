"""Acceptance: pg_basebackup backups of backup-restore-sidecar restore into a PostgreSQL that
starts and serves the rows.

The old tool ran ``pg_basebackup -D files --wal-method=stream --checkpoint=fast -z --format=t``
and archived ``files/`` (base.tar.gz, pg_wal.tar.gz, backup_manifest). The old objects here are
made the same way with the real pg_basebackup and tar/gzip/lz4/openssl (brs.testing.legacy).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from brs.testing import run_brs
from brs.testing.legacy import SUFFIXES, make_old_backup, set_mtime

from brs_postgres.testing import bindir_for, old_format_versions, served_rows

pytestmark = pytest.mark.server("postgres")

KEY = "0123456789abcdefghijklmnopqrstuv"
COMBINATIONS = [(compression, encrypted) for compression in SUFFIXES for encrypted in (True, False)]


@dataclass(frozen=True)
class OldDumps:
    """Two old pg_basebackup dumps: ``older`` holds one row, ``newer`` two."""

    older: Path
    newer: Path
    bindir: Path


@pytest.fixture(scope="module")
def old_dumps() -> Iterator[OldDumps]:
    bindir = bindir_for(15)
    with old_format_versions(bindir) as (older, newer):
        assert {p.name for p in (newer / "files").iterdir()} == {"base.tar.gz", "pg_wal.tar.gz", "backup_manifest"}
        yield OldDumps(older, newer, bindir)


def _rows(data: Path, bindir: Path) -> list[str]:
    return served_rows(data, bindir, "SELECT data FROM backuprestore ORDER BY data")


@pytest.mark.parametrize("compression,encrypted", COMBINATIONS, ids=[f"{c}-{'enc' if e else 'plain'}" for c, e in COMBINATIONS])
def test_old_postgres_backups_restore_and_serve_the_rows(
    old_dumps: OldDumps, tmp_path: Path, compression: str, encrypted: bool
) -> None:
    storage, data = tmp_path / "store", tmp_path / "data"
    suffix = SUFFIXES[compression] + (".aes" if encrypted else "")
    key = KEY if encrypted else None
    set_mtime(make_old_backup(old_dumps.older, storage / f"1{suffix}", compression, key), 1_700_000_000)
    set_mtime(make_old_backup(old_dumps.newer, storage / f"0{suffix}", compression, key), 1_700_000_180)
    common = [
        "--db", "postgres", "--db-data-directory", str(data), "--postgres-bindir", str(old_dumps.bindir),
        "--backup-provider", "local", "--local-provider-backup-path", str(storage),
    ]  # fmt: skip
    if encrypted:
        common += ["--encryption-key", KEY]

    rows = json.loads(run_brs("backups", "list", "--json", *common[6:], check=True).stdout)
    assert [r["name"] for r in rows] == [f"0{suffix}", f"1{suffix}"]
    assert [r["created_at"] for r in rows] == ["2023-11-14T22:16:20.000Z", "2023-11-14T22:13:20.000Z"]
    verified = run_brs("verify", *common[6:], check=True).stdout
    assert "no integrity proof" in verified

    restored = run_brs("restore", *common)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == rows[0]["version"]
    assert not (data / "backup_manifest").exists() and (data / "pg_wal").is_dir()
    assert (data.stat().st_mode & 0o777) == 0o700
    assert _rows(data, old_dumps.bindir) == ["I am precious", "idx-1"]

    if compression == "targz" and encrypted:  # an older one too, once
        shutil.rmtree(data)
        run_brs("restore", rows[1]["version"], *common, check=True)
        assert _rows(data, old_dumps.bindir) == ["I am precious"]
