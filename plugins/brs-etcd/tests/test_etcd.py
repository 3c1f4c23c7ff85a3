"""brs-etcd against real etcd 3.4 (Debian) and 3.5 members, mostly through the real ``brs`` CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aetcd import rpc

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import DatabaseError
from brs import assembly
from brs.interfaces import Database, DataDirStatus
from brs.testing.legacy import make_old_backup
from brs.testing import BULK, DatabaseContract, LocalStoreCLI, assert_ok, free_port, make_certificates, one_line_error
from brs_etcd.testing import Member, StartMember, assert_sample, bindir, load_bulk, load_sample, restore_tool

pytestmark = pytest.mark.server("etcd")


class CLI(LocalStoreCLI):
    """``brs`` with a local backup store."""

    def __call__(
        self, command: str, *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(command, *args, db="etcd", data_dir=data_dir, env=env)


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def _member_flags(name: str, peer_port: int) -> list[str]:
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        "--etcd-name", name, "--etcd-initial-advertise-peer-urls", peer,
        "--etcd-initial-cluster", f"{name}={peer}", "--etcd-initial-cluster-token", "restored-cluster",
    ]  # fmt: skip


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("server", "tools"),
    [("3.4", "3.4"), ("3.5", "3.5"), ("3.4", "3.5")],
    ids=["etcd-3.4", "etcd-3.5", "3.4-snapshot-restored-by-3.5"],
)
def test_keys_leases_and_revisions_survive_backup_wipe_and_restore(
    server: str, tools: str, cli: CLI, start_member: StartMember, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    source = start_member(server, data)
    sample = load_sample(source)
    version = assert_ok(cli("backup", "--etcd-endpoints", source.endpoint, data_dir=data))
    [listed] = cli.listed()
    assert listed["db"] == "etcd"
    source.stop()
    shutil.rmtree(data)

    peer_port = free_port()
    restored = assert_ok(
        cli("restore", "latest", *_member_flags("n2", peer_port), "--etcd-restore-tool", restore_tool(tools), data_dir=data)
    )
    assert restored == version
    assert sorted(p.name for p in data.iterdir()) == ["member"]
    member = start_member(tools, data, "n2", peer_port)
    assert_sample(member, sample)
    with member.channel() as channel:
        [info] = rpc.ClusterStub(channel).MemberList(rpc.MemberListRequest(), timeout=10).members
    assert info.name == "n2" and list(info.peerURLs) == [f"http://127.0.0.1:{peer_port}"]


def test_the_first_answering_endpoint_is_used(cli: CLI, start_member: StartMember, tmp_path: Path) -> None:
    member = start_member("3.5", tmp_path / "data")
    load_sample(member)
    endpoints = f"http://127.0.0.1:{free_port()},{member.endpoint}"
    assert_ok(cli("backup", "--etcd-endpoints", endpoints, data_dir=tmp_path / "data"))
    assert len(cli.listed()) == 1


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_mutual_tls(version: str, cli: CLI, start_member: StartMember, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    data = tmp_path / "data"
    member = start_member(version, data, tls=certs)
    sample = load_sample(member)
    ca = ["--etcd-ca-cert", str(certs / "ca.crt")]
    client = ["--etcd-cert", str(certs / "client.crt"), "--etcd-key", str(certs / "client.key")]
    base = ["--etcd-endpoints", member.endpoint, "--etcd-dial-timeout", "3"]
    line = one_line_error(cli("backup", *base, *ca, data_dir=data))
    assert line.startswith(f"brs: error: etcd at {member.endpoint}")
    assert cli.listed() == []
    assert_ok(cli("backup", *base, *ca, *client, data_dir=data))
    member.stop()
    peer_port = free_port()
    assert_ok(
        cli(
            "restore",
            *_member_flags("n1", peer_port),
            "--etcd-restore-tool",
            restore_tool(version),
            data_dir=tmp_path / "restored",
        )
    )
    assert_sample(start_member(version, tmp_path / "restored", "n1", peer_port), sample)


# --- failures: one line, nothing listed, nothing deleted -----------------------------------------
def test_unreachable_endpoint(cli: CLI, tmp_path: Path) -> None:
    port = free_port()
    line = one_line_error(
        cli("backup", "--etcd-endpoints", f"http://127.0.0.1:{port}", "--etcd-dial-timeout", "3", data_dir=tmp_path / "d")
    )
    assert line.startswith(f"brs: error: etcd at http://127.0.0.1:{port} is unreachable")
    assert cli.listed() == []


@pytest.fixture
def secured(start_member: StartMember, tmp_path: Path) -> Iterator[Member]:
    """A 3.4 member with authentication on: root/root-pass, and reader/reader-pass without roles."""
    member = start_member("3.4", tmp_path / "data")
    load_sample(member)
    with member.channel() as channel:
        auth = rpc.AuthStub(channel)
        auth.UserAdd(rpc.AuthUserAddRequest(name="root", password="root-pass"), timeout=10)
        auth.RoleAdd(rpc.AuthRoleAddRequest(name="root"), timeout=10)
        auth.UserGrantRole(rpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=10)
        auth.UserAdd(rpc.AuthUserAddRequest(name="reader", password="reader-pass"), timeout=10)
        auth.AuthEnable(rpc.AuthEnableRequest(), timeout=10)
    yield member


def test_wrong_password_no_permission_and_a_password_file(cli: CLI, secured: Member, tmp_path: Path) -> None:
    data = secured.data_dir
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    base = ["--etcd-endpoints", secured.endpoint]
    wrong = one_line_error(cli("backup", *base, "--etcd-username", "root", "--etcd-password", "nope", data_dir=data))
    assert "rejected the credentials of user root" in wrong and "nope" not in wrong
    denied = one_line_error(
        cli("backup", *base, "--etcd-username", "reader", data_dir=data, env={"BRS_ETCD_PASSWORD": "reader-pass"})
    )
    assert "user reader lacks a permission" in denied
    anonymous = one_line_error(cli("backup", *base, data_dir=data))
    assert "requires authentication" in anonymous
    assert cli.listed() == []
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before

    secret = tmp_path / "password"
    secret.write_text("root-pass\n")
    assert_ok(cli("backup", *base, "--etcd-username", "root", "--etcd-password-file", str(secret), data_dir=data))
    assert len(cli.listed()) == 1


def test_a_failing_restore_tool_is_one_clear_error_and_keeps_the_data(
    cli: CLI, start_member: StartMember, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    member = start_member("3.5", data)
    load_sample(member)
    assert_ok(cli("backup", "--etcd-endpoints", member.endpoint, data_dir=data))
    member.stop()
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    line = one_line_error(
        cli("restore", "--etcd-initial-cluster", "not a cluster", "--etcd-restore-tool", restore_tool("3.5"), data_dir=data)
    )
    assert "etcdutl snapshot restore failed" in line
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before


# --- data directory checks ------------------------------------------------------------------------
def test_check_reports_empty_healthy_and_corrupt(start_member: StartMember, tmp_path: Path) -> None:
    driver = assembly.database("etcd")
    assert driver.check(tmp_path / "missing").status is DataDirStatus.EMPTY
    data = tmp_path / "data"
    member = start_member("3.4", data)
    load_sample(member)
    member.stop()
    assert driver.check(data).status is DataDirStatus.HEALTHY
    db = data / "member" / "snap" / "db"
    original = db.read_bytes()
    db.write_bytes(b"\0" * 100)
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT and "bbolt" in state.reason
    db.write_bytes(original)
    for wal in (data / "member" / "wal").glob("*.wal"):
        wal.unlink()
    assert driver.check(data).status is DataDirStatus.CORRUPT
    shutil.rmtree(data / "member")
    (data / "stray").write_text("x")
    assert driver.check(data).status is DataDirStatus.CORRUPT


def test_probe_and_version(start_member: StartMember, tmp_path: Path) -> None:
    member = start_member("3.5", tmp_path / "data")
    driver = assembly.database("etcd", {"etcd_endpoints": member.endpoint, "etcd_dial_timeout": 2})
    assert driver.probe() is True
    assert str(driver.version()).startswith("3.5.")
    identity = str(driver.identity())
    assert identity.startswith("etcd:") and int(identity[5:], 16) > 0
    member.stop()
    assert driver.probe() is False
    assert driver.identity() is None
    with pytest.raises(DatabaseError, match="unreachable"):
        driver.version()


# --- the shared contract ----------------------------------------------------------------------------
class TestEtcd34Contract(DatabaseContract):
    version = "3.4"

    @pytest.fixture
    def database(self, start_member: StartMember, tmp_path: Path) -> Database[Any]:
        member = start_member(self.version, tmp_path / "contract-source")
        self.sample = load_sample(member)
        self.peer_port = free_port()
        options = {
            "etcd_endpoints": member.endpoint,
            "etcd_name": "restored",
            "etcd_initial_advertise_peer_urls": f"http://127.0.0.1:{self.peer_port}",
            "etcd_restore_tool": restore_tool(self.version),
        }
        return assembly.database("etcd", options)

    @pytest.fixture
    def assert_restored(self, start_member: StartMember, tmp_path: Path) -> Callable[[Path], None]:
        def check(target: Path) -> None:
            copy = tmp_path / "started-from-restore"
            shutil.copytree(target, copy, symlinks=True)
            assert_sample(start_member(self.version, copy, "restored", self.peer_port), self.sample)

        return check

    @pytest.fixture
    def unreachable_database(self) -> Database[Any]:
        return assembly.database("etcd", {"etcd_endpoints": f"http://127.0.0.1:{free_port()}", "etcd_dial_timeout": 2})

    @pytest.fixture
    def bulky_database(self, start_member: StartMember, tmp_path: Path) -> Database[Any]:
        member = start_member(self.version, tmp_path / "bulky")
        load_bulk(member, BULK)
        return assembly.database("etcd", {"etcd_endpoints": member.endpoint})


class TestEtcd35Contract(TestEtcd34Contract):
    version = "3.5"


def test_archive_layout(start_member: StartMember, tmp_path: Path) -> None:
    member = start_member("3.4", tmp_path / "data")
    load_sample(member)
    path = tmp_path / "dump.tar"
    with open(path, "wb") as sink:
        writer = ArchiveWriter(sink)
        assembly.database("etcd", {"etcd_endpoints": member.endpoint}).dump(writer)
        writer.close()
    with open(path, "rb") as source:
        names = []
        for entry in ArchiveReader(source):
            names.append(entry.name)
            with entry.open() as handle:
                content = handle.read()
            if entry.name.endswith(".json"):
                meta = json.loads(content)
            else:
                snapshot = content
    assert names == ["etcd/brs-etcd.json", "etcd/snapshot.db"]
    assert meta["version"].startswith("3.4.") and meta["revision_at_start"] > 50
    assert hashlib.sha256(snapshot[:-32]).digest() == snapshot[-32:]


# --- backups of backup-restore-sidecar --------------------------------------------------------
def test_an_old_backup_of_backup_restore_sidecar_restores(cli: CLI, start_member: StartMember, tmp_path: Path) -> None:
    """The old tool stored `etcdctl snapshot save` output as files/snapshot.db; built here with tar and lz4."""
    source = start_member("3.5", tmp_path / "live")
    sample = load_sample(source)
    upload = tmp_path / "upload"
    (upload / "files").mkdir(parents=True)
    etcdctl = str(bindir("3.5") / "etcdctl")
    subprocess.run(
        [etcdctl, "--endpoints", source.endpoint, "snapshot", "save", str(upload / "files" / "snapshot.db")],
        check=True,
        capture_output=True,
        env={**os.environ, "ETCDCTL_API": "3"},
    )
    source.stop()
    make_old_backup(upload, cli.store / "0.tar.lz4", "tarlz4")

    peer_port = free_port()
    data = tmp_path / "restored"
    assert_ok(cli("restore", *_member_flags("n2", peer_port), "--etcd-restore-tool", restore_tool("3.5"), data_dir=data))
    assert_sample(start_member("3.5", data, "n2", peer_port), sample)
