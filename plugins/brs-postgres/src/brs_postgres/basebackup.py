"""Physical backups with ``pg_basebackup`` and their restore, verified with ``pg_verifybackup``.

Design: ``pg_basebackup -D - -Ft -X fetch -c fast`` writes one tar stream to stdout. It holds the
data files, the WAL needed to reach a consistent state (``-X fetch``; ``-X stream`` cannot write
to stdout) and, injected at its end, the ``backup_manifest``. The stream goes into the backup as
it is produced. A restore unpacks it into the staging directory and runs ``pg_verifybackup`` on
the result before the server ever starts (starting consumes ``backup_label`` and changes files),
so every file is checked against the manifest's checksums and the WAL is parsed.

A PostgreSQL 15+ server compresses the archive itself: brs sends ``BASE_BACKUP`` with
``COMPRESSION 'lz4'`` over a replication connection (:mod:`brs_postgres.replication`) and stores
the archive as ``base.tar.lz4`` and the manifest, which the server sends after it, as the member
``backup_manifest`` (format 3 of the metadata; ``base.tar`` when the server lacks lz4). The
server's sender then reads and compresses in one process, and about a tenth of the bytes cross
the socket: on a 1 GB pgbench cluster such a backup took about as long as a bare
``pg_basebackup > /dev/null`` (docs/performance.md).

Older servers, or a system without libpq, get ``pg_basebackup``. Where it can (PostgreSQL 15+
built with lz4), it compresses its stream with lz4 itself (``--compress=client-lz4``;
client-side, so the manifest is still injected) and the
stream is stored as ``pgdata.tar.lz4``. lz4 runs in pg_basebackup's own process, outside brs's
interpreter and in parallel with it, and brs's pipeline then moves and compresses a tenth of the
bytes: on a 1 GB pgbench cluster a backup took half the time and 2.1 instead of 5.4 CPU-s/GB
(docs/performance.md). A plain ``pgdata.tar`` stream is what earlier versions stored and what
``--postgres-basebackup-compression none`` stores; both restore.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import lz4.frame
from brs import processes
from brs.archive import ArchiveWriter
from brs.builtins.compression.reading import BoundedReader, FrameCodec
from brs.errors import BrsError, ConfigError, DatabaseError
from brs.extract import TreeExtractor

from brs_postgres import libpq, replication
from brs_postgres.options import PostgresOptions
from brs_postgres.streaming import add_tool_output
from brs_postgres.tools import Owner, Toolset

__all__ = [
    "ARCHIVES",
    "MANIFEST",
    "STREAM",
    "STREAMS",
    "STREAM_LZ4",
    "dump",
    "lz4_supported",
    "metadata_format",
    "place_manifest",
    "receive",
    "restore",
    "stream_name",
    "unpack",
    "verify",
]

#: Name of the plain pg_basebackup tar stream inside a brs backup (format 1 of the metadata).
STREAM = "pgdata.tar"
#: Name of the stream when pg_basebackup compressed it with lz4 (format 2 of the metadata).
STREAM_LZ4 = "pgdata.tar.lz4"
#: Every name a base backup's stream from pg_basebackup has had (the manifest inside it).
STREAMS = (STREAM, STREAM_LZ4)
#: Names of the archive received over the replication protocol (format 3), followed by
#: :data:`MANIFEST` as a member of its own.
ARCHIVE = "base.tar"
ARCHIVE_LZ4 = "base.tar.lz4"
ARCHIVES = (ARCHIVE, ARCHIVE_LZ4)
#: The backup manifest: a member after the archive (format 3), and a file in the restored directory.
MANIFEST = "backup_manifest"
_LABEL = "brs"
_UNPACK_BUFFER = 1 << 20


def stream_name(settings: PostgresOptions, tools: Toolset) -> str:
    """The stream this backup will store, after ``--postgres-basebackup-compression``.

    :raises ConfigError: ``lz4`` was asked for and this pg_basebackup cannot do it.
    """
    wanted = settings.basebackup_compression
    if wanted in ("none", "server"):
        return STREAM
    if lz4_supported(tools):
        return STREAM_LZ4
    if wanted == "lz4":
        raise ConfigError(
            f"pg_basebackup {tools.version()} in {tools.where()} cannot compress with lz4 (PostgreSQL 15+ built with lz4 can);"
            " set --postgres-basebackup-compression to auto or none"
        )
    return STREAM


def lz4_supported(tools: Toolset) -> bool:
    """Whether this pg_basebackup compresses with lz4 (``--compress=client-lz4``).

    The program is asked rather than its version trusted, since builds without lz4 exist (the
    PyPI ones). Pointed at a socket directory with no server, it fails before connecting when
    it lacks lz4, and on the connection when it has it; nothing reaches any server.
    """
    if tools.major() < 15:
        return False
    with tempfile.TemporaryDirectory(prefix="brs-pg-probe-") as nowhere:
        argv = tools.command("pg_basebackup", ["-D", "-", "-Ft", "--compress=client-lz4", "--no-password", "-h", nowhere])
        try:
            probe = processes.run(
                argv, env=tools.env({"LC_ALL": "C"}), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise DatabaseError(f"cannot run {argv[0]}: {error}") from None
    return "does not support compression" not in probe.stderr


def metadata_format(stream: str) -> int:
    """The format of the metadata member of a backup whose data is ``stream``: the oldest that
    says enough for a restore (an older plugin then refuses only what it cannot read)."""
    return 3 if stream in ARCHIVES else 2 if stream == STREAM_LZ4 else 1


def receive(
    archive: ArchiveWriter,
    settings: PostgresOptions,
    tools: Toolset,
    connection: libpq.Connection,
    first: Callable[[], None] | None = None,
) -> str:
    """Stream a base backup received over ``connection`` (from :func:`replication.connect`) into
    ``archive``: the server's lz4 archive, then its manifest. ``first`` writes the members
    before them while the server runs its checkpoint. Returns the archive's member name."""
    receiver = replication.BaseBackupReceiver(connection)
    try:
        receiver.start(_LABEL, "lz4")
        if first is not None:
            first()
        name = ARCHIVE_LZ4
        try:
            receiver.started()
        except replication.CompressionUnsupported:
            receiver.close()
            again = replication.connect(settings, tools)
            if again is None:  # pragma: no cover - the same libpq and server answered a moment ago
                raise
            receiver, name = replication.BaseBackupReceiver(again), ARCHIVE
            receiver.start(_LABEL, None)
            receiver.started()
        archive.add_stream(name, receiver.archive())  # type: ignore[arg-type]
        archive.add_stream(MANIFEST, receiver.manifest())  # type: ignore[arg-type]
        receiver.finish()
    finally:
        receiver.close()
    return name


