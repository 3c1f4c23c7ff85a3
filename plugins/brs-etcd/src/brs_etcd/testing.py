"""Test helpers: real etcd members (3.4 and 3.5) on free loopback ports, and a sample data set.

Used by this plugin's tests and by end-to-end tests elsewhere in the repository; import the
fixture into a ``conftest.py`` (``from brs_etcd.testing import start_member as start_member``).
Missing etcd programs are a test *failure* with a clear message, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from aetcd import rpc

from brs.testing import ServerProcess, free_port, server_factory, stop_server

__all__ = [
    "VERSIONS",
    "Member",
    "Sample",
    "StartMember",
    "assert_sample",
    "bindir",
    "load_bulk",
    "load_sample",
    "read_all",
    "restore_tool",
    "start_member",
]

VERSIONS = {
    # version -> (env var, default bin dir), as in scripts/test-servers.env
    "3.4": ("BRS_ETCD34_BINDIR", "/usr/bin"),
    "3.5": ("BRS_ETCD35_BINDIR", os.path.join(os.environ.get("BRS_TEST_ROOT", "/opt/brs-test"), "etcd-3.5/usr/bin")),
}


def bindir(version: str) -> Path:
    """The directory with etcd, etcdctl (and etcdutl); missing binaries fail the test."""
    variable, default = VERSIONS[version]
    path = Path(os.environ.get(variable) or default)
    need = ["etcd", "etcdctl"] + (["etcdutl"] if version != "3.4" else [])
    missing = [name for name in need if not os.access(path / name, os.X_OK)]
    if missing:
        pytest.fail(
            f"etcd {version}: {', '.join(missing)} not found in {path} "
            f"(set {variable}; run scripts/install-system-deps.sh and scripts/install-test-servers.sh)",
            pytrace=False,
        )
    out = subprocess.run([str(path / "etcd"), "--version"], capture_output=True, text=True, check=False).stdout
    if f"etcd Version: {version}." not in out:
        pytest.fail(f"{path / 'etcd'} is not etcd {version}: {out.splitlines()[:1]}", pytrace=False)
    return path


def restore_tool(version: str) -> str:
    directory = bindir(version)
    return str(directory / ("etcdctl" if version == "3.4" else "etcdutl"))


@dataclass
class Member(ServerProcess):
    """One single-member etcd cluster on loopback; :meth:`start` launches it."""

    version: str
    data_dir: Path
    name: str = "n1"
    peer_port: int | None = None  #: None: a free port, chosen at start
    tls: Path | None = None  #: certificates of :func:`brs.testing.make_certificates`: client TLS, client certificates required
    client_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.{self.client_port}.log"

    def channel(self) -> grpc.Channel:
        target = f"127.0.0.1:{self.client_port}"
        options = [("grpc.max_receive_message_length", 64 << 20)]  # read_all() gets every key at once
        if self.tls is None:
            return grpc.insecure_channel(target, options=options)
        files = [(self.tls / name).read_bytes() for name in ("ca.crt", "client.key", "client.crt")]
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(*files), options=options)

    def start(self) -> Member:
        """Launch on free ports and wait until it has a leader (a port taken meanwhile: others)."""
        etcd = str(bindir(self.version) / "etcd")
        scheme = "https" if self.tls else "http"
        fixed_peer = self.peer_port
        for _attempt in range(5):
            self.client_port, self.peer_port, metrics = free_port(), fixed_peer or free_port(), free_port()
            client, peer, name = self.client_port, self.peer_port, self.name
            args = [
                etcd, "--name", name, "--data-dir", str(self.data_dir),
                "--listen-client-urls", f"{scheme}://127.0.0.1:{client}", "--advertise-client-urls", f"{scheme}://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"{name}=http://127.0.0.1:{peer}", "--listen-metrics-urls", f"http://127.0.0.1:{metrics}",
            ]  # fmt: skip
            if self.tls is not None:  # client TLS with client certificates required; peers stay plain
                args += ["--cert-file", str(self.tls / "server.crt"), "--key-file", str(self.tls / "server.key")]
                args += ["--trusted-ca-file", str(self.tls / "ca.crt"), "--client-cert-auth"]
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            if _wait_ready(self):
                return self
            self.stop()
            if "address already in use" not in self.log():
                pytest.fail(f"etcd {self.version} did not start on {self.data_dir}:\n{self.log()[-3000:]}", pytrace=False)
        pytest.fail("etcd found no free port", pytrace=False)

    def stop(self) -> None:
        stop_server(self.process, timeout=15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


StartMember = Callable[..., Member]


@pytest.fixture
def start_member() -> Iterator[StartMember]:
    """``start_member(version, data_dir, name="n1", peer_port=None, tls=None)`` returns a
    :class:`Member` that answers; every one is stopped when the test ends."""
    yield from server_factory(Member)


def _wait_ready(member: Member, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    with member.channel() as channel:
        kv = rpc.KVStub(channel)
        while time.monotonic() < deadline:
            if member.process is None or member.process.poll() is not None:
                return False
            try:
                kv.Range(rpc.RangeRequest(key=b"probe"), timeout=1)  # linearizable: needs a leader
                return True
            except grpc.RpcError:
                time.sleep(0.1)
    return False


# --- sample data: keys, a lease with keys, several revisions ------------------------------------
@dataclass(frozen=True)
class Sample:
    keys: dict[bytes, bytes]
    lease_id: int
    leased_keys: frozenset[bytes]
    revision: int
    mod_revisions: dict[bytes, int]


def load_sample(member: Member) -> Sample:
    with member.channel() as channel:
        kv, lease = rpc.KVStub(channel), rpc.LeaseStub(channel)
        for i in range(50):
            kv.Put(rpc.PutRequest(key=f"/app/config/{i:03d}".encode(), value=f"value {i}".encode()), timeout=10)
        for i in range(5):  # about 5 MiB: the snapshot spans several archive stream parts
            kv.Put(rpc.PutRequest(key=f"/large/{i}".encode(), value=os.urandom(1 << 20)), timeout=30)
        for i in range(5):  # the same key rewritten: several revisions
            kv.Put(rpc.PutRequest(key=b"/app/counter", value=str(i).encode()), timeout=10)
        kv.Put(rpc.PutRequest(key=b"/binary", value=bytes(range(256))), timeout=10)
        granted = lease.LeaseGrant(rpc.LeaseGrantRequest(TTL=3600), timeout=10)
        for key in (b"/leased/a", b"/leased/b"):
            kv.Put(rpc.PutRequest(key=key, value=b"with lease", lease=granted.ID), timeout=10)
    keys, mods, revision = read_all(member)
    return Sample(keys, granted.ID, frozenset({b"/leased/a", b"/leased/b"}), revision, mods)


def load_bulk(member: Member, size: int) -> None:
    """More than ``size`` bytes of random values, 1 MiB each: etcd refuses requests larger than
    ``--max-request-bytes`` (1.5 MiB by default), so a large data set is many values."""
    piece = 1 << 20
    with member.channel() as channel:
        kv = rpc.KVStub(channel)
        for index in range(size // piece + 1):
            kv.Put(rpc.PutRequest(key=f"/bulk/{index:04d}".encode(), value=os.urandom(piece)), timeout=30)


def read_all(member: Member) -> tuple[dict[bytes, bytes], dict[bytes, int], int]:
    with member.channel() as channel:
        response = rpc.KVStub(channel).Range(rpc.RangeRequest(key=b"\0", range_end=b"\0"), timeout=10)
    keys = {kv.key: kv.value for kv in response.kvs}
    mods = {kv.key: kv.mod_revision for kv in response.kvs}
    return keys, mods, int(response.header.revision)


def assert_sample(member: Member, sample: Sample) -> None:
    """Keys, values, revisions and the lease came back; the member accepts writes."""
    keys, mods, revision = read_all(member)
    assert keys == sample.keys
    assert mods == sample.mod_revisions
    assert revision >= sample.revision
    with member.channel() as channel:
        ttl = rpc.LeaseStub(channel).LeaseTimeToLive(rpc.LeaseTimeToLiveRequest(ID=sample.lease_id, keys=True), timeout=10)
        assert ttl.TTL > 0, "the lease did not survive"
        assert frozenset(ttl.keys) == sample.leased_keys
        put = rpc.KVStub(channel).Put(rpc.PutRequest(key=b"/after-restore", value=b"written"), timeout=10)
        assert put.header.revision > sample.revision
        got = rpc.KVStub(channel).Range(rpc.RangeRequest(key=b"/after-restore"), timeout=10)
        assert got.kvs[0].value == b"written"
