"""Acceptance: backups of backup-restore-sidecar in a versioned bucket (moto and Ceph RGW).

The old tool overwrote ``[prefix/]db.tar*`` in a versioned bucket, so every object version is
one backup. The objects are built with tar, gzip, lz4 and openssl (brs.testing.legacy) and
uploaded with boto3 directly, independently of brs.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from brs.crypto import Keyring
from brs.legacy import FORMAT, LegacyBackup
from brs.testing import assert_one_line_error, listed_backups, tree_snapshot
from brs.testing.legacy import SUFFIXES, make_old_backup, old_localfs_dump
from brs.testing.storage import backup_small

from brs_storage_s3.testing import KEY, Moto, Pki, S3Target, engine_for, moto_target, unique_bucket, versioned_bucket

pytestmark = pytest.mark.server("s3")

COMBINATIONS = [(compression, encrypted) for compression in SUFFIXES for encrypted in (True, False)]


@dataclass(frozen=True)
class OldBucket:
    target: S3Target
    bucket: str
    uploads: dict[int, Path]
    #: prefix -> VersionIds of db.tar*, oldest first
    versions: dict[str, list[dict[str, Any]]]


def _prefix(compression: str, encrypted: bool) -> str:
    return f"old/{compression}-{'enc' if encrypted else 'plain'}"


@pytest.fixture(scope="module", params=["moto", "ceph"])
def old_bucket(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OldBucket]:
    """One versioned bucket per server with three old backups for every compression and encryption."""
    target, client, bucket = versioned_bucket(request, "legacy")
    root = tmp_path_factory.mktemp("old-s3")
    uploads = {generation: old_localfs_dump(root, generation) for generation in (1, 2, 3)}
    for generation, upload in uploads.items():
        if generation > 1:
            time.sleep(1.1)  # S3 dates have one-second resolution on some servers
        for compression, encrypted in COMBINATIONS:
            name = "db" + SUFFIXES[compression] + (".aes" if encrypted else "")
            blob = make_old_backup(
                upload, root / f"g{generation}" / _prefix(compression, encrypted) / name, compression, KEY if encrypted else None
            )
            client.put_object(Bucket=bucket, Key=f"{_prefix(compression, encrypted)}/{name}", Body=blob.read_bytes())
    # A delete marker on top (the old key was removed) hides nothing: versions stay backups.
    client.delete_object(Bucket=bucket, Key=f"{_prefix('targz', True)}/db.tar.gz.aes")
    # Another deployment's folder that starts with the same letters is not ours.
    client.put_object(Bucket=bucket, Key="old/tar-plainly/db.tar", Body=b"not ours")
    versions: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="old/"):
        for item in page.get("Versions", ()):
            versions.setdefault(item["Key"].rsplit("/", 1)[0], []).append(item)
    for items in versions.values():
        items.sort(key=lambda item: item["LastModified"])
    yield OldBucket(target, bucket, uploads, versions)


@pytest.mark.parametrize("compression,encrypted", COMBINATIONS, ids=[f"{c}-{'enc' if e else 'plain'}" for c, e in COMBINATIONS])
def test_old_versions_list_verify_download_restore(
    old_bucket: OldBucket, tmp_path: Path, compression: str, encrypted: bool
) -> None:
    prefix = _prefix(compression, encrypted)
    engine = engine_for(old_bucket.target, old_bucket.bucket, prefix, tmp_path / "data")
    engine.settings.keyring = Keyring(KEY.encode() if encrypted else None)

    listed = [entry.manifest for entry in engine.catalog().entries]
    expected = old_bucket.versions[prefix][::-1]  # newest first
    assert all(isinstance(backup, LegacyBackup) for backup in listed)
    assert [b.backup_id for b in listed] == ["old-" + item["VersionId"] for item in expected]
    for backup, item in zip(listed, expected, strict=True):
        row = backup.summary()
        assert row["format"] == FORMAT and row["integrity"] == "none"
        assert row["name"] == item["Key"] and row["size"] == item["Size"]
        assert row["compression"] == compression and row["encrypted"] is encrypted
        assert abs((backup.created - item["LastModified"]).total_seconds()) < 0.01

    newest, oldest = listed[0], listed[-1]
    result = engine.verify(newest.backup_id)
    assert result.members == 5 and result.raw_bytes > 0  # 2 directories and 3 files below files/

    download = tmp_path / "oldest.tar"
    engine.download(oldest.source.version, download)  # the VersionId as the old tool's `restore ls` showed it
    with tarfile.open(download) as archive:
        assert archive.extractfile("files/data.txt").read() == b"generation 1\n"  # type: ignore[union-attr]

    engine.restore(oldest.backup_id, keep_previous=False)
    assert tree_snapshot(tmp_path / "data") == tree_snapshot(old_bucket.uploads[1] / "files")
    engine.restore("latest", keep_previous=False)
    assert tree_snapshot(tmp_path / "data") == tree_snapshot(old_bucket.uploads[3] / "files")

    if compression == "tar" and not encrypted:  # once per server: deleting one old version when asked
        engine.delete(oldest.backup_id)
        assert [e.manifest.backup_id for e in engine.catalog().entries] == [b.backup_id for b in listed[:-1]]


def test_trusted_ca_cert_takes_the_pem_text_as_the_old_tool_did(tmp_path: Path, moto_tls: Moto, pki: Pki) -> None:
    bucket = unique_bucket()
    env = {**moto_target(moto_tls).env(tmp_path, bucket), "BACKUP_RESTORE_SIDECAR_S3_TRUSTED_CA_CERT": pki.ca.read_text()}
    result = backup_small(env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("deprecated: read BACKUP_RESTORE_SIDECAR_S3_TRUSTED_CA_CERT;") == 1
    assert len(listed_backups(env)) == 1
    env["BACKUP_RESTORE_SIDECAR_S3_TRUSTED_CA_CERT"] = pki.other_ca.read_text()
    # The deprecation line aside (log level error), a failure is one line.
    assert_one_line_error(backup_small(env, BRS_LOG_LEVEL="error"), "TLS")
    env["BACKUP_RESTORE_SIDECAR_S3_TRUSTED_CA_CERT"] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    assert_one_line_error(backup_small(env, BRS_LOG_LEVEL="error"), "PEM text given as --s3-trusted-ca-cert", "not a PEM")
