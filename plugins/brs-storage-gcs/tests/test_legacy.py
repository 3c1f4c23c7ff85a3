"""Backups of backup-restore-sidecar in GCS: every generation of ``[prefix/]db.tar*``.

The emulator of these tests (gcp-storage-emulator) does not keep noncurrent generations: an
upload replaces the object and ``versions=true`` lists only the live one. So this test covers
the listing, the generation pinning and the restore of the live generation; the listing of
older generations relies on the same ``list_blobs(versions=True)`` call that real GCS answers
with every generation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from brs.testing import run_brs, tree_snapshot
from brs.testing.legacy import make_old_backup, old_localfs_dump
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from brs_storage_gcs.testing import KEY, Emulator
import pytest

pytestmark = pytest.mark.server("gcs")


def test_the_live_generation_of_an_old_backup_lists_and_restores(tmp_path: Path, gcs_emulator: Emulator) -> None:
    bucket = "legacy-gcs"
    env = {**gcs_emulator.env(tmp_path, bucket, prefix="pg"), "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    client = storage.Client(
        project="brs-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_emulator.endpoint}
    )
    client.create_bucket(bucket)
    upload = old_localfs_dump(tmp_path, 1)
    blob_file = make_old_backup(upload, tmp_path / "db.tar.gz.aes", "targz", KEY)
    blob = client.bucket(bucket).blob("pg/db.tar.gz.aes")
    blob.upload_from_filename(str(blob_file))
    client.bucket(bucket).blob("pg-other/db.tar.gz.aes").upload_from_filename(str(blob_file))  # not this prefix

    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert [(r["name"], r["version"], r["size"]) for r in rows] == [
        ("pg/db.tar.gz.aes", f"old-{blob.generation}", blob_file.stat().st_size)
    ]
    assert rows[0]["format"] == "backup-restore-sidecar" and rows[0]["encrypted"] is True

    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    assert run_brs("restore", rows[0]["version"], env=env, check=True).stdout.strip() == rows[0]["version"]
    assert tree_snapshot(data) == tree_snapshot(upload / "files")
    shutil.rmtree(data)
    # Deleted only when named, and then only that generation.
    run_brs("backups", "delete", rows[0]["version"], "--force", env=env, check=True)
    assert [b.name for b in client.list_blobs(bucket, versions=True)] == ["pg-other/db.tar.gz.aes"]
