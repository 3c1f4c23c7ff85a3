# Hookspecs are signatures with documentation; their bodies are empty on purpose.
# mypy: disable-error-code="empty-body"
"""Every hook brs calls, documented like an API reference.

There are two kinds of hooks.

**Operation hooks** (``brs_database_*``, ``brs_storage_*``, ``brs_compression_*``) are implemented
by exactly one registered driver each: the database, storage and compression backends chosen by
name for the run (see :mod:`brs.interfaces` for the base classes that declare them). They are
``firstresult`` hooks: *the call ends at the first implementation that returns a value other than
None.* Other plugins must not add plain implementations; they may wrap them with
``@hookimpl(wrapper=True)`` to observe or transform arguments and results (for example to time a
dump or to count uploaded bytes). brs refuses to start when a second plain implementation of an
operation hook is registered.

**Lifecycle hooks** (``brs_backup_*``, ``brs_restore_*``) are called on every registered plugin,
in registration order, so that plugins in the ``brs.hooks`` entry-point group can add metrics,
notifications or audit logs. They return nothing. An exception raised by a lifecycle
implementation is logged and does not change the outcome of the backup or restore.

Hook implementations may accept fewer arguments than the spec lists; new arguments may be added
to a spec in a later minor version without breaking plugins.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pluggy

if TYPE_CHECKING:
    from brs.archive import ArchiveReader, ArchiveWriter
    from brs.interfaces import Compressor, DataDirState, StoredObject, StoredVersion
    from brs.manifest import Manifest

__all__ = ["PROJECT", "CompressionSpecs", "DatabaseSpecs", "LifecycleSpecs", "StorageSpecs", "hookimpl", "hookspec"]

PROJECT = "brs"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Database operations (implemented by the driver selected with ``--db``)
# ---------------------------------------------------------------------------------------------
class DatabaseSpecs:
    @hookspec(firstresult=True)
    def brs_database_check(self, data_dir: Path) -> DataDirState:
        """Inspect the data directory and say whether it needs a restore.

        Called by the sidecar on start, before the database is allowed to run, and by
        ``brs restore`` never (a manual restore is always explicit). Must not modify anything.

        :param data_dir: the configured ``--db-data-directory``; it may not exist.
        :returns: :class:`~brs.interfaces.DataDirState` with ``EMPTY`` when there is nothing to
            keep (a lone ``lost+found`` counts as empty, see :func:`brs.datadir.is_empty`),
            ``CORRUPT`` with a one-line reason when files the engine needs are missing or
            damaged, else ``HEALTHY``.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_dump(self, archive: ArchiveWriter) -> None:
        """Write one consistent backup of the live database into ``archive``.

        Called by ``brs backup`` and by the sidecar's schedule, in a worker thread of the
        pipeline; everything written flows on through compression, encryption and upload while
        the dump is still running, so never buffer the whole dump. Use
        :meth:`~brs.archive.ArchiveWriter.add_path` for files and trees and
        :meth:`~brs.archive.ArchiveWriter.add_stream` for the output of a dump tool.

        :param archive: the tar stream of the backup being written.
        :raises brs.errors.DatabaseError: when the database or its dump tool fails; a dump tool
            that exits non-zero must raise, so that a truncated dump never becomes a backup.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_restore(self, archive: ArchiveReader, target: Path) -> None:
        """Build a complete data directory at ``target`` from the archive of one backup.

        ``target`` is an empty staging directory on the same file system as the data directory
        (created with the data directory's owner and mode). brs swaps it into place only after
        this hook returned *and* the whole backup was authenticated and checksummed; the previous
        content is kept aside. So write only below ``target`` and raise on any failure.

        :param archive: the backup's members, in the order the dump wrote them.
        :param target: the staging directory to fill.
        :raises brs.errors.DatabaseError: when the engine's restore tool fails.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        """Build a data directory at ``target`` from a backup of backup-restore-sidecar.

        Same contract as :meth:`brs_database_restore`, for the tool brs replaces: every member
        is named ``files/<path>`` (:data:`brs.legacy.ROOT`) and holds what that tool's adapter
        dumped (``base.tar.gz`` + ``pg_wal.tar.gz`` for postgres, ``dump.rdb`` for redis, a
        copy of the tree for localfs, ...). The old format carries no checksum: check what the
        engine's own tools can check. The base class refuses with a clear error.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_version(self) -> str | None:
        """Return the version of the running server, recorded in each backup's manifest.

        :returns: a version string such as ``"16.4"``, or ``None`` when it cannot be known.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_identity(self) -> str | None:
        """Return what identifies this database's data, recorded in each backup's manifest.

        Optional; the base class returns ``None``. brs also records the pod or host name, and
        treats a backup as another database's when the host names differ and the identities
        reported here do not match (see :mod:`brs.identity`), so databases sharing a prefix
        never restore or prune each other's backups. Return a stable, engine-specific value
        that a restore of the database's own backups keeps (PostgreSQL: the system identifier;
        etcd: the cluster id), prefixed with the engine (``"postgres:7312..."``), or ``None``
        while it cannot be known (server down, empty data directory). Must be quick and must
        not raise for a server that is down. This hook may change when the plugin contract
        is reworked.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_probe(self) -> bool:
        """Return ``True`` when the database answers requests, ``False`` while it starts.

        Called by the sidecar after it allowed the database to start, until it returns True.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_database_upgrade(self, data_dir: Path) -> None:
        """Upgrade data files written by an older server version, in place.

        Called by the sidecar after the restore decision and before the database may start.
        A driver without upgrades inherits a no-op. Must keep the old data until the upgraded
        copy is complete and must raise :class:`brs.errors.DatabaseError` instead of skipping
        silently when a prerequisite is missing.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """


# ---------------------------------------------------------------------------------------------
# Storage operations (implemented by the driver selected with ``--backup-provider``)
# ---------------------------------------------------------------------------------------------
class StorageSpecs:
    @hookspec(firstresult=True)
    def brs_storage_ensure(self) -> None:
        """Create the bucket, container or directory if needed and check that it is reachable.

        :raises brs.errors.StorageError: naming bucket/path and prefix, when it is not.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_upload(self, name: str, source: BinaryIO) -> int:
        """Store the bytes read from ``source`` as object ``name`` under the prefix.

        The upload must be atomic: until it completed, nothing named ``name`` may be listed
        (temporary names, multipart uploads that are aborted on failure, ...). Read ``source``
        to its end in bounded pieces; never hold the whole object in memory.

        :param name: object name relative to the prefix; unique per backup, never overwritten.
        :param source: a readable binary stream; ``read(n)`` returns ``b""`` at the end.
        :returns: the number of bytes stored.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_download(self, name: str) -> BinaryIO:
        """Open object ``name`` for reading from its start.

        :returns: a readable binary stream; brs closes it.
        :raises brs.errors.BackupNotFound: when the object does not exist.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_list(self) -> list[StoredObject]:
        """List every object below the prefix (all pages), names relative to it.

        The prefix is a folder: ``foo`` lists ``foo/x`` but never ``foo-bar/x``. Unfinished
        uploads must not appear.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_delete(self, name: str) -> None:
        """Delete object ``name``; a missing object is not an error.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_legacy_list(self) -> list[StoredVersion]:
        """List every backup version backup-restore-sidecar wrote where that tool kept them.

        Only objects named as the old tool named them (:mod:`brs.legacy.naming`), each stored
        version separately (every S3 version, every GCS generation), with a ``version`` that
        stays stable. Read-only: brs never writes this layout. The base class lists nothing.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        """Open one version from :meth:`brs_storage_legacy_list` for reading from byte ``offset``.

        Old encrypted objects end with their IV, so brs reads the last 16 bytes first
        (``offset = size - 16``) and then streams from 0; a ranged read keeps that to one pass.

        :raises brs.errors.BackupNotFound: when that version no longer exists.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_storage_legacy_delete(self, version: StoredVersion) -> None:
        """Delete exactly one version from :meth:`brs_storage_legacy_list`, nothing else.

        Called only by ``brs backups delete VERSION`` for an old version named by the user;
        retention never deletes old objects. A version that is already gone is not an error.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """


