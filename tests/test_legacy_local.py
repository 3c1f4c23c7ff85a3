"""Acceptance: backups of backup-restore-sidecar on local storage are listed, verified,
downloaded and restored by the real CLI, for every compression, plain and encrypted.

The old objects are built with tar, gzip, lz4 and openssl (brs.testing.legacy), never with
brs's reader.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from datetime import datetime, UTC
from pathlib import Path

import pytest

from brs.testing import run_brs, tree_snapshot
from brs.testing.legacy import SUFFIXES, make_old_backup, set_mtime

OTHER_KEY = "abcdefghijklmnopqrstuvwxyz012345"
HOUR = 3600.0


def _upload_dir(root: Path, generation: int) -> Path:
    """The old localfs adapter's dump: a copy of the data directory below files/."""
    files = root / f"upload-{generation}" / "files"
    (files / "sub" / "deeper").mkdir(parents=True)
    (files / "data.txt").write_text(f"generation {generation}\n")
    (files / "sub" / "deeper" / "note.txt").write_text("nested " * generation)
    (files / "sub" / "binary.bin").write_bytes(bytes(range(256)) * (generation + 1))
    return files.parent


def _old_store(root: Path, store: Path, compression: str, key: str | None) -> dict[str, Path]:
    """Three old backups; the rotating names say nothing about age (0 newest, 1 oldest)."""
    now = time.time()
    ages = {"1": 3 * HOUR, "2": 2 * HOUR, "0": 1 * HOUR}  # name -> age; generations 1, 2, 3
    suffix = SUFFIXES[compression] + (".aes" if key else "")
    uploads = {}
    for generation, (name, age) in enumerate(ages.items(), start=1):
        upload = _upload_dir(root, generation)
        obj = make_old_backup(upload, store / f"{name}{suffix}", compression, key)
        set_mtime(obj, now - age)
        uploads[name] = upload
    return uploads


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
@pytest.mark.parametrize("compression", ["tar", "targz", "tarlz4"])
def test_old_local_backups_list_verify_download_restore(
    tmp_path: Path, brs_env: dict[str, str], brs_key: str, compression: str, encrypted: bool
) -> None:
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    uploads = _old_store(tmp_path, store, compression, brs_key if encrypted else None)
    # The old tool ignored --object-prefix on local storage; brs finds its files anyway.
    env = {**brs_env, "BRS_OBJECT_PREFIX": "mydb", "BRS_COMPRESSION_METHOD": "tar"}
    if encrypted:
        env["BRS_ENCRYPTION_KEY_FILE"] = str(tmp_path / "key")

    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    suffix = SUFFIXES[compression] + (".aes" if encrypted else "")
    assert [r["name"] for r in rows] == [f"0{suffix}", f"2{suffix}", f"1{suffix}"]
    for row in rows:
        mtime = datetime.fromtimestamp((store / row["name"]).stat().st_mtime, tz=UTC)
        assert abs((datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")) - mtime).total_seconds()) < 0.01
        assert row["format"] == "backup-restore-sidecar" and row["integrity"] == "none"
        assert row["compression"] == compression and row["encrypted"] is encrypted
        assert row["size"] == (store / row["name"]).stat().st_size
    newest, older = rows[0]["version"], rows[2]["version"]
    assert len({r["version"] for r in rows}) == 3
    # Versions are stable: listing again gives the same ids.
    assert [r["version"] for r in json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)] == [
        r["version"] for r in rows
    ]
    table = run_brs("backups", "list", env=env, check=True)
    assert "old" in table.stdout.splitlines()[1].split() and "no integrity proof" in table.stderr

    verified = run_brs("verify", env=env, check=True).stdout
    assert newest in verified and "no integrity proof" in verified

    out = tmp_path / "older.tar"
    run_brs("download", older, "-o", str(out), env=env, check=True)
    with tarfile.open(out) as archive:
        assert archive.extractfile("files/data.txt").read() == b"generation 1\n"  # type: ignore[union-attr]

    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    assert run_brs("restore", older, env=env, check=True).stdout.strip() == older
    assert tree_snapshot(data) == tree_snapshot(uploads["1"] / "files")
    shutil.rmtree(data)
    assert run_brs("restore", env=env, check=True).stdout.strip() == newest
    assert (data / "data.txt").read_text() == "generation 3\n"
    assert tree_snapshot(data) == tree_snapshot(uploads["0"] / "files")
