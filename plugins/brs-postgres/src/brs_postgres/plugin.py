"""The ``postgres`` database driver: wires options, tools and the method modules to brs's contract."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brs.errors import ConfigError, DatabaseError
from brs.interfaces import Database, DataDirState
from brs.kit.metadata import MetadataMember

from brs_postgres import basebackup, dumpall, legacy
from brs_postgres.binaries import save_binaries
from brs_postgres.check import check_data_dir
from brs_postgres.facts import ServerFacts
from brs_postgres.options import PostgresOptions
from brs_postgres.tools import Owner, Toolset

# brs_postgres.probe (psycopg) and brs_postgres.upgrade are imported where they are used:
# psycopg's import takes about 0.1 s, which a backup spends while pg_basebackup already runs
# and a restore never spends at all.

if TYPE_CHECKING:
    from brs.archive import ArchiveReader, ArchiveWriter

__all__ = ["METADATA", "Postgres"]

#: First member of every backup: how it was made and what the server looked like. Format 2
#: marks a base backup whose stream pg_basebackup compressed (``pgdata.tar.lz4``), which an
#: older brs-postgres cannot restore; every other backup is still written as format 1.
METADATA = MetadataMember("brs-postgres.json", format=2, plugin="brs-postgres")
_METADATA_PLAIN = replace(METADATA, format=1)


class Postgres(Database[PostgresOptions]):
    """PostgreSQL 10+ through pg_basebackup (physical) or pg_dumpall (logical).

    Connection settings come from the ``--postgres-*`` options; the password reaches child
    programs only as an in-memory password file (:mod:`brs_postgres.passfile`). Restores build a complete data
    directory owned by the data directory's owner (or ``--postgres-system-user``), and
    :meth:`upgrade` runs pg_upgrade when the programs are a newer major version.
    """

    Options = PostgresOptions
    _timescale_updated = False

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
        from brs_postgres.probe import read_facts

        settings, method = self.settings, self.settings.method
        facts = read_facts(settings, with_config=method == "dumpall")
        self._keep_programs(facts)
        try:
            client = self.tools.version()
        except DatabaseError:
            client = "unknown"
        metadata = METADATA if stream == basebackup.STREAM_LZ4 else _METADATA_PLAIN
        metadata.write(archive, {"method": method, "server": facts.to_json(), "client": client})
        self.log.info("dumping PostgreSQL %s at %s with %s into %s", facts.server_version, settings.server, method, stream)

    def restore(self, archive: ArchiveReader, target: Path) -> None:
        metadata: dict[str, Any] | None = None
        owner = Owner.resolve(target, self.settings.system_user)
        for entry in archive:
            if entry.name == METADATA.name:
                with entry.open() as handle:
                    metadata = METADATA.read(handle)
            elif entry.name in (*basebackup.STREAMS, dumpall.STREAM):
                method, facts = _recorded(METADATA.require(metadata))
                self.log.info("restoring a %s backup of PostgreSQL %s into %s", method, facts.server_version, target)
                with entry.open() as source:
                    if entry.name in basebackup.STREAMS:
                        basebackup.restore(source, entry.name, target, self.tools, owner, facts.major)
                    else:
                        dumpall.restore(source, target, self.tools, owner, facts)
                return
        raise DatabaseError("the backup holds no PostgreSQL data (neither a base backup nor a pg_dumpall stream)")

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        legacy.restore(archive, target, self.tools, Owner.resolve(target, self.settings.system_user))

    def version(self) -> str | None:
        from brs_postgres.probe import server_version

        return server_version(self.settings)

    def identity(self) -> str | None:
        """``postgres:<system identifier>``: pg_control's id of this cluster, which a physical
        restore keeps; None while the server does not answer (an empty volume, a start-up)."""
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
