"""Acceptance: old pg_basebackup backups as versions of one key in a versioned S3 bucket (moto)
restore into a PostgreSQL that serves the rows, the newest and an older one."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from brs.testing import run_brs, serve
from brs.testing.legacy import make_old_backup
from brs_postgres.testing import PgCluster, bindir_for, old_format_dump, served_rows, world_tempdir

# The S3 test servers live with the S3 plugin's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "brs-storage-s3" / "tests"))
from s3_servers import MOTO_KEYS, Moto

KEY = "0123456789abcdefghijklmnopqrstuv"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[Moto]:
    yield from serve(Moto())


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory the postgres account can enter (pytest's tmp_path is private to root)."""
    path = world_tempdir("brs-pg-s3-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_old_postgres_versions_in_s3_restore_and_serve_the_rows(moto_server: Moto, workdir: Path) -> None:
    cluster = PgCluster(bindir_for(15), workdir / "cluster")
    client = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1", **_keys())
    client.create_bucket(Bucket="pg-legacy")
    client.put_bucket_versioning(Bucket="pg-legacy", VersioningConfiguration={"Status": "Enabled"})
    try:
        cluster.init().start()
        for generation, row in enumerate(["I am precious", "idx-1"]):
            with cluster.connect() as conn:
                if generation == 0:
                    conn.execute("CREATE TABLE backuprestore (data text)")
                conn.execute("INSERT INTO backuprestore VALUES (%s)", (row,))
            upload = old_format_dump(cluster, workdir / f"upload-{generation}")
            blob = make_old_backup(upload, workdir / f"db-{generation}.tar.gz.aes", "targz", KEY)
            if generation:
                time.sleep(1.1)  # S3 dates have one-second resolution
            client.put_object(Bucket="pg-legacy", Key="postgres-test/db.tar.gz.aes", Body=blob.read_bytes())
    finally:
        cluster.destroy()

    data = workdir / "data"
    env = {
        "BRS_BACKUP_PROVIDER": "s3", "BRS_S3_BUCKET_NAME": "pg-legacy", "BRS_S3_ENDPOINT": moto_server.endpoint,
        "BRS_S3_REGION": "us-east-1", "BRS_S3_ACCESS_KEY": MOTO_KEYS["AWS_ACCESS_KEY_ID"],
        "BRS_S3_SECRET_KEY": MOTO_KEYS["AWS_SECRET_ACCESS_KEY"], "BRS_OBJECT_PREFIX": "postgres-test",
        "BRS_ENCRYPTION_KEY": KEY, "BRS_DB": "postgres", "BRS_DB_DATA_DIRECTORY": str(data),
        "BRS_POSTGRES_BINDIR": str(bindir_for(15)),
    }  # fmt: skip
    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert [r["name"] for r in rows] == ["postgres-test/db.tar.gz.aes"] * 2
    assert rows[0]["created_at"] > rows[1]["created_at"]

    run_brs("restore", rows[1]["version"], env=env, check=True)
    assert served_rows(data, bindir_for(15), "SELECT data FROM backuprestore ORDER BY data") == ["I am precious"]
    shutil.rmtree(data)
    run_brs("restore", env=env, check=True)
    assert served_rows(data, bindir_for(15), "SELECT data FROM backuprestore ORDER BY data") == ["I am precious", "idx-1"]


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": MOTO_KEYS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": MOTO_KEYS["AWS_SECRET_ACCESS_KEY"]}
