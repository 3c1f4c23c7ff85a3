"""Test servers and helpers for the S3 driver: moto (subprocess, fast) and a single-node Ceph RGW (real S3).

Import the fixtures into a ``conftest.py`` (``from brs_storage_s3.testing import moto, ...``).

Every server is started by a fixture on a free 127.0.0.1 port and stopped by the same fixture,
also when the test fails. A server that cannot start fails the tests that need it; nothing is
skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from brs import assembly
from brs.testing import ServerProcess, free_port, make_certificates, serve, server_factory, wait_for_http
from brs.testing.storage import storage_engine

from brs_storage_s3.storage import S3Storage

if TYPE_CHECKING:
    from brs.engine import Engine

#: The source checkout, for the Ceph scripts (``BRS_CEPH_RGW_START``/``_STOP`` name them elsewhere).
REPO = Path(__file__).resolve().parents[4]
KEY = "0123456789abcdef0123456789abcdef"
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@dataclass
class Moto(ServerProcess):
    """A ``moto_server`` subprocess that a test may kill and start again on the same port."""

    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Moto:
        command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            command += ["-c", str(self.tls[0]), "-k", str(self.tls[1])]
        self.process = subprocess.Popen(
            command, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        import ssl

        context = ssl._create_unverified_context() if self.tls else None
        return self.ready(lambda: wait_for_http(self.endpoint + "/moto-api/", self.process, context=context))


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    """One shared moto server; tests isolate themselves with unique bucket names."""
    yield from serve(Moto())


@pytest.fixture
def moto_factory() -> Iterator[Callable[..., Moto]]:
    """Private moto servers for tests that kill them or change their settings."""
    yield from server_factory(Moto)


@dataclass(frozen=True)
class S3Target:
    """Where and how a test reaches an S3 server."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    checksum: str | None = None

    def options(self, bucket: str, **more: Any) -> dict[str, Any]:
        """Option values as the CLI would pass them to the driver."""
        values: dict[str, Any] = {
            "s3_bucket_name": bucket,
            "s3_endpoint": self.endpoint,
            "s3_region": self.region,
            "s3_access_key": self.access_key,
            "s3_secret_key": self.secret_key,
            "s3_max_attempts": 3,
        }
        if self.checksum:
            values["s3_request_checksum_calculation"] = self.checksum
        values.update(more)
        return values

    def client(self, attempts: int = 3) -> Any:
        """A boto3 client straight to the server (path-style), to look behind brs's back."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": attempts}),
        )

    def env(self, tmp_path: Path, bucket: str, prefix: str = "") -> dict[str, str]:
        """Environment for ``brs`` subprocesses: localfs data under ``tmp_path``, secrets not on argv."""
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "key").write_text(KEY + "\n")
        env = {
            "BRS_DB": "localfs",
            "BRS_DB_DATA_DIRECTORY": str(tmp_path / "data"),
            "BRS_BACKUP_PROVIDER": "s3",
            "BRS_S3_BUCKET_NAME": bucket,
            "BRS_S3_ENDPOINT": self.endpoint,
            "BRS_S3_REGION": self.region,
            "BRS_S3_ACCESS_KEY": self.access_key,
            "BRS_S3_SECRET_KEY": self.secret_key,
            "BRS_S3_MAX_ATTEMPTS": "3",
            "BRS_OBJECT_PREFIX": prefix,
            "BRS_LOG_FORMAT": "json",
        }
        if self.checksum:
            env["BRS_S3_REQUEST_CHECKSUM_CALCULATION"] = self.checksum
        return env


def moto_target(server: Moto) -> S3Target:
    return S3Target(server.endpoint, MOTO_KEYS["AWS_ACCESS_KEY_ID"], MOTO_KEYS["AWS_SECRET_ACCESS_KEY"])


def unique_bucket(tag: str = "brs") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def versioned_bucket(request: pytest.FixtureRequest, tag: str) -> tuple[S3Target, Any, str]:
    """For a fixture parametrized with ``"moto"`` or ``"ceph"``: that server, a boto3 client to it
    and a new versioned bucket, made directly (not through brs) as the old tool's users had it."""
    target = moto_target(request.getfixturevalue("moto")) if request.param == "moto" else request.getfixturevalue("ceph_rgw")
    client = target.client()
    bucket = unique_bucket(tag)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return target, client, bucket


def s3_storage(target: S3Target, bucket: str, prefix: str, **more: Any) -> S3Storage:
    """A driver for ``target``/``bucket``/``prefix``, configured as the CLI configures it."""
    storage = assembly.storage("s3", target.options(bucket, **more), object_prefix=prefix)
    assert isinstance(storage, S3Storage)
    return storage