# ---------------------------------------------------------------------------------------------
# Compression (implemented by the method selected with ``--compression-method``, or on
# restore by the method recorded in the backup's manifest)
# ---------------------------------------------------------------------------------------------
class CompressionSpecs:
    @hookspec(firstresult=True)
    def brs_compression_compressor(self) -> Compressor:
        """Return a fresh incremental compressor for one backup.

        Its ``compress(chunk)`` is called with pieces of about 1 MiB in a worker thread and must
        return output of bounded size; ``flush()`` ends the stream.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """

    @hookspec(firstresult=True)
    def brs_compression_decompress(self, source: BinaryIO) -> BinaryIO:
        """Wrap a compressed stream in a reader of the plain stream.

        ``read(n)`` of the result must never return more than ``n`` bytes and must not buffer
        more than a few MiB however well the data compressed (a gigabyte of zeros compresses to
        almost nothing). A damaged or truncated stream raises :class:`brs.errors.IntegrityError`.

        firstresult: the call ends at the first implementation that returns a value other than None.
        """


# ---------------------------------------------------------------------------------------------
# Lifecycle notifications (1:N, for metrics, notifications, audit)
# ---------------------------------------------------------------------------------------------
class LifecycleSpecs:
    @hookspec
    def brs_backup_started(self, backup_id: str, db: str) -> None:
        """A backup began. Called before the database dump starts."""

    @hookspec
    def brs_backup_succeeded(self, manifest: Manifest, duration: float) -> None:
        """A backup was stored and its manifest written; it is now listed and restorable.

        :param manifest: the committed manifest (sizes, checksum, versions).
        :param duration: wall time of the whole backup in seconds.
        """

    @hookspec
    def brs_backup_failed(self, backup_id: str, stage: str, error: BaseException) -> None:
        """A backup failed; nothing was listed.

        :param stage: where it failed: ``dump``, ``compress``, ``encrypt``, ``upload``,
            ``manifest`` or ``retention`` (the last one after the backup itself succeeded).
        """

    @hookspec
    def brs_restore_started(self, manifest: Manifest) -> None:
        """A restore of the backup described by ``manifest`` began."""

    @hookspec
    def brs_restore_succeeded(self, manifest: Manifest, duration: float) -> None:
        """The restored data directory was verified and swapped into place."""

    @hookspec
    def brs_restore_failed(self, manifest: Manifest, error: BaseException) -> None:
        """A restore failed; the data directory was left as it was."""


SPEC_GROUPS = (DatabaseSpecs, StorageSpecs, CompressionSpecs, LifecycleSpecs)
