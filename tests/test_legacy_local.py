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

from brs.errors import KeyMissing
from brs.testing import assert_one_line_error, run_brs, tree_snapshot
from brs.testing.legacy import SUFFIXES, make_old_backup, old_localfs_dump, set_mtime

OTHER_KEY = "abcdefghijklmnopqrstuvwxyz012345"
HOUR = 3600.0


def _old_store(root: Path, store: Path, compression: str, key: str | None) -> dict[str, Path]:
    """Three old backups; the rotating names say nothing about age (0 newest, 1 oldest)."""
    now = time.time()
    ages = {"1": 3 * HOUR, "2": 2 * HOUR, "0": 1 * HOUR}  # name -> age; generations 1, 2, 3
    suffix = SUFFIXES[compression] + (".aes" if key else "")
    uploads = {}
    for generation, (name, age) in enumerate(ages.items(), start=1):
        upload = old_localfs_dump(root, generation)
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
    # The table marks them old, and the versions are stable: listing again gives the same ids.
    table = run_brs("backups", "list", env=env, check=True)
    lines = table.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == [r["version"] for r in rows]
    assert all("old" in line.split() for line in lines) and "no integrity proof" in table.stderr

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


def test_wrong_key_is_reported_as_a_wrong_key(tmp_path: Path, brs_env: dict[str, str]) -> None:
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    make_old_backup(old_localfs_dump(tmp_path, 1), store / "0.tar.gz.aes", "targz", OTHER_KEY)
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    for command in (["verify"], ["restore"], ["download", "latest", "-o", str(tmp_path / "out.tar")]):
        result = run_brs(*command, env=env)
        assert result.returncode == KeyMissing.exit_code, result.stderr
        message = assert_one_line_error(result, "wrong key", "0.tar.gz.aes")
        assert "decompress" not in message
    assert not Path(env["BRS_DB_DATA_DIRECTORY"]).exists()
    assert not (tmp_path / "out.tar").exists() and not (tmp_path / "out.tar.partial").exists()
    # Without any key the message says that a key is needed.
    assert_one_line_error(run_brs("verify", env=brs_env), "encrypted", "no encryption key is configured")
    # The old key as an extra decryption key (after a key rotation) opens it.
    (tmp_path / "old-key").write_text(OTHER_KEY + "\n")
    run_brs("restore", "--decryption-key-file", str(tmp_path / "old-key"), env=env, check=True)
    assert (Path(env["BRS_DB_DATA_DIRECTORY"]) / "data.txt").read_text() == "generation 1\n"


def test_plain_old_backups_need_the_explicit_allowance_when_a_key_is_configured(tmp_path: Path, brs_env: dict[str, str]) -> None:
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    make_old_backup(old_localfs_dump(tmp_path, 2), store / "0.tar.lz4", "tarlz4")
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    assert_one_line_error(run_brs("restore", env=env), "not encrypted", "--allow-unencrypted")
    assert not data.exists()
    run_brs("restore", "--allow-unencrypted", env=env, check=True)
    assert (data / "data.txt").read_text() == "generation 2\n"


def test_damaged_plain_old_backup_is_reported_as_damaged(tmp_path: Path, brs_env: dict[str, str]) -> None:
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    blob = make_old_backup(old_localfs_dump(tmp_path, 1), store / "0.tar.gz", "targz")
    blob.write_bytes(b"\x00" * 16 + blob.read_bytes()[16:])
    assert_one_line_error(run_brs("verify", env=brs_env), "0.tar.gz", "damaged")


def test_retention_never_deletes_old_backups(tmp_path: Path, brs_env: dict[str, str]) -> None:
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    old = [make_old_backup(old_localfs_dump(tmp_path, generation), store / f"{generation}.tar", "tar") for generation in (1, 2)]
    set_mtime(old[0], time.time() - 400 * 24 * HOUR)  # far older than any retention
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "live.txt").write_text("live\n")
    env = {**brs_env, "BRS_OBJECT_MAX_KEEP": "1", "BRS_COMPRESSION_METHOD": "tar"}
    # object-days-max-keep keeps everything younger than a day beyond the count, as the old
    # S3 lifecycle rule did; without it the count alone decides.
    for _ in range(2):
        run_brs("backup", env={**env, "BRS_OBJECT_DAYS_MAX_KEEP": "1"}, check=True)
    assert (
        len([r for r in json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout) if not r.get("format")]) == 2
    )
    newest = run_brs("backup", env=env, check=True).stdout.strip()
    assert all(path.exists() for path in old)
    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert [r["version"] for r in rows if r.get("format") is None] == [newest]
    assert sorted(r["name"] for r in rows if r.get("format")) == ["1.tar", "2.tar"]
    # Asked by its exact version, brs deletes that one old object and nothing else.
    named = next(r for r in rows if r.get("format"))
    assert_one_line_error(run_brs("backups", "delete", named["name"], env=env), "by its version", named["version"])
    assert all(path.exists() for path in old)
    run_brs("backups", "delete", named["version"], env=env, check=True)
    assert [path.exists() for path in old] == [path.name != named["name"] for path in old]
