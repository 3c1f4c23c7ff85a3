"""Acceptance: old pg_basebackup backups as versions of one key in a versioned S3 bucket (moto and
Ceph RGW), for every compression, plain and encrypted, are listed in order with their dates,
verify, download and restore into a PostgreSQL that serves the rows, the newest and an older one.

Cheap for CI: the two pg_basebackup dumps are made once per module, every server gets one bucket
with both versions of every combination (one pause for the one-second S3 dates), and each
restore starts PostgreSQL once.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from brs.testing import run_brs
from brs.testing.legacy import SUFFIXES, make_old_backup
from brs_postgres.testing import bindir_for, old_format_versions, served_rows, world_tempdir
from brs_storage_s3.testing import KEY, S3Target, ceph_rgw, moto, versioned_bucket


pytestmark = [pytest.mark.server("postgres"), pytest.mark.server("s3")]

__all__ = ["ceph_rgw", "moto"]  # the S3 servers, started once for this module

COMBINATIONS = [(compression, encrypted) for compression in SUFFIXES for encrypted in (True, False)]
ROWS = {"older": ["I am precious"], "newer": ["I am precious", "idx-1"]}


@dataclass(frozen=True)
class OldDumps:
    """Two old pg_basebackup dumps of one cluster: ``older`` holds one row, ``newer`` two."""

    older: Path
    newer: Path


@dataclass(frozen=True)
class OldBucket:
    target: S3Target
    bucket: str
    #: object key -> its versions, oldest first
    versions: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def old_dumps() -> Iterator[OldDumps]:
    with old_format_versions(bindir_for(15)) as (older, newer):
        yield OldDumps(older, newer)


def _key(compression: str, encrypted: bool) -> str:
    return f"pg-{compression}-{'enc' if encrypted else 'plain'}/db{SUFFIXES[compression]}{'.aes' if encrypted else ''}"


@pytest.fixture(scope="module", params=["moto", "ceph"])
def old_bucket(request: pytest.FixtureRequest, old_dumps: OldDumps) -> Iterator[OldBucket]:
    """One versioned bucket per server holding the older and the newer dump for every combination."""
    target, client, bucket = versioned_bucket(request, "pg-legacy")
    blobs = world_tempdir("brs-pg-s3-blobs-")
    try:
        for generation, upload in enumerate((old_dumps.older, old_dumps.newer)):
            if generation:
                time.sleep(1.1)  # S3 dates have one-second resolution on some servers
            for compression, encrypted in COMBINATIONS:
                key = _key(compression, encrypted)
                blob = make_old_backup(upload, blobs / str(generation) / key, compression, KEY if encrypted else None)
                client.put_object(Bucket=bucket, Key=key, Body=blob.read_bytes())
    finally:
        shutil.rmtree(blobs, ignore_errors=True)
    versions: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", ()):
            versions.setdefault(item["Key"], []).append(item)
    for items in versions.values():
        items.sort(key=lambda item: item["LastModified"])
    yield OldBucket(target, bucket, versions)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory the postgres account can enter (pytest's tmp_path is private to root)."""
    path = world_tempdir("brs-pg-s3-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _rows(data: Path) -> list[str]:
    return served_rows(data, bindir_for(15), "SELECT data FROM backuprestore ORDER BY data")


@pytest.mark.parametrize("compression,encrypted", COMBINATIONS, ids=[f"{c}-{'enc' if e else 'plain'}" for c, e in COMBINATIONS])
def test_old_postgres_versions_in_s3_list_verify_download_restore_and_serve_the_rows(
    old_bucket: OldBucket, old_dumps: OldDumps, workdir: Path, compression: str, encrypted: bool
) -> None:
    key = _key(compression, encrypted)
    prefix = key.rsplit("/", 1)[0]
    data = workdir / "data"
    target = old_bucket.target
    env = {
        "BRS_BACKUP_PROVIDER": "s3", "BRS_S3_BUCKET_NAME": old_bucket.bucket, "BRS_S3_ENDPOINT": target.endpoint,
        "BRS_S3_REGION": target.region, "BRS_S3_ACCESS_KEY": target.access_key, "BRS_S3_SECRET_KEY": target.secret_key,
        "BRS_OBJECT_PREFIX": prefix, "BRS_DB": "postgres", "BRS_DB_DATA_DIRECTORY": str(data),
        "BRS_POSTGRES_BINDIR": str(bindir_for(15)),
    }  # fmt: skip
    if encrypted:
        env["BRS_ENCRYPTION_KEY"] = KEY

    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    expected = old_bucket.versions[key][::-1]  # newest first
    assert len(expected) == 2
    assert [r["version"] for r in rows] == ["old-" + item["VersionId"] for item in expected]
    for row, item in zip(rows, expected, strict=True):
        assert row["name"] == key and row["size"] == item["Size"]
        assert row["format"] == "backup-restore-sidecar" and row["integrity"] == "none"
        assert row["compression"] == compression and row["encrypted"] is encrypted
        created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        assert abs((created - item["LastModified"]).total_seconds()) < 0.01
    assert rows[0]["created_at"] > rows[1]["created_at"]

    # The newest as the restore without a version picks it, and the older one by its version.
    cases = ((rows[0], [], old_dumps.newer, ROWS["newer"]), (rows[1], [rows[1]["version"]], old_dumps.older, ROWS["older"]))
    for row, chosen, dump, rows_served in cases:
        version = row["version"]
        verified = run_brs("verify", version, env=env, check=True).stdout
        assert version in verified and "no integrity proof" in verified

        download = workdir / f"{version}.tar"
        run_brs("download", version, "-o", str(download), env=env, check=True)
        with tarfile.open(download) as archive:
            for original in (dump / "files").iterdir():
                member = archive.extractfile(f"files/{original.name}")
                assert member is not None and member.read() == original.read_bytes(), original.name

        restored = run_brs("restore", *chosen, env=env, check=True)
        assert restored.stdout.strip() == version
        assert not (data / "backup_manifest").exists() and (data / "pg_wal").is_dir()
        assert _rows(data) == rows_served
        shutil.rmtree(data)
