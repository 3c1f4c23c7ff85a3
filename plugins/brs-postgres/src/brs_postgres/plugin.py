"""The ``postgres`` database driver: wires options, tools and the method modules to brs's contract."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brs.errors import ConfigError, DatabaseError
from brs.interfaces import Database, DataDirState
from brs.kit.metadata import MetadataMember

from brs_postgres import basebackup, dumpall, legacy, replication
from brs_postgres.binaries import save_binaries
from brs_postgres.check import check_data_dir
from brs_postgres.facts import ServerFacts, read_live
from brs_postgres.options import PostgresOptions
from brs_postgres.tools import Owner, Toolset

# brs_postgres.probe (psycopg) and brs_postgres.upgrade are imported where they are used:
# psycopg's import takes about 0.1 s, which a backup spends while pg_basebackup already runs
# and a restore never spends at all.

if TYPE_CHECKING:
    from brs.archive import ArchiveReader, ArchiveWriter

__all__ = ["METADATA", "Postgres"]

#: First member of every backup: how it was made and what the server looked like. Format 3
#: marks a base backup received over the replication protocol (``base.tar.lz4`` or
#: ``base.tar``, then ``backup_manifest``), format 2 one whose stream pg_basebackup compressed
#: (``pgdata.tar.lz4``); an older brs-postgres refuses what it cannot restore. Every other
#: backup is still written as format 1 (:func:`basebackup.metadata_format`).
METADATA = MetadataMember("brs-postgres.json", format=3, plugin="brs-postgres")


#: How long a dump's view of the server's version and identity stands in for asking again (seconds).
_SEEN_FOR = 60.0


@dataclass(frozen=True)
class _Seen:
    server_version: str
    identity: str
    at: float


class Postgres(Database[PostgresOptions]):
    """PostgreSQL 10+ through pg_basebackup (physical) or pg_dumpall (logical).

    Connection settings come from the ``--postgres-*`` options; the password reaches child
    programs only as an in-memory password file (:mod:`brs_postgres.passfile`). Restores build a complete data
    directory owned by the data directory's owner (or ``--postgres-system-user``), and
    :meth:`upgrade` runs pg_upgrade when the programs are a newer major version.
    """

    Options = PostgresOptions
    _timescale_updated = False
    _seen: _Seen | None = None

    def _recently_seen(self) -> _Seen | None:
        """What the last dump read of the server, if that was a moment ago: the engine asks for
        the version and identity right after a dump, which then costs no connection."""
        seen = self._seen
        return seen if seen is not None and time.monotonic() - seen.at < _SEEN_FOR else None

    @cached_property
    def tools(self) -> Toolset:
        return Toolset.discover(self.settings.bindir)

    def store(self, data_dir: Path) -> Path:
        """Where pg-bin-v<major> copies and pre-upgrade dumps live (never inside PGDATA)."""
        store = (self.settings.binaries_store or data_dir.absolute().parent).absolute()
        data = data_dir.absolute()
        if store == data or data in store.parents:
            raise ConfigError(f"--postgres-binaries-store {store} must not be inside the data directory {data}")
        return store

    def backup_method(self) -> str:
        return self.settings.method

    # -- the contract ----------------------------------------------------------------------------
    def check(self, data_dir: Path) -> DataDirState:
        return check_data_dir(data_dir, self.tools)

    def dump(self, archive: ArchiveWriter) -> None:
        settings, tools = self.settings, self.tools
        if settings.method == "basebackup":
            wanted = settings.basebackup_compression
            connection = replication.connect(settings, tools) if wanted in ("auto", "server") else None
            if connection is None and wanted == "server":
                raise ConfigError(
                    f"{settings.server} cannot send a server-compressed base backup (that needs PostgreSQL 15+,"
                    " and libpq on this system); set --postgres-basebackup-compression to auto, lz4 or none"
                )
            if connection is not None:
                # The server compresses; its checkpoint runs while brs reads the facts.
                first = functools.partial(self._write_metadata, archive, basebackup.ARCHIVE_LZ4)
                basebackup.receive(archive, settings, tools, connection, first=first)
                return
            tools.path("pg_basebackup")
            stream = basebackup.stream_name(settings, tools)
            # pg_basebackup starts first: the server's checkpoint runs while brs connects and
            # reads the facts that the backup's first member records.
            basebackup.dump(archive, settings, tools, stream, first=lambda: self._write_metadata(archive, stream))
        else:
            tools.path("pg_dumpall")
            self._write_metadata(archive, dumpall.STREAM)
            dumpall.dump(archive, settings, tools)

    def _write_metadata(self, archive: ArchiveWriter, stream: str) -> None:
        """The backup's first member: the method, the server's facts and the client's version."""
        settings, method = self.settings, self.settings.method
        facts, identity = read_live(settings, self.tools)
        self._seen = _Seen(facts.server_version, identity, time.monotonic())
        if method == "dumpall":
            from brs_postgres.probe import config_files

            facts = replace(facts, config=config_files(settings))
        self._keep_programs(facts)
        try:
            client = self.tools.version()
        except DatabaseError:
            client = "unknown"
        metadata = replace(METADATA, format=basebackup.metadata_format(stream))
        metadata.write(archive, {"method": method, "server": facts.to_json(), "client": client})
        self.log.info("dumping PostgreSQL %s at %s with %s", facts.server_version, settings.server, method)

    def restore(self, archive: ArchiveReader, target: Path) -> None:
        metadata: dict[str, Any] | None = None
        owner = Owner.resolve(target, self.settings.system_user)
        unpacked: ServerFacts | None = None  # the facts of an archive that waits for its manifest
        for entry in archive:
            if entry.name == METADATA.name:
                with entry.open() as handle:
                    metadata = METADATA.read(handle)
            elif entry.name in basebackup.ARCHIVES and unpacked is None:
                method, unpacked = _recorded(METADATA.require(metadata))
                self.log.info("restoring a %s backup of PostgreSQL %s into %s", method, unpacked.server_version, target)
                with entry.open() as source:
                    basebackup.unpack(source, entry.name, target)
            elif entry.name == basebackup.MANIFEST and unpacked is not None:
                with entry.open() as source:
                    basebackup.place_manifest(source, target)
                basebackup.verify(target, self.tools, owner, unpacked.major)
                return
            elif entry.name in (*basebackup.STREAMS, dumpall.STREAM):
                method, facts = _recorded(METADATA.require(metadata))
                self.log.info("restoring a %s backup of PostgreSQL %s into %s", method, facts.server_version, target)
                with entry.open() as source:
                    if entry.name in basebackup.STREAMS:
                        basebackup.restore(source, entry.name, target, self.tools, owner, facts.major)
                    else:
                        dumpall.restore(source, target, self.tools, owner, facts)
                return
        if unpacked is not None:
            raise DatabaseError(f"the base backup has no {basebackup.MANIFEST}; it cannot be verified")
        raise DatabaseError("the backup holds no PostgreSQL data (neither a base backup nor a pg_dumpall stream)")

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        legacy.restore(archive, target, self.tools, Owner.resolve(target, self.settings.system_user))

    def version(self) -> str | None:
        if (seen := self._recently_seen()) is not None:
            return seen.server_version
        from brs_postgres.probe import server_version

        return server_version(self.settings)

    def identity(self) -> str | None:
        """``postgres:<system identifier>``: pg_control's id of this cluster, which a physical
        restore keeps; None while the server does not answer (an empty volume, a start-up)."""
        if (seen := self._recently_seen()) is not None:
            return seen.identity
        from brs_postgres.probe import system_identifier

        try:
            return system_identifier(self.settings)
        except DatabaseError as error:
            self.log.debug("no system identifier: %s", error)
            return None

    def probe(self) -> bool:
        from brs_postgres.probe import connect, update_timescaledb

        try:
            with connect(self.settings, timeout=5) as conn:
                conn.execute("SELECT 1")
        except DatabaseError as error:
            self.log.debug("not ready: %s", error)
            return False
        if not self._timescale_updated:
            self._timescale_updated = True
            if self._timescaledb_installed():
                update_timescaledb(self.settings, self.settings)
        return True

    def upgrade(self, data_dir: Path) -> None:
        from brs_postgres.upgrade import upgrade

        upgrade(data_dir, self.settings, self.tools, self.store(data_dir))

    # -- helpers -------------------------------------------------------------------------------
    def _keep_programs(self, facts: ServerFacts) -> None:
        """Save the programs for a later upgrade, as long as they match the server's major."""
        data_dir = self.context.data_dir
        if data_dir is None or not data_dir.is_dir():
            return
        try:
            if self.tools.major() != facts.major:
                self.log.debug("programs %s differ from the server's major %s: not saved", self.tools.version(), facts.major)
                return
            save_binaries(self.tools, self.store(data_dir))
        except DatabaseError as error:
            # The backup itself matters more; the upgrade says loudly if the copy is missing.
            self.log.warning("could not save the PostgreSQL programs for later upgrades: %s", error)

    def _timescaledb_installed(self) -> bool:
        try:
            return (Path(self.tools.pg_config("--pkglibdir")) / "timescaledb.so").exists()
        except DatabaseError:
            return False


def _recorded(metadata: dict[str, Any]) -> tuple[str, ServerFacts]:
    """The backup method and the server's facts from the metadata member."""
    try:
        return str(metadata["method"]), ServerFacts.from_json(metadata["server"])
    except (KeyError, TypeError) as error:
        raise DatabaseError(f"the backup's {METADATA.name} is unreadable: {error}") from None
