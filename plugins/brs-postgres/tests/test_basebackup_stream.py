"""The base backup's stream: lz4 by the server over the replication protocol (15+), lz4 by
pg_basebackup, the plain tar of earlier versions; each restores, and a hostile one does not."""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lz4.frame
import pytest
from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import BrsError, ConfigError
from brs.interfaces import DataDirStatus
from brs.testing import archive_of

from brs_postgres.basebackup import ARCHIVE, ARCHIVE_LZ4, MANIFEST, STREAM, STREAM_LZ4, dump, lz4_supported, receive
from brs_postgres.replication import connect as replication_connect
from brs_postgres.probe import connect
from brs_postgres.testing import PgCluster, bindir_for, driver, sample_snapshot
from brs_postgres.tools import Toolset

pytestmark = pytest.mark.server("postgres")


def _built_with_lz4(tools: Toolset) -> bool:
    return "'--with-lz4'" in tools.pg_config("--configure")


@pytest.mark.parametrize("major", [15, 16])
def test_pg_basebackup_is_asked_whether_it_compresses_with_lz4(major: int) -> None:
    # Debian's 15 is built with lz4, the PyPI 16 without: the probe must tell them apart.
    tools = Toolset(bindir_for(major))
    assert lz4_supported(tools) is _built_with_lz4(tools)
    if major == 15:
        assert lz4_supported(tools)


def _dump(cluster: PgCluster, path: Path, **options: Any) -> list[tuple[str, bytes]]:
    """Dump ``cluster`` into the archive file ``path``; its members' names and (small) contents."""
    with open(path, "wb") as sink:
        writer = ArchiveWriter(sink)
        cluster.driver(postgres_backup_method="basebackup", **options).dump(writer)
        writer.close()
    with open(path, "rb") as source:
        return [(entry.name, entry.open().read(1 << 12)) for entry in ArchiveReader(source)]


@pytest.mark.parametrize(
    ("compression", "streams", "metadata_format"),
    [
        ("auto", [ARCHIVE_LZ4, MANIFEST], 3),
        ("server", [ARCHIVE_LZ4, MANIFEST], 3),
        ("lz4", [STREAM_LZ4], 2),
        ("none", [STREAM], 1),
    ],
    ids=["lz4-by-the-server", "server-asked-for", "lz4-by-pg_basebackup", "plain-tar-as-earlier-versions-wrote"],
)
def test_each_stream_is_stored_as_named_and_restores(
    compression: str,
    streams: list[str],
    metadata_format: int,
    pg15: tuple[PgCluster, dict[str, Any]],
    check_restored: Callable[[int, Path, dict[str, Any]], None],
    tmp_path: Path,
) -> None:
    cluster, expected = pg15
    archive = tmp_path / "dump.tar"
    members = _dump(cluster, archive, postgres_basebackup_compression=compression)
    assert [name for name, _ in members] == ["brs-postgres.json", *streams]
    assert json.loads(members[0][1])["format"] == metadata_format
    head = members[1][1]
    if streams[0] in (STREAM_LZ4, ARCHIVE_LZ4):
        assert head.startswith(b"\x04\x22\x4d\x18")  # an lz4 frame, readable by `lz4 -d`
    else:
        assert head[257:262] == b"ustar"  # pg_basebackup's tar, as it wrote it
    if MANIFEST in streams:
        assert members[2][1].startswith(b'{ "PostgreSQL-Backup-Manifest-Version"')  # the server's own manifest
    check_restored(15, _restored(cluster, archive, tmp_path), expected)


def _restored(cluster: PgCluster, archive: Path, tmp_path: Path) -> Path:
    """Restore ``archive`` with ``cluster``'s programs into a new directory, which must check healthy."""
    target = tmp_path / "restored"
    target.mkdir(mode=0o700)
    database = cluster.driver()
    with open(archive, "rb") as source:
        database.restore(ArchiveReader(source), target)
    assert database.check(target).status is DataDirStatus.HEALTHY
    return target