def dump(
    archive: ArchiveWriter, settings: PostgresOptions, tools: Toolset, stream: str, first: Callable[[], None] | None = None
) -> None:
    """Stream a base backup of the server into ``archive`` as ``stream`` (from :func:`stream_name`);
    ``first`` writes the members before it while pg_basebackup has started (its checkpoint)."""
    args = ["-D", "-", "-Ft", "-X", "fetch", "-c", "fast", "--no-password", "-l", "brs"]
    if stream == STREAM_LZ4:
        args.append("--compress=client-lz4")
    with settings.client() as client:
        add_tool_output(archive, stream, tools, "pg_basebackup", args, client, f"pg_basebackup from {settings.server}", first)


def restore(source: BinaryIO, stream: str, target: Path, tools: Toolset, owner: Owner, backup_major: int | None) -> None:
    """Unpack the base backup stored as ``stream`` (manifest inside) into ``target``, hand it to ``owner`` and verify it."""
    unpack(source, stream, target)
    verify(target, tools, owner, backup_major)


def unpack(source: BinaryIO, stream: str, target: Path) -> None:
    """Unpack the archive stored as ``stream`` (any of :data:`STREAMS` and :data:`ARCHIVES`) into ``target``."""
    _unpack(_tar_stream(source, stream), target)


def place_manifest(source: BinaryIO, target: Path) -> None:
    """Write the manifest member into the unpacked ``target`` (a manifest the archive already
    brought along is refused: it would not be the server's)."""
    try:
        with open(target / MANIFEST, "xb") as out:
            while piece := source.read(_UNPACK_BUFFER):
                out.write(piece)
    except FileExistsError:
        raise DatabaseError(f"the base backup's archive holds a {MANIFEST} of its own; the backup is not the server's") from None
    except OSError as error:
        raise DatabaseError(f"cannot write {MANIFEST} into {target}: {error.strerror or error}") from None


def verify(target: Path, tools: Toolset, owner: Owner, backup_major: int | None) -> None:
    """Hand the unpacked ``target`` to ``owner`` and check it against its manifest."""
    owner.chown_tree(target)
    os.chmod(target, 0o700)
    if not (target / MANIFEST).exists():
        raise DatabaseError(f"the base backup has no {MANIFEST}; it cannot be verified")
    args = [str(target)]
    try:
        same_major = backup_major is not None and backup_major == tools.major()
    except DatabaseError:
        same_major = False
    if not same_major:
        # pg_waldump only reads WAL of its own major version; the file checksums are still checked.
        args.insert(0, "--no-parse-wal")
    tools.run("pg_verifybackup", ["--quiet", *args], what=f"pg_verifybackup of the restored base backup in {target}")
    # The manifest describes the backup, not the running cluster; it has no place in PGDATA.
    (target / MANIFEST).unlink()


def _tar_stream(source: BinaryIO, stream: str) -> BinaryIO:
    """The tar stream of ``stream``: decompressed (in bounded reads) when pg_basebackup compressed it."""
    if stream not in (STREAM_LZ4, ARCHIVE_LZ4):
        return source
    frames = BoundedReader(source, "lz4", lambda: FrameCodec(lz4.frame.LZ4FrameDecompressor()))
    # tarfile reads 10 KiB at a time; a buffer turns that into ~1 MiB decompressing reads.
    return cast(BinaryIO, io.BufferedReader(frames, _UNPACK_BUFFER))


def _unpack(source: BinaryIO, target: Path) -> None:
    # The extractor never leaves the target (absolute names, "..", devices and links that lead
    # outside are refused); owners are set for the whole tree afterwards.
    extractor = TreeExtractor(target)
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            for member in tar:
                content = tar.extractfile(member) if member.isreg() else None
                extractor.add(member.name, member, content)
        extractor.finish()
    except BrsError:
        raise
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatabaseError(f"cannot unpack the base backup into {target}: {error}") from None
    finally:
        extractor.close()
