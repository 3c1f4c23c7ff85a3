"""Backup, restore, verify, download, list and retention: the operations behind every command.

The engine owns the public operations (the "template methods"); drivers implement only their
steps through hooks. Data flows through :class:`brs.pipeline.Pipeline` stages:

backup:  dump -> tar -> compress (frames on every core) -> encrypt -> upload (+ BLAKE3), then the manifest
restore: download (+ the manifest's digest) -> decrypt -> decompress -> tar -> plugin into staging -> swap
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, UTC
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import brs
from brs import datadir, defaults, failures, killpoints, retention, trust, verification
from brs.catalog import EXPLICITLY_RESTORABLE, Catalog, Entry, Policy, RetentionPlan, Standing
from brs.crypto import SCHEME, FORMAT_VERSION, Keyring, StreamDecryptor, StreamEncryptor, is_stream_of
from brs.datalock import DataDirLock
from brs.errors import (
    BackupNotFound,
    BackupSkipped,
    BrsError,
    ConfigError,
    DatabaseError,
    DatabaseRunning,
    IntegrityError,
    KeyMissing,
    LocalIOError,
    PluginError,
    StorageError,
)
from brs.frames import decompressed
from brs.identity import host_name
from brs.interfaces import Compression, Database, DataDirState, Storage, StoredObject
from brs.lifecycle import Lifecycle
from brs.assembly import Drivers
from brs.legacy import ROOT as LEGACY_ROOT
from brs.legacy.backups import LegacyBackup, list_legacy, read_legacy
from brs.manifest import MAX_MANIFEST_SIZE, MANIFEST_SUFFIX, Identity, InvalidManifest, Manifest
from brs.manifest import format_time, new_backup_id
from brs.digests import CURRENT as CURRENT_DIGEST
from brs.digests import NAMES as DIGEST_NAMES
from brs.digests import new_digest
from brs.pipeline import (
    CHUNK,
    DEPTH,
    ChannelReader,
    ChannelWriter,
    PiecePool,
    PieceReader,
    Pipeline,
    cores,
    in_flight,
    ordered_map,
)
from brs.streams import FullReader
from brs.syncbehind import SyncBehind
from brs.throttle import RateLimit, paced
from brs.units import format_size

if TYPE_CHECKING:
    from brs.archive import ArchiveReader

__all__ = ["Engine", "Progress", "RestoreResult", "Settings", "VerifyResult"]

log = logging.getLogger("brs.engine")
ENCRYPTED_SUFFIX = ".aes"
#: errno values that mean this machine's file system failed, never the backup.
LOCAL_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE}
)
#: A restore that fails while its file system has less room than this failed for lack of room.
_FULL_BELOW = 1 << 20


@dataclass
class Settings:
    """The resolved configuration of one run (flags, ``BRS_*`` variables and config file)."""

    db: str | None = None
    data_dir: Path | None = None
    backup_provider: str = defaults.STORAGE
    object_prefix: str = ""
    object_max_keep: int = defaults.KEEP_LAST
    #: Backups younger than this many days are kept even beyond ``object_max_keep``.
    object_days_max_keep: int | None = None
    compression_method: str = defaults.COMPRESSION
    #: ``--compression-level`` of new backups (None: the method's default).
    compression_level: int | None = None
    keyring: Keyring = field(default_factory=Keyring)
    #: Restore setuid, setgid and sticky bits (stripped by default).
    keep_special_bits: bool = False
    #: Use unencrypted backups although a key is configured (refused by default: anyone who
    #: can write to the storage can plant one).
    allow_unencrypted: bool = False
    #: Seconds to wait for another process's backup, restore or retention (0: fail at once).
    lock_wait: float = 0.0
    #: Let ``latest`` and the automatic restore pick backups of another database identity.
    allow_other_identity: bool = False
    #: Apply retention after each backup (``brs backup --no-retention`` turns it off once).
    retention_after_backup: bool = True
    #: The retention policy (``--keep-*``); None: ``object_max_keep`` and ``object_days_max_keep``.
    retention_rules: retention.Policy | None = None
    #: Bytes per second a backup reads at most (its archive stream; 0: no limit).
    disk_rate_limit: int = 0
    #: Bytes per second a backup sends to the storage at most (0: no limit).
    upload_rate_limit: int = 0

    def retention_policy(self) -> retention.Policy:
        """The policy in force; the old options map onto ``keep_last`` and ``keep_within``."""
        if self.retention_rules is not None:
            return self.retention_rules
        days = self.object_days_max_keep
        within = None if days is None else retention.Duration(days=days)
        return retention.Policy(last=max(1, self.object_max_keep), within=within)


@dataclass
class Progress:
    """Counters a terminal progress line reads while an operation runs."""

    phase: str = ""
    done: int = 0
    total: int | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    data_dir: Path
    previous: Path | None
    duration: float


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    members: int
    raw_bytes: int
    duration: float


@dataclass(frozen=True)
class _Stored:
    """What the backup pipeline measured while storing the data object."""

    raw: int
    members: int
    size: int
    blake3: str


class _StageFailed(Exception):
    """Carries the pipeline stage that failed (for lifecycle hooks and metrics)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error


