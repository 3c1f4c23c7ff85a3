"""The ``rethinkdb`` database driver."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from brs.archive import ArchiveReader, ArchiveWriter
from brs.datadir import is_empty
from brs.errors import ConfigError, DatabaseError
from brs.interfaces import Database, DataDirState, DataDirStatus
from brs.kit.metadata import MetadataMember
from brs.legacy import ROOT as LEGACY_ROOT
from brs.staging import clear_directory, match_owner

from brs_rethinkdb.connection import connect, server_version, wait_tables_ready
from brs_rethinkdb.dumpfile import DUMP_MEMBER, dump_tables
from brs_rethinkdb.server import TemporaryRethinkDB
from brs_rethinkdb.options import RethinkOptions
from brs_rethinkdb.tools import dump_command, restore_command, run_tool, write_password_file

__all__ = ["RethinkDB"]

#: RethinkDB's cluster metadata file; every initialised data directory has it.
METADATA_FILE = "metadata"
#: The first member of a backup: the server's version and the number of tables.
METADATA = MetadataMember("brs-rethinkdb.json", format=1, plugin="brs-rethinkdb")


class RethinkDB(Database[RethinkOptions]):
    """Backs up with the driver's ``rethinkdb dump`` and restores with ``rethinkdb restore``
    into a temporary server started on the new data directory.

    A backup holds a metadata member (``brs-rethinkdb.json``) and then the dump tool's tarball
    (``rethinkdb_dump.tar.gz``): data, secondary indexes
    and write hooks of every table, but no cluster metadata (users other than admin, permissions,
    shard/replica layout), as with the tool itself. An empty database gives a valid backup that
    restores to an empty, initialised data directory.
    """

    Options = RethinkOptions

    # -- state -------------------------------------------------------------------------------
    def check(self, data_dir: Path) -> DataDirState:
        if is_empty(data_dir):
            return DataDirState(DataDirStatus.EMPTY, "no files")
        if not data_dir.is_dir():
            return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
        if not (data_dir / METADATA_FILE).is_file():
            return DataDirState(DataDirStatus.CORRUPT, f"{METADATA_FILE} is missing")
        return DataDirState(DataDirStatus.HEALTHY)

    def probe(self) -> bool:
        settings = self.settings
        try:
            connect(settings.host, settings.port, settings.read_password()).close()
            return True
        except DatabaseError:
            return False

    def version(self) -> str | None:
        settings = self.settings
        return server_version(settings.host, settings.port, settings.read_password())

    # -- backup ------------------------------------------------------------------------------
    def dump(self, archive: ArchiveWriter) -> None:
        settings = self.settings
        password = settings.read_password()
        # A wrong password or an unreachable server fails here in one line, before the tool runs;
        # tables still loading after a restart are waited for instead of failing the dump.
        wait_tables_ready(settings.host, settings.port, password, settings.timeout)
        version = server_version(settings.host, settings.port, password)
        with tempfile.TemporaryDirectory(prefix="brs-rethinkdb-dump-", dir=settings.temp_dir) as scratch:
            output = Path(scratch) / DUMP_MEMBER
            password_file = None if password is None else write_password_file(password, Path(scratch) / "secret")
            (Path(scratch) / "export").mkdir()
            command = dump_command(settings.address, output, Path(scratch) / "export", password_file)
            run_tool(command, f"rethinkdb dump of {settings.address}", settings.timeout)
            if not output.is_file():
                raise DatabaseError(f"rethinkdb dump of {settings.address} exited cleanly but wrote no {DUMP_MEMBER}")
            tables = dump_tables(output)
            # Unlike rethinkdb-dump users often assume, an empty database is fine: its backup
            # restores to an empty, initialised server.
            self.log.info("rethinkdb dump holds %d table(s)%s", len(tables), "" if tables else " (the database is empty)")
            METADATA.write(archive, {"version": version, "tables": len(tables)})
            archive.add_path(output, DUMP_MEMBER)

    # -- restore -----------------------------------------------------------------------------
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        self._restore(archive, target, DUMP_MEMBER)

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar stored the rethinkdb-dump archive as files/rethinkdb.
        self._restore(archive, target, LEGACY_ROOT + "rethinkdb")

    def _restore(self, archive: ArchiveReader, target: Path, member: str) -> None:
        settings = self.settings
        if settings.passwordfile is None:
            raise ConfigError("a rethinkdb restore needs --rethinkdb-passwordfile: it becomes the restored admin password")
        password = settings.read_password()
        binary = _resolve(settings.binary)
        with tempfile.TemporaryDirectory(prefix="brs-rethinkdb-restore-", dir=settings.temp_dir) as scratch:
            work = Path(scratch)
            try:
                # Backups of brs-rethinkdb 0.1 have no metadata; a newer format is refused.
                dump = work / DUMP_MEMBER
                METADATA.extract(archive, member, dump, engine="RethinkDB", with_metadata=member == DUMP_MEMBER)
                tables = dump_tables(dump)
                with TemporaryRethinkDB(binary, target, work / "server", password, log=self.log) as server:
                    server.start(settings.timeout)
                    if tables:
                        (work / "restore-tmp").mkdir()
                        password_file = write_password_file(password or "", work / "secret")
                        command = restore_command(dump, server.address, work / "restore-tmp", password_file)
                        run_tool(command, "rethinkdb restore", settings.timeout)
                    else:
                        # `rethinkdb restore` rejects an empty dump; the initialised server with
                        # its admin password is the whole restore.
                        self.log.info("the backup holds no tables: restoring an empty database")
                    if not server.stop():
                        raise DatabaseError(
                            "the temporary RethinkDB server had to be killed; the restored data may be incomplete"
                        )
                match_owner(target)
            except BaseException:
                # Never leave a half-restored directory: a later start would serve it as if complete.
                clear_directory(target)
                raise
        self.log.info("restored %d RethinkDB table(s) into %s", len(tables), target)


def _resolve(binary: str) -> Path:
    found = (
        shutil.which(binary)
        if os.sep not in binary
        else (binary if os.access(binary, os.X_OK) and Path(binary).is_file() else None)
    )
    if found is None:
        raise DatabaseError(f"RethinkDB server binary {binary!r} not found or not executable (set --rethinkdb-binary)")
    return Path(found)
