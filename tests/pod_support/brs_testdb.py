"""Test-only database plugin ``journaldb``: localfs plus what a real engine plugin can see.

localfs cannot tell a damaged directory from a good one. journaldb's "database" (fakedb.py)
keeps ``data.txt`` next to ``data.txt.sha256``, so :meth:`check` can report
CORRUPT honestly, as a real plugin does from its engine's own checks. It also probes a ready
file the database writes while it serves, and can slow its dump down so that tests can
signal the sidecar during a backup, or fail it while a given file exists.

It is "installed" for the test processes by putting this directory on PYTHONPATH: the
``brs_testdb-0.1.dist-info`` next to it registers the entry point, as pip would.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from brs_localfs import LocalFs

from brs.archive import ArchiveWriter
from brs.errors import DatabaseError
from brs.interfaces import DataDirState, DataDirStatus
from brs.options import PluginOptions, option


@dataclass(frozen=True)
class JournalDbOptions(PluginOptions):
    prefix: ClassVar[str] = "journaldb"

    ready_file: Path | None = option(None, "File the database creates while it serves.")
    dump_delay: float = option(0.0, "Seconds to sleep inside each dump.")
    fail_file: Path | None = option(None, "While this file exists, every dump fails with its content as the error.")


class JournalDb(LocalFs):
    """localfs with a checksum-verified data file, a ready-file probe and an optional slow dump."""

    #: fakedb.py is a server: its ready file says it runs.
    has_server = True

    Options = JournalDbOptions

    @property
    def journal(self) -> JournalDbOptions:
        # LocalFs is typed for no options; this subclass brings its own.
        return cast(JournalDbOptions, cast(Any, self.settings))

    def check(self, data_dir: Path) -> DataDirState:
        state = super().check(data_dir)
        if state.status is not DataDirStatus.HEALTHY:
            return state
        data, checksum = data_dir / "data.txt", data_dir / "data.txt.sha256"
        if not data.exists() or not checksum.exists():
            return DataDirState(DataDirStatus.CORRUPT, "data.txt or its checksum is missing")
        if hashlib.sha256(data.read_bytes()).hexdigest() != checksum.read_text().strip():
            return DataDirState(DataDirStatus.CORRUPT, "data.txt does not match its checksum")
        return state

    def probe(self) -> bool:
        ready = self.journal.ready_file
        return True if ready is None else ready.exists()

    def dump(self, archive: ArchiveWriter) -> None:
        if self.journal.dump_delay:
            time.sleep(self.journal.dump_delay)
        fail = self.journal.fail_file
        if fail is not None and fail.exists():
            raise DatabaseError(fail.read_text().strip())
        super().dump(archive)