def _encrypting(seal: Callable[..., bytes], *data: bytes) -> bytes:
    """``seal(*data)``, with a failure reported as the encrypt stage's."""
    try:
        return seal(*data)
    except Exception as error:
        raise _StageFailed("encrypt", error) from error


class _HashingReader:
    """Counts and hashes what the storage driver reads from the pipeline."""

    def __init__(self, source: PieceReader, progress: Progress) -> None:
        self._source = source
        self._progress = progress
        self.digest = new_digest(CURRENT_DIGEST)
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        # Never more than asked: storage drivers size their parts and blocks by it.
        data = self._source.read_piece() if size is None or size < 0 else self._source.read(size)
        if data:
            self.digest.update(data)
            self.size += len(data)
            self._progress.done = self.size
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    @property
    def at_end(self) -> bool:
        """True when the stream was read to its end (a storage driver must consume everything)."""
        return self._source.eof or self._source.read(1) == b""


class Engine:
    """Runs brs operations with the drivers chosen by :func:`brs.assembly.assemble`.

    The engine is the only caller of drivers: the CLI and the sidecar ask it to check, probe,
    upgrade or ensure, and it calls the typed driver methods directly.
    """

    def __init__(self, drivers: Drivers, settings: Settings, lifecycle: Lifecycle | None = None) -> None:
        self.drivers = drivers
        self.lifecycle = lifecycle or Lifecycle()
        self.settings = settings
        self.progress = Progress()
        self._lock = None if settings.data_dir is None else DataDirLock(settings.data_dir)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def storage(self) -> Storage[Any]:
        return self.drivers.storage

    @property
    def compression(self) -> Compression:
        return self.drivers.compression

    @property
    def database(self) -> Database[Any]:
        if self.drivers.database is None:
            raise ConfigError("no database plugin selected (--db)")
        return self.drivers.database

    # -- what the sidecar asks of the drivers -------------------------------------------------
    def ensure_storage(self) -> None:
        """Create the bucket or directory if needed and check that it is reachable."""
        self.storage.ensure()

    def check_data_dir(self, data_dir: Path) -> DataDirState:
        """Whether ``data_dir`` is empty, healthy or corrupt, in the database plugin's judgement."""
        return self.database.check(data_dir)

    def probe_database(self) -> bool:
        """Whether the database server answers requests."""
        return bool(self.database.probe())

    def upgrade_data_dir(self, data_dir: Path) -> None:
        """Upgrade ``data_dir`` to the installed server version (a no-op when nothing is to do)."""
        self.database.upgrade(data_dir)

    def _require_data_dir(self) -> Path:
        if self.settings.data_dir is None:
            raise ConfigError("the database data directory is not set (--db-data-directory)")
        return self.settings.data_dir

    @contextlib.contextmanager
    def locked(self, operation: str, *, writes: bool = True, wait: float | None = None) -> Iterator[None]:
        """Hold the data directory's cross-process lock (re-entrant); no-op without a data directory.

        Backup, restore and retention take it, so a ``brs restore`` typed next to a running
        sidecar (or a second CLI) is told "busy" instead of mixing two states.
        """
        if self._lock is None:
            yield
            return
        with self._lock.hold(operation, wait=self.settings.lock_wait if wait is None else wait, writes=writes):
            yield

    def tidy(self, wait: float | None = None) -> None:
        """Finish an interrupted swap and remove staging leftovers of killed restores (holding the lock)."""
        data_dir = self._require_data_dir()
        with self.locked("restore", wait=wait):
            datadir.recover(data_dir)
            datadir.remove_leftovers(data_dir)

    def refuse_running_server(self) -> None:
        """:class:`BusyError` when the data directory holds data and the database server answers its probe.

        A restore under a running server is lost: it keeps writing to the moved-aside files, or
        its next save overwrites the restored ones. An empty data directory is not a running
        server's (a fresh target), so the probe, which may reach another server, is not asked.
        """
        data_dir = self._require_data_dir()
        database = self.drivers.database
        if database is None or not database.has_server or datadir.is_empty(data_dir):
            return
        try:
            answers = bool(database.probe())
        except BrsError:
            answers = False
        if answers:
            raise DatabaseRunning(
                f"the {self.settings.db} server is running on {data_dir}: a restore under it is ignored or undone by it; "
                "restore through the sidecar (brs restore --server URL), which stops and restarts it, "
                "or stop the server first (--ignore-running-server restores anyway)"
            )

    # -- listing -----------------------------------------------------------------------------
    def location(self) -> str:
        """Where this engine's backups are (the storage's own words)."""
        return self.storage.location()

    def identity(self) -> Identity:
        """This database's identity: the host name, and what the database plugin reports."""
        database = None
        if self.drivers.database is not None:
            try:
                reported = self.drivers.database.identity()
                database = None if reported is None else str(reported)[:255]
            except BrsError as error:
                log.debug("database identity unknown: %s", error)
        return Identity(host=host_name(), database=database)

    def catalog(self) -> Catalog:
        """Every backup under the prefix, judged (see :mod:`brs.catalog`): brs's own, whose
        manifests are read within bounds, and backup-restore-sidecar's (read-only, never
        deleted: they have no manifest file)."""
        settings = self.settings
        policy = Policy(
            keyring=settings.keyring,
            identity=self.identity(),
            now=datetime.now(UTC),
            allow_unencrypted=settings.allow_unencrypted,
            allow_other_identity=settings.allow_other_identity,
        )
        objects = list(self.storage.list())
        manifests, unreadable = [], []
        for obj in objects:
            if not obj.name.endswith(MANIFEST_SUFFIX):
                continue
            try:
                manifests.append(self._read_manifest(obj))
            except BackupNotFound:
                continue  # pruned between list and read
            except InvalidManifest as error:
                log.warning("%s; skipped", error, extra={"manifest": obj.name})
                unreadable.append((obj.name, str(error)))
        legacy: list[Manifest] = list(list_legacy(self.storage, settings.db))
        catalog = Catalog.judge(policy, objects, manifests + legacy, self._verifications(objects, manifests))
        catalog.unreadable = unreadable
        return catalog

    def _verifications(self, objects: list[StoredObject], manifests: list[Manifest]) -> dict[str, str]:
        """``backup id -> verified_at`` from the verification records present (see
        :mod:`brs.verification`); a bad record is skipped with a warning, never fatal."""
        records = {obj.name: obj for obj in objects if verification.backup_object_of(obj.name)}
        found: dict[str, str] = {}
        for manifest in manifests:
            obj = records.get(manifest.object_name + verification.VERIFIED_SUFFIX)
            if obj is None:
                continue
            try:
                if obj.size > verification.MAX_RECORD_SIZE:
                    raise InvalidManifest(f"verification record {obj.name} is {obj.size} bytes")
                with self.storage.download(name=obj.name) as handle:
                    data = FullReader(handle).read(verification.MAX_RECORD_SIZE + 1)
                found[manifest.backup_id] = verification.decode(data, obj.name, manifest.backup_id).verified_at
            except BackupNotFound:
                continue  # deleted between list and read
            except InvalidManifest as error:
                log.warning("%s; skipped", error)
        return found

    def _read_manifest(self, obj: StoredObject) -> Manifest:
        """Read one manifest object, never more than :data:`MAX_MANIFEST_SIZE` bytes of it."""
        if obj.size > MAX_MANIFEST_SIZE:
            raise InvalidManifest(f"manifest {obj.name} is {obj.size} bytes, more than a manifest can be ({MAX_MANIFEST_SIZE})")
        with self.storage.download(name=obj.name) as handle:
            # A network read may return less than asked: gather up to the bound.
            data = FullReader(handle).read(MAX_MANIFEST_SIZE + 1)
        return Manifest.from_json(data, obj.name)

    def list_backups(self) -> list[Manifest]:
        """The backups ``latest`` and the automatic restore choose from, in order of preference."""
        return self.catalog().restorable()

    def find(self, version: str | None) -> Manifest:
        """The backup named by ``version``: ``latest``/None, a backup id, or an object name.

        ``latest`` is the newest usable backup; a named one is refused only when it cannot be
        trusted (altered manifest, unencrypted while a key is configured, unknown key).
        """
        return self._find(self.catalog(), version)

    def describe(self, version: str | None) -> Entry:
        """The backup :meth:`find` picks, with its standing and last verification (``backups show``)."""
        catalog = self.catalog()
        manifest = self._find(catalog, version)
        return catalog.lookup(manifest.backup_id) or Entry(manifest, Standing.USABLE)

    def _find(self, catalog: Catalog, version: str | None) -> Manifest:
        if version in (None, "", "latest"):
            restorable = catalog.restorable()
            skipped = catalog.passed_over()
            if not restorable:
                if not catalog.entries and not catalog.unreadable:
                    raise BackupNotFound("there are no backups yet")
                refused = catalog.ours_but_refused()
                if refused:
                    raise self._refusal(refused[0], f" (no backup can be used: {skipped})")
                raise BackupNotFound(f"no backup of this database ({catalog.policy.identity}) can be used: {skipped}")
            if skipped:
                log.warning("latest is %s; passed over: %s", restorable[0].backup_id, skipped)
            return restorable[0]
        entry = catalog.lookup(version)
        if entry is None:
            newest = catalog.restorable()
            hint = f" (newest is {newest[0].backup_id})" if newest else ""
            raise BackupNotFound(f"backup {version} not found{hint}")
        if entry.standing not in EXPLICITLY_RESTORABLE:
            raise self._refusal(entry)
        if entry.standing is not Standing.USABLE:
            log.warning("%s; using it because it was named explicitly", entry.reason, extra={"backup": version})
        return entry.manifest

    @staticmethod
    def _refusal(entry: Entry, more: str = "") -> BrsError:
        """The error for using a backup the keys do not vouch for."""
        if entry.standing is Standing.UNENCRYPTED:
            return ConfigError(entry.reason + more)
        if entry.standing is Standing.UNKNOWN_KEY:
            return KeyMissing(entry.reason + more)
        return IntegrityError(entry.reason + more)

    # -- backup ------------------------------------------------------------------------------
    def backup(self) -> Manifest:
        """Take one backup now; returns its committed manifest."""
        with self.locked("backup", writes=False):
            if self.settings.data_dir is not None:
                datadir.recover(self.settings.data_dir)  # never back up a half-swapped directory
            return self._backup()

    def _backup(self) -> Manifest:
        settings = self.settings
        if settings.db is None:
            raise ConfigError("no database plugin selected (--db)")
        compression = self.compression
        key = settings.keyring.encryption_key
        backup_id = new_backup_id()
        object_name = backup_id + type(compression).suffix + (ENCRYPTED_SUFFIX if key else "")
        started_at = datetime.now(UTC)
        started = time.monotonic()
        self.progress = Progress(phase="backup")
        self.lifecycle.notify("brs_backup_started", backup_id=backup_id, db=settings.db)
        stage = "dump"
        try:
            try:
                stored = self._store(object_name, backup_id, key)
            except _StageFailed as failure:
                stage = failure.stage
                self._forget(object_name)
                raise failure.error from None
            stage = "manifest"
            try:
                # Asked after the dump, not before: the dump starts without waiting for them (a
                # connection each), and the server they describe is the one just read.
                server_version, identity = self._server_version(), self.identity()
                manifest = self._manifest(backup_id, object_name, started_at, server_version, identity, stored)
                self.storage.upload(manifest.manifest_name, BytesIO(manifest.to_json()))
            except BaseException:
                self._forget(object_name)
                raise
        except BaseException as error:
            self.lifecycle.notify("brs_backup_failed", backup_id=backup_id, stage=stage, error=error)
            # A skipped backup (a replica) is neither a success nor a failure: nothing is recorded.
            if isinstance(error, Exception) and not isinstance(error, BackupSkipped):
                self._record_failure(backup_id, stage, error)
            raise
        duration = time.monotonic() - started
        raw, size = format_size(stored.raw), format_size(stored.size)
        log.info("backup %s stored: %s raw, %s stored in %.1fs", backup_id, raw, size, duration)
        self.lifecycle.notify("brs_backup_succeeded", manifest=manifest, duration=duration)
        try:
            if settings.retention_after_backup:
                self.apply_retention(protect=backup_id)
        except BrsError as error:
            log.error("retention failed (the new backup is kept): %s", error)
            self.lifecycle.notify("brs_backup_failed", backup_id=backup_id, stage="retention", error=error)
            self._record_failure(backup_id, "retention", error)
        return manifest

    def _store(self, object_name: str, backup_id: str, key: bytes | None) -> _Stored:
        """Run dump -> tar -> compress -> encrypt -> upload; the data object exists afterwards."""
        pipe = Pipeline("backup")
        tar_out, sealed = pipe.channel(), pipe.channel()
        counts: dict[str, int] = {}
        disk_limit, upload_limit = self._rate_limits(pipe)

        from brs.archive import ArchiveWriter  # tarfile and the tree walker: operations only

        frame_size = self.compression.frame_size
        workers = cores()
        # Each frame's piece is refilled once it is compressed (nothing else reads a piece then).
        pool = PiecePool(frame_size, keep=in_flight(workers) + DEPTH + 1) if frame_size else None

        def compress_frame(piece: bytes) -> bytes:
            frame = self.compression.compress_frame(piece)
            if frame is not piece and not isinstance(frame, memoryview):
                assert pool is not None
                pool.give(piece)
            return frame

        def dump() -> None:
            sink = ChannelWriter(tar_out, frame_size or CHUNK, pool)
            archive = ArchiveWriter(cast(BinaryIO, sink))
            self.database.dump(archive=archive)
            archive.close()
            counts["raw"], counts["members"] = sink.tell(), archive.members
            sink.finish()

        def compressed() -> Iterator[bytes]:
            archive = paced(tar_out, disk_limit)
            if frame_size:
                yield from ordered_map(compress_frame, archive, workers)
                return
            compressor = self.compression.compressor()
            for piece in archive:
                yield compressor.compress(piece)
            yield compressor.flush()

        def compress_and_seal() -> None:
            # Encryption runs at several GB/s: a thread of its own cost more in hand-offs
            # between threads than it saved. Its errors still name their own stage.
            encryptor = StreamEncryptor(key, backup_id) if key else None
            for piece in compressed():
                sealed.put(piece if encryptor is None else _encrypting(encryptor.update, piece))
            if encryptor is not None:
                sealed.put(_encrypting(encryptor.finalize))
            sealed.close()

        reader = _HashingReader(PieceReader(paced(sealed, upload_limit)), self.progress)

        def upload() -> None:
            self.storage.upload(object_name, cast(BinaryIO, reader))  # reads like a file: read(n) and readinto
            if not reader.at_end:
                raise StorageError(f"storage plugin {self.settings.backup_provider} stopped reading before the end")

        pipe.stage("dump", dump)
        pipe.stage("compress", compress_and_seal)
        try:
            pipe.run(upload, name="upload")
        except _StageFailed:
            raise
        except BaseException as error:
            raise _StageFailed(pipe.failed_stage or "upload", error) from error
        return _Stored(raw=counts["raw"], members=counts["members"], size=reader.size, blake3=reader.digest.hexdigest())

    def _rate_limits(self, pipe: Pipeline) -> tuple[RateLimit | None, RateLimit | None]:
        """The paces of ``--disk-rate-limit`` and ``--upload-rate-limit`` (None: unpaced); a
        cancelled pipeline ends their waits."""
        disk, upload = self.settings.disk_rate_limit, self.settings.upload_rate_limit
        if disk or upload:
            unlimited = "no limit"
            log.info(
                "backup paced: reads at most %s, uploads at most %s",
                f"{format_size(disk)}/s" if disk else unlimited,
                f"{format_size(upload)}/s" if upload else unlimited,
            )
        return (
            RateLimit(disk, wait=pipe.pause) if disk else None,
            RateLimit(upload, wait=pipe.pause) if upload else None,
        )

    def _manifest(
        self,
        backup_id: str,
        object_name: str,
        started_at: datetime,
        server_version: str | None,
        identity: Identity,
        stored: _Stored,
    ) -> Manifest:
        settings = self.settings
        assert settings.db is not None
        plugin, plugin_version = self.drivers.database_origin()
        key, key_id = settings.keyring.encryption_key, settings.keyring.encryption_key_id
        manifest = Manifest(
            backup_id=backup_id,
            object_name=object_name,
            created_at=format_time(started_at),
            finished_at=format_time(datetime.now(UTC)),
            db=settings.db,
            db_plugin=plugin,
            db_plugin_version=plugin_version,
            db_server_version=server_version,
            brs_version=brs.__version__,
            compression=settings.compression_method,
            encryption=None if key_id is None else {"scheme": SCHEME, "version": FORMAT_VERSION, "key_id": key_id},
            raw_size=stored.raw,
            stored_size=stored.size,
            blake3=stored.blake3,
            members=stored.members,
            identity=identity,
            extra=self._method_record(),
        )
        return manifest if key is None else trust.sign(manifest, key)

    def _method_record(self) -> dict[str, Any]:
        """``{"method": ...}`` when the database plugin has more than one way to back up."""
        method = self.database.backup_method()
        return {} if method is None else {"method": method}

    def _record_failure(self, backup_id: str, stage: str, error: Exception) -> None:
        """Best effort: store a :mod:`brs.failures` record and keep only the newest ones."""
        try:
            record = failures.encode(backup_id, datetime.now(UTC), stage, error)
            self.storage.upload(name=backup_id + failures.FAILED_SUFFIX, source=BytesIO(record))
            names = sorted(o.name for o in self.storage.list() if failures.is_record(o.name))
            for name in names[: -failures.KEEP]:
                self.storage.delete(name=name)
        except Exception as failure:  # noqa: BLE001 - the backup's own error is what the user needs
            log.debug("the failure of backup %s could not be recorded: %s", backup_id, failure)

    def failures(self) -> list[failures.Failure]:
        """The recorded failed backups (:mod:`brs.failures`), newest first."""
        found = []
        for obj in sorted(self.storage.list(), key=lambda o: o.name, reverse=True):
            if not failures.is_record(obj.name):
                continue
            try:
                if obj.size > failures.MAX_RECORD_SIZE:
                    raise InvalidManifest(f"failure record {obj.name} is {obj.size} bytes")
                with self.storage.download(name=obj.name) as handle:
                    found.append(failures.decode(FullReader(handle).read(failures.MAX_RECORD_SIZE + 1), obj.name))
            except BackupNotFound:
                continue
            except InvalidManifest as error:
                log.warning("%s; skipped", error)
        return found

    def _server_version(self) -> str | None:
        try:
            version = self.database.version()
            return None if version is None else str(version)
        except BrsError as error:
            log.debug("server version unknown: %s", error)
            return None

    def _forget(self, object_name: str) -> None:
        """Best-effort removal of a data object whose backup failed (it is unlisted anyway)."""
        try:
            self.storage.delete(name=object_name)
        except Exception as error:  # noqa: BLE001 - the original failure matters more
            log.debug("could not remove %s after a failed backup: %s", object_name, error)

    # -- retention ---------------------------------------------------------------------------
    def apply_retention(self, keep: int | None = None, protect: str | None = None) -> list[str]:
        """Apply the retention policy (:mod:`brs.retention`; with ``keep``: keep the newest
        ``keep``), always keeping ``protect``, the backup just taken; delete the usable backups
        the policy does not keep and stale orphans of brs's own shape.

        Only backups this run can vouch for count and are deleted (see :mod:`brs.catalog`);
        anything else under the prefix is left alone and reported. A backup is removed
        manifest first, so a crash in between leaves an orphan data object (removed later),
        never a listed backup without data.
        """
        with self.locked("retention", writes=False):
            return self._apply_retention(keep, protect)

    def plan_retention(self) -> RetentionPlan:
        """What the configured policy keeps and deletes now (``brs backups prune --dry-run``)."""
        return self.catalog().plan_retention(self.settings.retention_policy(), None)

    def prune(self, *, dry_run: bool = False) -> RetentionPlan:
        """Apply the configured policy now (``brs backups prune``); with ``dry_run`` only plan."""
        if dry_run:
            return self.plan_retention()
        with self.locked("retention", writes=False):
            return self._retain(self.plan_retention())

    def _apply_retention(self, keep: int | None, protect: str | None) -> list[str]:
        rules = self.settings.retention_policy() if keep is None else retention.Policy(last=max(1, keep))
        plan = self._retain(self.catalog().plan_retention(rules, protect))
        return [m.backup_id for m in plan.delete]

    def _retain(self, plan: RetentionPlan) -> RetentionPlan:
        for note in plan.notes:
            log.warning("%s", note)
        for manifest in plan.delete:
            self.storage.delete(name=manifest.manifest_name)
            self.storage.delete(name=manifest.object_name)
            self.storage.delete(name=manifest.object_name + verification.VERIFIED_SUFFIX)
            log.info("retention removed backup %s", manifest.backup_id)
        for obj in plan.orphans:
            if obj.name.endswith(ENCRYPTED_SUFFIX) and not self._is_own_stream(obj.name):
                log.warning("left %s alone: it has no manifest, but it is not an object brs encrypted", obj.name)
                continue
            self.storage.delete(name=obj.name)
            log.info("removed orphaned object %s (no manifest)", obj.name)
        return plan

    def _is_own_stream(self, name: str) -> bool:
        """Whether ``name`` starts with a brs stream header naming the backup in its name."""
        backup_id = name.split(".", 1)[0]
        try:
            with self.storage.download(name=name) as handle:
                head = FullReader(handle).read(64 + len(backup_id))
        except BrsError:
            return False
        return is_stream_of(head, backup_id)

    def _delete_legacy(self, backup: LegacyBackup, version: str, catalog: Catalog, allow_last: bool) -> Manifest:
        """Old objects are deleted only when asked by their exact version; retention never does."""
        if version not in (backup.backup_id, backup.source.version):
            raise ConfigError(f"name the old backup {backup.object_name} by its version {backup.backup_id} to delete it")
        others = [m for m in catalog.restorable() if m.backup_id != backup.backup_id]
        if not others and not allow_last:
            raise ConfigError(
                f"backup {backup.backup_id} is the only backup a restore could use; add --force to delete it anyway"
            )
        self.storage.legacy_delete(version=backup.source)
        log.info("deleted old backup %s (%s)", backup.backup_id, backup.object_name)
        return backup

    def delete(self, version: str, *, allow_last: bool = False) -> Manifest:
        """Delete one backup by its exact version: the manifest first, so it stops being listed
        before its data goes. Deleting the only backup needs ``allow_last``."""
        if version in ("", "latest"):
            raise ConfigError("name the backup to delete by its version; 'latest' is not accepted here")
        catalog = self.catalog()
        entry = catalog.lookup(version)
        if entry is None:
            raise BackupNotFound(f"backup {version} not found")
        manifest = entry.manifest
        if isinstance(manifest, LegacyBackup):
            return self._delete_legacy(manifest, version, catalog, allow_last)
        usable = [m for m in catalog.restorable() if m.backup_id != manifest.backup_id]
        if entry.standing is Standing.USABLE and not usable and not allow_last:
            raise ConfigError(
                f"backup {manifest.backup_id} is the only backup a restore could use; add --force to delete it anyway"
            )
        self.storage.delete(name=manifest.manifest_name)
        self.storage.delete(name=manifest.object_name)
        self.storage.delete(name=manifest.object_name + verification.VERIFIED_SUFFIX)
        log.info("deleted backup %s", manifest.backup_id)
        return manifest

    # -- reading a backup ------------------------------------------------------------------
    def _read(
        self, manifest: Manifest, consume: Callable[[BinaryIO], Any], phase: str, *, passed: Callable[[int], None] | None = None
    ) -> Any:
        """Stream a backup through download, decryption and decompression into ``consume``.

        Returns ``consume``'s result only if the stored object matched the manifest's size and
        digest and every layer ended cleanly. ``passed`` is told the size of each piece of the
        tar stream handed to ``consume`` (not for old backups).
        """
        compression = self.drivers.compression_for(manifest.compression)
        if isinstance(manifest, LegacyBackup):
            self.progress = Progress(phase=phase, total=manifest.stored_size)

            def advance(done: int) -> None:
                self.progress.done = done

            return read_legacy(
                self.storage,
                compression,
                self.settings.keyring,
                manifest,
                consume,
                phase,
                advance,
                allow_unencrypted=self.settings.allow_unencrypted,
            )
        if manifest.encrypted:
            self.settings.keyring.find(str(manifest.key_id), what=f"backup {manifest.backup_id}")
        self.progress = Progress(phase=phase, total=manifest.stored_size)
        pipe = Pipeline(phase)
        tar_in = pipe.channel()

        def downloaded() -> Iterator[bytes]:
            """The stored object in pieces; its size and digest are checked after the last one."""
            algorithm, expected = manifest.digest
            digest, size = new_digest(algorithm), 0
            try:
                with self.storage.download(name=manifest.object_name) as handle:
                    while piece := handle.read(CHUNK):
                        digest.update(piece)
                        size += len(piece)
                        self.progress.done = size
                        yield piece
            except OSError as error:
                # A read error of the storage (a backup volume's EIO) is the storage's, not ours.
                raise StorageError(f"cannot read backup {manifest.backup_id}: {error.strerror or error}") from error
            if size != manifest.stored_size:
                raise IntegrityError(
                    f"backup {manifest.backup_id} is truncated or padded: stored object has {size} bytes, "
                    f"the manifest says {manifest.stored_size}"
                )
            if digest.hexdigest() != expected:
                raise IntegrityError(
                    f"backup {manifest.backup_id} is corrupt: {DIGEST_NAMES[algorithm]} of the stored object "
                    "does not match its manifest"
                )

        def decrypted(pieces: Iterator[bytes]) -> Iterator[bytes]:
            decryptor = StreamDecryptor(
                self.settings.keyring, expected_backup_id=manifest.backup_id, what=f"backup {manifest.backup_id}"
            )
            for piece in pieces:
                yield decryptor.update(piece)
            yield decryptor.finalize()

        below: list[BaseException] = []

        def watched(pieces: Iterator[bytes]) -> Iterator[bytes]:
            """``pieces``, remembering an error of the download or decryption."""
            try:
                yield from pieces
            except BaseException as error:
                below.append(error)
                raise

        def fetch() -> None:
            # Download and decryption share one thread: each runs at GB/s, and the hand-offs
            # between threads cost more than they overlapped. Frames are decompressed on the
            # frame threads where the compression can cut them apart (brs.frames).
            plain = watched(decrypted(downloaded()) if manifest.encrypted else downloaded())
            try:
                for piece in decompressed(PieceReader(plain), compression, cores()):
                    tar_in.put(piece)
                    if passed is not None:
                        passed(len(piece))
            except IntegrityError as error:
                if below and error is below[0]:
                    raise
                # The codec met damage before the download reached the digest (an unencrypted
                # object; an encrypted one fails its chunk's authentication first): name the backup.
                raise IntegrityError(f"backup {manifest.backup_id} is corrupt: {error}") from error
            for _ in plain:  # what the decompressor left: the digest and the tag are still checked
                pass
            tar_in.close()

        pipe.stage("fetch", fetch)
        return pipe.run(lambda: consume(ChannelReader(tar_in)), name=phase)  # type: ignore[arg-type]

    def _read_archive(
        self,
        manifest: Manifest,
        consume: Callable[[ArchiveReader], Any],
        phase: str,
        *,
        passed: Callable[[int], None] | None = None,
    ) -> Any:
        from brs.archive import ArchiveReader

        def run(stream: BinaryIO) -> Any:
            archive = ArchiveReader(stream, keep_special_bits=self.settings.keep_special_bits)
            result = consume(archive)
            archive.drain()
            if not isinstance(manifest, LegacyBackup) and archive.members != manifest.members:
                raise IntegrityError(
                    f"backup {manifest.backup_id} has {archive.members} archive members, the manifest says {manifest.members}"
                )
            return result

        return self._read(manifest, run, phase, passed=passed)

    # -- restore -----------------------------------------------------------------------------
    def _restorable_here(self, backup_db: str) -> bool:
        """A backup restores into the selected database when its ``db`` name selects the same
        driver class: one class serves protocol-compatible engines (redis, keydb, valkey)."""
        selected = self.settings.db
        if selected is None or backup_db == selected:
            return True
        try:
            return self.drivers.database_is(backup_db)
        except PluginError:
            return False

    def restore(self, version: str | None = None, keep_previous: bool = True) -> RestoreResult:
        """Restore a backup into the data directory, never touching it before the copy is verified.

        Failures keep their kind: a backup that is missing or damaged in the storage raises
        :class:`BackupNotFound` or :class:`IntegrityError` (another backup may do), a failure of
        this machine's file system raises :class:`LocalIOError` (no other backup would do better).
        """
        data_dir = self._require_data_dir()
        with self.locked("restore"):
            return self._restore(data_dir, version, keep_previous)

    def _restore(self, data_dir: Path, version: str | None, keep_previous: bool) -> RestoreResult:
        datadir.recover(data_dir)
        datadir.remove_leftovers(data_dir)
        manifest = self.find(version)
        if not self._restorable_here(manifest.db):
            raise ConfigError(f"backup {manifest.backup_id} is a {manifest.db} backup, but --db is {self.settings.db}")
        started = time.monotonic()
        self.lifecycle.notify("brs_restore_started", manifest=manifest)
        try:
            staging = datadir.prepare_staging(data_dir, manifest.backup_id)
        except OSError as error:
            raise LocalIOError(f"cannot create a staging directory next to {data_dir}: {error.strerror or error}") from error
        database = self.database
        restore = database.restore_legacy if isinstance(manifest, LegacyBackup) else database.restore
        try:
            # The restored data goes to disk while more arrives, so the swap's sync waits only for
            # the end of it (brs.syncbehind). Every sync goes through one descriptor opened before
            # the first write: syncfs reports the write-back errors since its descriptor was opened.
            with datadir.opened(staging) as staging_fd:
                with SyncBehind(lambda: datadir.syncfs(staging_fd)) as syncing:
                    self._read_archive(manifest, lambda archive: restore(archive, staging), "restore", passed=syncing.wrote)
                killpoints.reached("restore-staged")
                previous = datadir.swap_in(staging, data_dir, keep_previous=keep_previous, staging_fd=staging_fd)
        except BaseException as error:
            local = _local_failure(error, staging)
            datadir.discard_staging(staging)
            if local is not None:
                error = LocalIOError(
                    f"cannot restore backup {manifest.backup_id} into {data_dir}: {local}; "
                    "the data directory was left as it was (this is a problem of this machine, not of the backup)"
                )
            self.lifecycle.notify("brs_restore_failed", manifest=manifest, error=error)
            if local is not None:
                raise error from None
            raise
        duration = time.monotonic() - started
        if previous is not None:
            log.info("previous content of %s kept at %s", data_dir, previous)
        log.info("restored backup %s into %s in %.1fs", manifest.backup_id, data_dir, duration)
        self.lifecycle.notify("brs_restore_succeeded", manifest=manifest, duration=duration)
        return RestoreResult(manifest, data_dir, previous, duration)

    # -- verify ------------------------------------------------------------------------------
    def verify(self, version: str | None = None) -> VerifyResult:
        """Download, decrypt, decompress and check a backup without touching the data directory."""
        manifest = self.find(version)
        started = time.monotonic()
        raw = members = 0

        def consume(archive: ArchiveReader) -> None:
            nonlocal raw, members
            for entry in archive:
                entry.check()
                if isinstance(manifest, LegacyBackup) and not entry.name.startswith(LEGACY_ROOT):
                    raise IntegrityError(f"old backup {manifest.backup_id} has a member {entry.name!r} outside {LEGACY_ROOT!r}")
                if entry.info.isreg() or entry.is_stream:
                    with entry.open() as handle:
                        while piece := handle.read(CHUNK):
                            raw += len(piece)
            archive.check_links()
            members = archive.members

        self._read_archive(manifest, consume, "verify")
        if not isinstance(manifest, LegacyBackup):
            self._record_verification(manifest)
        return VerifyResult(manifest, members, raw, time.monotonic() - started)

    def _record_verification(self, manifest: Manifest) -> None:
        """Store when ``manifest``'s backup last verified; the verification stands without it."""
        name = manifest.object_name + verification.VERIFIED_SUFFIX
        record = verification.encode(manifest.backup_id, datetime.now(UTC))
        try:
            self.storage.upload(name=name, source=BytesIO(record))
        except BrsError as error:
            log.warning("backup %s verified, but the time could not be recorded: %s", manifest.backup_id, error)

    # -- download ----------------------------------------------------------------------------
    def download(self, version: str | None, output: Path | None) -> Manifest:
        """Write the decrypted, decompressed tar archive of a backup to ``output`` (None: standard output).

        A regular file (or a new name) is written under a temporary name and renamed into
        place only when complete. A FIFO or device (``/dev/stdout``) is written into, never
        replaced; any other symlink is refused, since the file it points to is not ``output``.
        """
        manifest = self.find(version)

        def copy(stream: BinaryIO, out: BinaryIO) -> None:
            while piece := stream.read(CHUNK):
                out.write(piece)
            out.flush()

        if output is None:
            self._read(manifest, lambda stream: copy(stream, sys.stdout.buffer), "download")
            return manifest
        if _is_stream_target(output):
            with open(output, "wb") as out:
                self._read(manifest, lambda stream: copy(stream, out), "download")
            return manifest
        partial = output.with_name(output.name + ".partial")

        def save(stream: BinaryIO) -> None:
            with open(partial, "wb") as out:
                copy(stream, out)

        try:
            self._read(manifest, save, "download")
            partial.replace(output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return manifest


def _is_stream_target(output: Path) -> bool:
    """True for a FIFO, device or socket (possibly behind a symlink such as ``/dev/stdout``)."""
    try:
        link = output.lstat()
    except FileNotFoundError:
        return False
    if os.path.isdir(output):
        raise ConfigError(f"{output} is a directory; give a file name")
    try:
        target = output.stat()
    except FileNotFoundError:
        raise ConfigError(f"{output} is a dangling symbolic link; refusing to write through it") from None
    if stat.S_ISREG(target.st_mode):
        if stat.S_ISLNK(link.st_mode):
            raise ConfigError(f"{output} is a symbolic link to a file; refusing to write through it or replace it")
        return False
    return True


def _local_failure(error: BaseException, staging: Path) -> str | None:
    """Why ``error`` (from a restore into ``staging``) is this machine's fault, or None when it is not.

    Walks the chain of causes down to an OSError with a local errno, stopping at a storage
    error (a backup volume's failure is the storage's). A database plugin reports its engine's
    failures as text; a file system that is full at that moment explains them anyway.
    """
    seen: BaseException | None = error
    for _ in range(16):
        if seen is None or isinstance(seen, (StorageError, BackupNotFound)):
            break
        if isinstance(seen, LocalIOError):
            return str(seen)
        if isinstance(seen, OSError) and seen.errno in LOCAL_ERRNOS:
            return f"{seen.strerror or seen} ({errno.errorcode.get(seen.errno or 0, '?')})"
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, (IntegrityError, DatabaseError)):
        try:
            room = os.statvfs(staging)
        except OSError:
            return None
        if room.f_bavail * room.f_frsize < _FULL_BELOW:
            return f"the file system of {staging.parent} is full ({error})"
    return None
