"""Test-only database plugin ``journaldb``: localfs plus what a real engine plugin can see.

localfs cannot tell a damaged directory from a good one. journaldb's "database" (fakedb.py)
keeps ``data.txt`` next to ``data.txt.sha256``, so :meth:`check` can report
CORRUPT honestly, as a real plugin does from its engine's own checks. It also probes a ready
file the database writes while it serves, and can slow its dump down so that tests can
signal the sidecar during a backup.

It is "installed" for the test processes by putting this directory on PYTHONPATH: the
``brs_testdb-0.1.dist-info`` next to it registers the entry point, as pip would.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import click
from brs_localfs import LocalFs

from brs.archive import ArchiveWriter
from brs.interfaces import DataDirState, DataDirStatus


class JournalDb(LocalFs):
    """localfs with a checksum-verified data file, a ready-file probe and an optional slow dump."""

    #: fakedb.py is a server: its ready file says it runs.
    has_server = True

    @classmethod
    def options(cls) -> Sequence[click.Option]:
        return (
            click.Option(["--journaldb-ready-file"], default=None, help="File the database creates while it serves."),
            click.Option(["--journaldb-dump-delay"], default=0.0, type=float, help="Seconds to sleep inside each dump."),
        )

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
        ready = self.option("journaldb_ready_file")
        return True if not ready else Path(ready).exists()

    def dump(self, archive: ArchiveWriter) -> None:
        delay = float(self.option("journaldb_dump_delay", 0.0))
        if delay:
            time.sleep(delay)
        super().dump(archive)