def test_lz4_asked_of_a_build_without_it_is_a_clear_error(clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    cluster = clusters(16)
    assert not lz4_supported(cluster.tools), "this test needs a pg_basebackup built without lz4"
    archive = tmp_path / "dump.tar"
    with pytest.raises(ConfigError, match=r"cannot compress with lz4 .* set --postgres-basebackup-compression") as caught:
        _dump(cluster, archive, postgres_basebackup_compression="lz4")
    assert "\n" not in str(caught.value)
    assert archive.stat().st_size == 0  # failed before anything was written
    # With none asked for, the same programs store the plain stream.
    assert [name for name, _ in _dump(cluster, archive, postgres_basebackup_compression="none")] == ["brs-postgres.json", STREAM]


def test_a_server_without_lz4_sends_its_archive_uncompressed_and_it_restores(
    clusters: Callable[..., PgCluster],
    check_restored: Callable[[int, Path, dict[str, Any]], None],
    tmp_path: Path,
) -> None:
    # This 16 is built without lz4: the server refuses COMPRESSION 'lz4', and brs asks again without it.
    cluster = clusters(16, sample=True)
    assert not _built_with_lz4(cluster.tools), "this test needs a server built without lz4"
    archive = tmp_path / "dump.tar"
    members = _dump(cluster, archive)
    assert [name for name, _ in members] == ["brs-postgres.json", ARCHIVE, MANIFEST]
    assert members[1][1][257:262] == b"ustar"
    check_restored(16, _restored(cluster, archive, tmp_path), sample_snapshot(cluster))


def test_a_corrupt_lz4_stream_is_one_clear_error_and_nothing_is_verified(tmp_path: Path) -> None:
    facts = {"server_version": "15.20", "server_version_num": 150020, "superuser": "postgres", "encoding": "UTF8"}
    facts |= {"lc_collate": "C.UTF-8", "lc_ctype": "C.UTF-8", "data_checksums": False, "config": {}}
    metadata = json.dumps({"format": 2, "method": "basebackup", "server": facts}).encode()
    # Incompressible content, so that the tar reader reads on into the broken end.
    broken = lz4.frame.compress(random.Random(17).randbytes(1 << 16))[:-9] + b"not lz4 at all"
    target = tmp_path / "target"
    target.mkdir()
    plugin = driver({"postgres_bindir": str(bindir_for(15))})
    with pytest.raises(BrsError, match=r"lz4 stream is (corrupt|truncated)") as caught:
        plugin.restore(archive_of({"brs-postgres.json": metadata, STREAM_LZ4: broken}), target)
    assert "\n" not in str(caught.value)
    assert not (target / "PG_VERSION").exists()


def test_a_failure_before_the_stream_stops_the_started_pg_basebackup(
    pg15: tuple[PgCluster, dict[str, Any]], tmp_path: Path
) -> None:
    # pg_basebackup starts before the facts are read; when reading them fails, the backup that
    # the server began must end with brs's error: no pg_basebackup left, no backup in progress.
    cluster, _ = pg15
    settings = cluster.driver(postgres_backup_method="basebackup").settings
    tools = Toolset(bindir_for(15))
    started: list[int] = []

    def fail() -> None:
        started.extend(_children("pg_basebackup"))
        raise ConfigError("the facts could not be read")

    with open(tmp_path / "archive", "wb") as sink, pytest.raises(ConfigError, match="facts could not be read"):
        dump(ArchiveWriter(sink), settings, tools, STREAM_LZ4, first=fail)
    assert started, "pg_basebackup was not running while the metadata was written"
    assert not _children("pg_basebackup")
    deadline = time.monotonic() + 10  # the server notices the closed connection on its own time
    with connect(settings) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_progress_basebackup").fetchone() != (0,):
            assert time.monotonic() < deadline, "the server still runs the aborted base backup"
            time.sleep(0.05)


def _children(name: str) -> list[int]:
    """This process's live (not zombie) children called ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue  # gone meanwhile
        state, ppid = fields.split()[:2]
        if comm.split("(", 1)[1] == name and int(ppid) == os.getpid() and state != "Z":
            found.append(int(stat.parent.name))
    return found


def _no_backup_in_progress(settings: Any) -> None:
    deadline = time.monotonic() + 10  # the server notices a closed connection on its own time
    with connect(settings) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_progress_basebackup").fetchone() != (0,):
            assert time.monotonic() < deadline, "the server still runs the aborted base backup"
            time.sleep(0.05)


def test_a_failure_before_the_archive_aborts_the_servers_backup(pg15: tuple[PgCluster, dict[str, Any]], tmp_path: Path) -> None:
    # BASE_BACKUP is sent before the facts are read; when reading them fails, the server's backup ends too.
    cluster, _ = pg15
    settings = cluster.driver(postgres_backup_method="basebackup").settings
    tools = Toolset(bindir_for(15))
    connection = replication_connect(settings, tools)
    assert connection is not None
    senders: list[tuple[Any, ...]] = []

    def fail() -> None:
        with connect(settings) as conn:
            senders.extend(conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender'").fetchall())
        raise ConfigError("the facts could not be read")

    with open(tmp_path / "archive", "wb") as sink, pytest.raises(ConfigError, match="facts could not be read"):
        receive(ArchiveWriter(sink), settings, tools, connection, first=fail)
    assert senders, "the server was not sending the base backup while the metadata was written"
    _no_backup_in_progress(settings)


def test_a_cluster_with_a_tablespace_is_refused_in_one_line(clusters: Callable[..., PgCluster], tmp_path: Path) -> None:
    cluster = clusters(15)
    location = cluster.root / "tablespace"
    location.mkdir()
    os.chown(location, cluster.owner.uid, cluster.owner.gid)
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLESPACE extra LOCATION '{location}'")
    with pytest.raises(BrsError, match=r"has 1 tablespace\(s\) besides the data directory.*dumpall") as caught:
        _dump(cluster, tmp_path / "dump.tar")
    assert "\n" not in str(caught.value)
    _no_backup_in_progress(cluster.driver().settings)


def _tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_FACTS = {
    "server_version": "15.20", "server_version_num": 150020, "superuser": "postgres", "encoding": "UTF8",
    "lc_collate": "C.UTF-8", "lc_ctype": "C.UTF-8", "data_checksums": False, "config": {},
}  # fmt: skip
_METADATA_3 = json.dumps({"format": 3, "method": "basebackup", "server": _FACTS}).encode()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({ARCHIVE: _tar_of({"PG_VERSION": b"15\n"})}, "the base backup has no backup_manifest; it cannot be verified"),
        (
            {ARCHIVE: _tar_of({"PG_VERSION": b"15\n", MANIFEST: b"{}"}), MANIFEST: b"{}"},
            "the base backup's archive holds a backup_manifest of its own",
        ),
    ],
    ids=["manifest-missing", "manifest-smuggled-into-the-archive"],
)
def test_an_archive_without_the_servers_manifest_is_refused(members: dict[str, bytes], message: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    plugin = driver({"postgres_bindir": str(bindir_for(15))})
    with pytest.raises(BrsError, match=f"^{message}") as caught:
        plugin.restore(archive_of({"brs-postgres.json": _METADATA_3, **members}), target)
    assert "\n" not in str(caught.value)


def test_a_manifest_that_does_not_match_the_archive_fails_verification(
    pg15: tuple[PgCluster, dict[str, Any]], tmp_path: Path
) -> None:
    cluster, _ = pg15
    archive = tmp_path / "dump.tar"
    _dump(cluster, archive)
    with open(archive, "rb") as source:
        members = {entry.name: entry.open().read() for entry in ArchiveReader(source)}
    line = b'{ "Path": "PG_VERSION", "Size": 3,'
    assert members[MANIFEST].count(line) == 1
    members[MANIFEST] = members[MANIFEST].replace(line, line.replace(b"3", b"4"))  # disagrees with the archive
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    refused = r"^pg_verifybackup of the restored base backup in .* failed \(exit 1\): .*manifest checksum mismatch"
    with pytest.raises(BrsError, match=refused) as caught:
        cluster.driver().restore(archive_of(members), target)
    assert "\n" not in str(caught.value)


def test_a_replication_role_that_is_no_superuser_takes_a_base_backup(
    clusters: Callable[..., PgCluster], check_restored: Callable[[int, Path, dict[str, Any]], None], tmp_path: Path
) -> None:
    """What the README asks of the role for basebackup (REPLICATION, not superuser) is enough,
    facts and identity included."""
    cluster = clusters(15, sample=True)
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE backup_only LOGIN REPLICATION PASSWORD 'rep-pw'")
    archive = tmp_path / "dump.tar"
    database = cluster.driver(postgres_user="backup_only", postgres_password="rep-pw")
    with open(archive, "wb") as sink:
        writer = ArchiveWriter(sink)
        database.dump(writer)
        writer.close()
    with open(archive, "rb") as source:
        names = [entry.name for entry in ArchiveReader(source)]
    assert names == ["brs-postgres.json", ARCHIVE_LZ4, MANIFEST]
    identity = database.identity()
    assert identity is not None and identity.startswith("postgres:")
    check_restored(15, _restored(cluster, archive, tmp_path), sample_snapshot(cluster))