@pytest.fixture
def storage_on() -> Callable[..., S3Storage]:
    """Build a driver in-process for ``target``/``bucket``/``prefix`` (and more option values)."""
    return s3_storage


# -- Ceph RGW ---------------------------------------------------------------------------------
def _ceph_script(name: str, variable: str) -> Path:
    configured = os.environ.get(variable)
    return Path(configured) if configured else REPO / "scripts" / name


def _ceph_port() -> int:
    """A base port whose +0..+49 neighbours are free (the script binds mon and OSD there)."""
    for _ in range(50):
        base = free_port()
        if base + 49 > 65535:
            continue
        ports = [base + offset for offset in (0, 1, 2, *range(10, 50))]
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free range of 50 ports for Ceph")


@pytest.fixture(scope="session")
def ceph_rgw() -> Iterator[S3Target]:
    """A single-node Ceph cluster with radosgw, started once per session (~15 s)."""
    start, stop = _ceph_script("ceph-rgw-start.sh", "BRS_CEPH_RGW_START"), _ceph_script("ceph-rgw-stop.sh", "BRS_CEPH_RGW_STOP")
    if shutil.which("radosgw") is None or not start.exists():
        pytest.fail(
            "Ceph RGW is not installed: run BRS_WITH_CEPH=1 scripts/install-test-servers.sh (needed for the real-S3 tests)"
        )
    # Admin sockets live below the directory: keep its path short.
    directory = Path(tempfile.mkdtemp(prefix="brs-ceph-", dir="/tmp"))
    try:
        result = subprocess.run([str(start), str(directory), str(_ceph_port())], capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            pytest.fail(f"Ceph RGW did not start:\n{result.stderr[-3000:]}")
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        # boto3's default checksums (CRC32 headers) work with Ceph Pacific; keep them, so the
        # real server sees what AWS would.
        yield S3Target(
            values["CEPH_RGW_ENDPOINT"],
            values["CEPH_RGW_ACCESS_KEY"],
            values["CEPH_RGW_SECRET_KEY"],
            region=values.get("CEPH_RGW_REGION", "default"),
        )
    finally:
        subprocess.run([str(stop), str(directory), "--purge"], capture_output=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


def engine_for(target: S3Target, bucket: str, prefix: str, data_dir: Path, max_keep: int = 20) -> Engine:
    """An in-process engine (localfs + s3 + tar), wired as the CLI wires it, for fast loops."""
    return storage_engine(s3_storage(target, bucket, prefix), data_dir, max_keep=max_keep)


@dataclass(frozen=True)
class Restricted:
    """A moto server that checks signatures, with a user that may not create buckets."""

    server: Moto
    target: S3Target
    existing_bucket: str


@pytest.fixture(scope="session")
def moto_with_auth() -> Iterator[Restricted]:
    """moto enforcing IAM: the first few unauthenticated actions set up a restricted user."""
    import boto3

    setup_actions = 4  # create_user, create_access_key, put_user_policy, create_bucket
    server = Moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": str(setup_actions)}).start()
    try:
        admin = {"endpoint_url": server.endpoint, "region_name": "us-east-1", **_lower(MOTO_KEYS)}
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="brs")
        key = iam.create_access_key(UserName="brs")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    "Resource": ["arn:aws:s3:::*"],
                }
            ],
        }
        iam.put_user_policy(UserName="brs", PolicyName="brs-backups", PolicyDocument=json.dumps(policy))
        bucket = unique_bucket("existing")
        boto3.client("s3", **admin).create_bucket(Bucket=bucket)
        yield Restricted(server, S3Target(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"]), bucket)
    finally:
        server.stop()


def _lower(keys: dict[str, str]) -> dict[str, str]:
    return {"aws_access_key_id": keys["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"]}


@dataclass(frozen=True)
class Pki:
    """``ours``: a CA and a server certificate for 127.0.0.1 it signed; ``other``: an unrelated CA."""

    ours: Path
    other: Path

    @property
    def ca(self) -> Path:
        return self.ours / "ca.crt"

    @property
    def other_ca(self) -> Path:
        return self.other / "ca.crt"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(make_certificates(tmp_path_factory.mktemp("pki")), make_certificates(tmp_path_factory.mktemp("other-pki")))


@pytest.fixture(scope="session")
def moto_tls(pki: Pki) -> Iterator[Moto]:
    server = Moto(tls=(pki.ours / "server.crt", pki.ours / "server.key")).start()
    try:
        yield server
    finally:
        server.stop()
