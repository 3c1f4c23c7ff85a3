"""Server-free tests of brs-etcd: its options, backups it must refuse, the snapshot stream's hash
check, missing programs."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aetcd import rpc

from brs import assembly
from brs.errors import ConfigError, DatabaseError, IntegrityError
from brs.testing import archive_of
from brs_etcd import Etcd
from brs_etcd.options import EtcdOptions
from brs_etcd.plugin import METADATA, SNAPSHOT
from brs_etcd.restore import find_restore_tool
from brs_etcd.snapshot import SnapshotStream
from brs_etcd.testing import bindir

#: Every flag as brs 0.1 spelled it (users' manifests and the old tool's variables depend on them).
FLAGS = [
    "--etcd-endpoints", "--etcd-ca-cert", "--etcd-cert", "--etcd-key", "--etcd-username", "--etcd-password",
    "--etcd-password-file", "--etcd-dial-timeout", "--etcd-snapshot-timeout", "--etcd-name",
    "--etcd-initial-advertise-peer-urls", "--etcd-initial-cluster", "--etcd-initial-cluster-token", "--etcd-restore-tool",
]  # fmt: skip


# --- options ---------------------------------------------------------------------------------------
def test_flags_variables_and_defaults_are_those_of_earlier_releases() -> None:
    options = EtcdOptions.click_options()
    assert [option.opts[0] for option in options] == FLAGS
    assert [option.envvar for option in options] == ["BRS_" + flag[2:].upper().replace("-", "_") for flag in FLAGS]
    defaults = assembly.database("etcd").settings
    assert isinstance(defaults, EtcdOptions)
    assert [e.url for e in defaults.client_urls] == ["http://127.0.0.1:2379"]
    assert (defaults.dial_timeout, defaults.snapshot_timeout) == (10.0, 3600.0)
    # etcd's own defaults: a member started without cluster flags accepts the restore.
    assert (defaults.name, defaults.initial_advertise_peer_urls, defaults.initial_cluster_token) == (
        "default",
        "http://localhost:2380",
        "etcd-cluster",
    )
    assert defaults.cluster == "default=http://localhost:2380"
    assert not defaults.tls


def test_endpoints_are_parsed_in_order_with_the_default_port() -> None:
    settings = EtcdOptions(endpoints="http://a:1, https://b ,c:3")
    assert [(e.target, e.tls) for e in settings.client_urls] == [("a:1", False), ("b:2379", True), ("c:3", False)]
    assert settings.tls  # one https endpoint is enough


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"etcd_endpoints": "ftp://host:2379"}, "--etcd-endpoints: 'ftp://host:2379' is not a URL like http://host:2379"),
        ({"etcd_endpoints": " , "}, "--etcd-endpoints names no URL"),
        ({"etcd_cert": "client.crt"}, "--etcd-cert and --etcd-key must be set together"),
        ({"etcd_username": "root"}, "--etcd-username and --etcd-password (or --etcd-password-file) must be set together"),
        ({"etcd_dial_timeout": "0"}, "--etcd-dial-timeout must be at least 0.1, not '0'"),
    ],
)
def test_wrong_options_are_one_line_config_errors(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        assembly.database("etcd", values)
    assert str(caught.value) == message


def test_the_password_comes_from_its_file_and_stays_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("root-pass\n")
    driver = assembly.database("etcd", {"etcd_username": "root", "etcd_password_file": str(secret)})
    assert isinstance(driver, Etcd)
    assert driver.settings.password == "root-pass"
    assert "root-pass" not in repr(driver.settings)
    assert driver.settings.describe()["etcd-password"] == "(set)"


def test_a_cluster_of_several_peer_urls_names_the_member_for_each() -> None:
    settings = EtcdOptions(name="n1", initial_advertise_peer_urls="http://a:2380,http://b:2380")
    assert settings.cluster == "n1=http://a:2380,n1=http://b:2380"
    assert EtcdOptions(initial_cluster="x=http://x:2380").cluster == "x=http://x:2380"


def test_a_restore_tool_that_is_not_a_program_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--etcd-restore-tool .* is not an executable program"):
        find_restore_tool(str(tmp_path / "no-such-tool"))


# --- snapshot integrity -----------------------------------------------------------------------------
class _FakeCall:
    def __init__(self, blobs: list[bytes]) -> None:
        self._blobs = blobs
        self.cancelled = False

    def __iter__(self) -> Iterator[Any]:
        return iter(rpc.SnapshotResponse(blob=blob) for blob in self._blobs)

    def cancel(self) -> None:
        self.cancelled = True


class _FakeSession:
    label = "etcd at fake"
    metadata = ()

    def __init__(self, call: _FakeCall) -> None:
        self.maintenance = type("Stub", (), {"Snapshot": lambda _self, *_a, **_k: call})()


def _read(stream: SnapshotStream) -> bytes:
    out = bytearray()
    while piece := stream.read(7):
        out += piece
    return bytes(out)


def test_the_snapshot_hash_is_verified_while_streaming() -> None:
    body = bytes(range(256)) * 40
    good = body + hashlib.sha256(body).digest()
    # Split so that the hash straddles messages.
    blobs = [good[:1000], good[1000:10230], good[10230:]]
    assert _read(SnapshotStream(_FakeSession(_FakeCall(blobs)), 10, None)) == good  # type: ignore[arg-type]
    damaged = bytearray(good)
    damaged[500] ^= 1
    with pytest.raises(IntegrityError, match="SHA-256"):
        _read(SnapshotStream(_FakeSession(_FakeCall([bytes(damaged)])), 10, None))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        _read(SnapshotStream(_FakeSession(_FakeCall([good[:-5]])), 10, None))  # type: ignore[arg-type]
    call = _FakeCall([good])
    stream = SnapshotStream(_FakeSession(call), 10, None)  # type: ignore[arg-type]
    stream.read(3)
    stream.close()
    assert call.cancelled


def test_missing_etcd_binaries_fail_instead_of_skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRS_ETCD35_BINDIR", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match=r"etcd 3\.5: etcd, etcdctl, etcdutl not found"):
        bindir("3.5")


# --- backups this plugin cannot read: refused before anything is written -------------------------
@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {METADATA.name: b'{"format": 2}', SNAPSHOT: b"bbolt"},
            "the backup's etcd/brs-etcd.json has format 2, newer than the 1 this brs-etcd reads",
        ),
        ({SNAPSHOT: b"bbolt"}, "the backup has no etcd/brs-etcd.json before its data; it was not made by brs-etcd"),
    ],
    ids=["newer-metadata-format", "data-without-metadata"],
)
def test_a_backup_this_plugin_cannot_read_is_refused(members: dict[str, bytes], message: str, tmp_path: Path) -> None:
    # Any executable will do as the restore tool: the archive is refused before it would run.
    driver = assembly.database("etcd", {"etcd_restore_tool": sys.executable})
    with pytest.raises(DatabaseError) as caught:
        driver.restore(archive_of(members), tmp_path)
    assert str(caught.value).startswith(message)
    assert list(tmp_path.iterdir()) == []
