"""The ``redis`` / ``keydb`` / ``valkey`` database driver."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ArchiveError, DatabaseError
from brs.interfaces import Database, DataDirState
from brs.legacy import ROOT as LEGACY_ROOT
from brs.staging import match_owner
from brs_redis.bgsave import bgsave
from brs_redis.check import check_data_dir, checker_candidates
from brs_redis.client import connect
from brs_redis.errors import BackupSkipped
from brs_redis.layout import DEFAULT_APPENDDIRNAME, METADATA, RDB, RestoreLayout, write_aof_manifest, write_rdb
from brs_redis.options import RedisOptions
from brs_redis.server import is_primary, persistence_config, server_version

__all__ = ["Redis"]


class Redis(Database[RedisOptions]):
    """Redis, Valkey and KeyDB (one class; ``--db`` only names the engine in messages).

    Backup: on a primary only, ``BGSAVE``, wait for it, then stream the RDB file the server
    names into the archive (the live file is never moved or deleted). Restore: the RDB under
    ``--redis-dbfilename`` plus, for ``appendonly yes`` servers, an AOF manifest based on it.
    """

    Options = RedisOptions

    @property
    def _engine(self) -> str:
        return self.context.name or "redis"

    @property
    def _label(self) -> str:
        """How every message names the server: ``valkey at 127.0.0.1:6379``."""
        return f"{self._engine} at {self.settings.addr}"

    # -- checks ------------------------------------------------------------------------------
    def check(self, data_dir: Path) -> DataDirState:
        return check_data_dir(
            data_dir,
            dbfilename=self.settings.dbfilename,
            appenddirname=self.settings.appenddirname or DEFAULT_APPENDDIRNAME,
            checkers=checker_candidates(self._engine, self.settings.check_rdb),
        )

    def probe(self) -> bool:
        try:
            with connect(self.settings, self._label) as client:
                return bool(client.ping())
        except DatabaseError:
            return False

    def version(self) -> str | None:
        with connect(self.settings, self._label) as client:
            return server_version(client)

    # -- backup ------------------------------------------------------------------------------
    def dump(self, archive: ArchiveWriter) -> None:
        settings, label = self.settings, self._label
        with ExitStack() as files:
            with connect(settings, label) as client:
                primary, role = is_primary(client)
                if not primary:
                    raise BackupSkipped(f"skipped: this {self._engine} is a replica (role:{role}); only the primary is backed up")
                version = server_version(client)
                aof_enabled = bool(int(client.info("persistence").get("aof_enabled", 0)))
                config = persistence_config(client, label, settings.username, settings.rdb_path, aof_enabled)
                started = time.monotonic()
                info = bgsave(client, label, settings.bgsave_timeout)
                # Open right away: a later save replaces the file by rename, and this descriptor
                # keeps reading the complete snapshot that our BGSAVE wrote.
                try:
                    rdb = files.enter_context(open(config.rdb_path, "rb"))
                except OSError as error:
                    raise DatabaseError(
                        f"{label} saved its RDB to {config.rdb_path}, which brs cannot read ({error.strerror}); "
                        "mount the data volume at the same path or set --redis-rdb-path"
                    ) from None
            metadata: dict[str, Any] = {
                "engine": self._engine,
                "version": version,
                "rdb_size": os.fstat(rdb.fileno()).st_size,
                "rdb_last_save_time": int(info.get("rdb_last_save_time", 0)),
                **config.metadata(),
            }
            METADATA.write(archive, metadata)
            size = archive.add_stream(RDB, rdb)
        self.log.info("%s: RDB of %d bytes saved and archived in %.1fs", label, size, time.monotonic() - started)

    # -- restore -----------------------------------------------------------------------------
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        self._restore(archive, target, RDB, legacy=False)

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar copied dump.rdb after SAVE; without metadata the configured
        # layout (--redis-dbfilename, --redis-appendonly, ...) applies.
        self._restore(archive, target, LEGACY_ROOT + "dump.rdb", legacy=True)

    def _restore(self, archive: ArchiveReader, target: Path, rdb_member: str, *, legacy: bool) -> None:
        metadata: dict[str, Any] | None = None
        rdb: Path | None = None
        try:
            for entry in archive:
                if entry.name == METADATA.name:
                    with entry.open() as source:
                        metadata = METADATA.read(source)
                elif entry.name == rdb_member and rdb is None:
                    # brs wrote the metadata before the RDB; the old tool wrote none.
                    layout = self._layout((metadata or {}) if legacy else METADATA.require(metadata))
                    rdb = target / layout.dbfilename
                    with entry.open() as source:
                        write_rdb(source, rdb)
            if rdb is None:
                raise ArchiveError(f"the backup holds no {rdb_member}; it is not a {self._engine} backup")
            layout = self._layout(metadata or {})
            if layout.appendonly:
                write_aof_manifest(target, rdb, layout)
            match_owner(target)
        except OSError as error:
            raise DatabaseError(f"cannot write the restored {self._engine} data into {target}: {error}") from error
        self.log.info("restored %s%s", rdb.name, f" and an AOF manifest in {layout.appenddirname}/" if layout.appendonly else "")

    def _layout(self, metadata: dict[str, Any]) -> RestoreLayout:
        return RestoreLayout.resolve(
            metadata,
            dbfilename=self.settings.dbfilename,
            appendonly=self.settings.appendonly,
            appenddirname=self.settings.appenddirname,
            appendfilename=self.settings.appendfilename,
        )
