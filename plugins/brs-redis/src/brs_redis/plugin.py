"""The ``redis`` / ``keydb`` / ``valkey`` database driver."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ArchiveError, DatabaseError
from brs.interfaces import Database, DataDirState
from brs.legacy import ROOT as LEGACY_ROOT
from brs.staging import match_owner
from brs_redis.bgsave import bgsave
from brs_redis.check import check_data_dir, checker_candidates
from brs_redis.client import connect
from brs_redis.errors import BackupSkipped
from brs_redis.layout import METADATA, RDB, RestoreLayout, parse_metadata, write_aof_manifest, write_rdb
from brs_redis.options import DEFAULT_DBFILENAME, ConnectionSettings, plugin_options
from brs_redis.server import is_primary, persistence_config, server_version

__all__ = ["Redis"]


class Redis(Database):
    """Redis, Valkey and KeyDB (one class; ``--db`` only names the engine in messages).

    Backup: on a primary only, ``BGSAVE``, wait for it, then stream the RDB file the server
    names into the archive (the live file is never moved or deleted). Restore: the RDB under
    ``--redis-dbfilename`` plus, for ``appendonly yes`` servers, an AOF manifest based on it.
    """

    @classmethod
    def options(cls) -> Sequence[click.Option]:
        return plugin_options()

    @property
    def _engine(self) -> str:
        return self.context.name or "redis"

    def _settings(self) -> ConnectionSettings:
        return ConnectionSettings.from_options(self._engine, self.context.options)

    # -- checks ------------------------------------------------------------------------------
    def check(self, data_dir: Path) -> DataDirState:
        return check_data_dir(
            data_dir,
            dbfilename=str(self.option("redis_dbfilename", DEFAULT_DBFILENAME)),
            appenddirname=str(self.option("redis_appenddirname", "appendonlydir")),
            checkers=checker_candidates(self._engine, self.option("redis_check_rdb")),
        )

    def probe(self) -> bool:
        try:
            with connect(self._settings()) as client:
                return bool(client.ping())
        except DatabaseError:
            return False

    def version(self) -> str | None:
        with connect(self._settings()) as client:
            return server_version(client)

    # -- backup ------------------------------------------------------------------------------
    def dump(self, archive: ArchiveWriter) -> None:
        settings = self._settings()
        with ExitStack() as files:
            with connect(settings) as client:
                primary, role = is_primary(client)
                if not primary:
                    raise BackupSkipped(f"skipped: this {self._engine} is a replica (role:{role}); only the primary is backed up")
                version = server_version(client)
                aof_enabled = bool(int(client.info("persistence").get("aof_enabled", 0)))
                config = persistence_config(client, settings.label, settings.username, self.option("redis_rdb_path"), aof_enabled)
                started = time.monotonic()
                info = bgsave(client, settings.label, float(self.option("redis_bgsave_timeout", 3600.0)))
                # Open right away: a later save replaces the file by rename, and this descriptor
                # keeps reading the complete snapshot that our BGSAVE wrote.
                try:
                    rdb = files.enter_context(open(config.rdb_path, "rb"))
                except OSError as error:
                    raise DatabaseError(
                        f"{settings.label} saved its RDB to {config.rdb_path}, which brs cannot read ({error.strerror}); "
                        "mount the data volume at the same path or set --redis-rdb-path"
                    ) from None
            metadata: dict[str, Any] = {
                "format": 1,
                "engine": self._engine,
                "version": version,
                "rdb_size": os.fstat(rdb.fileno()).st_size,
                "rdb_last_save_time": int(info.get("rdb_last_save_time", 0)),
                **config.metadata(),
            }
            archive.add_bytes(METADATA, json.dumps(metadata, indent=2).encode() + b"\n")
            size = archive.add_stream(RDB, rdb)
        self.log.info("%s: RDB of %d bytes saved and archived in %.1fs", settings.label, size, time.monotonic() - started)

    # -- restore -----------------------------------------------------------------------------
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        self._restore(archive, target, RDB)

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar copied dump.rdb after SAVE; without metadata the configured
        # layout (--redis-dbfilename, --redis-appendonly, ...) applies.
        self._restore(archive, target, LEGACY_ROOT + "dump.rdb")

    def _restore(self, archive: ArchiveReader, target: Path, rdb_member: str) -> None:
        metadata: dict[str, Any] = {}
        rdb: Path | None = None
        try:
            for entry in archive:
                if entry.name == METADATA:
                    with entry.open() as source:
                        metadata = parse_metadata(source)
                elif entry.name == rdb_member and rdb is None:
                    layout = self._layout(metadata)
                    rdb = target / layout.dbfilename
                    with entry.open() as source:
                        write_rdb(source, rdb)
            if rdb is None:
                raise ArchiveError(f"the backup holds no {rdb_member}; it is not a {self._engine} backup")
            layout = self._layout(metadata)
            if layout.appendonly:
                write_aof_manifest(target, rdb, layout)
            match_owner(target)
        except OSError as error:
            raise DatabaseError(f"cannot write the restored {self._engine} data into {target}: {error}") from error
        self.log.info("restored %s%s", rdb.name, f" and an AOF manifest in {layout.appenddirname}/" if layout.appendonly else "")

    def _layout(self, metadata: dict[str, Any]) -> RestoreLayout:
        return RestoreLayout.resolve(
            metadata,
            dbfilename=str(self.option("redis_dbfilename", DEFAULT_DBFILENAME)),
            appendonly=str(self.option("redis_appendonly", "yes")),
            appenddirname=self.option("redis_appenddirname"),
            appendfilename=self.option("redis_appendfilename"),
        )
