"""The ``etcd`` database driver."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from aetcd import rpc

from brs.archive import ArchiveReader, ArchiveWriter
from brs.datadir import RESERVED_PREFIX
from brs.errors import DatabaseError
from brs.interfaces import Database, DataDirState
from brs.kit.metadata import MetadataMember
from brs.legacy import ROOT as LEGACY_ROOT
from brs.staging import match_owner
from brs_etcd.check import check_data_dir
from brs_etcd.connection import open_session
from brs_etcd.options import EtcdOptions
from brs_etcd.restore import find_restore_tool, restore_snapshot
from brs_etcd.snapshot import SnapshotStream, verify_snapshot_hash

__all__ = ["Etcd"]

METADATA = MetadataMember("etcd/brs-etcd.json", format=1, plugin="brs-etcd")
SNAPSHOT = "etcd/snapshot.db"


class Etcd(Database[EtcdOptions]):
    """etcd v3 (3.4 and later).

    Backup: the maintenance API's snapshot streamed into the archive and checked against the
    SHA-256 etcd appends (a mismatch fails the backup before its manifest exists). Restore:
    ``etcdutl snapshot restore`` (3.5+) or ``etcdctl snapshot restore`` (3.4) with the member
    name, peer URLs, initial cluster and token from the options, into the staging directory.
    """

    Options = EtcdOptions

    def check(self, data_dir: Path) -> DataDirState:
        return check_data_dir(data_dir)

    def probe(self) -> bool:
        try:
            with open_session(self.settings):
                return True
        except DatabaseError:
            return False

    def version(self) -> str | None:
        settings = self.settings
        with open_session(settings) as session:
            status = session.maintenance.Status(rpc.StatusRequest(), timeout=settings.dial_timeout, metadata=session.metadata)
            return str(status.version) or None

    def identity(self) -> str | None:
        """``etcd:<cluster id>`` in hex, or None while no endpoint answers."""
        settings = self.settings
        try:
            with open_session(settings) as session:
                status = session.maintenance.Status(rpc.StatusRequest(), timeout=settings.dial_timeout, metadata=session.metadata)
                return f"etcd:{status.header.cluster_id:x}"
        except DatabaseError as error:
            self.log.debug("no cluster id: %s", error)
            return None

    # -- backup ------------------------------------------------------------------------------
    def dump(self, archive: ArchiveWriter) -> None:
        settings = self.settings
        started = time.monotonic()
        with open_session(settings) as session:
            status = session.maintenance.Status(rpc.StatusRequest(), timeout=settings.dial_timeout, metadata=session.metadata)
            metadata: dict[str, Any] = {
                "version": status.version,
                "endpoint": session.endpoint.url,
                "revision_at_start": status.header.revision,
                "db_size": status.dbSize,
                "member_id": f"{status.header.member_id:x}",
                "cluster_id": f"{status.header.cluster_id:x}",
            }
            METADATA.write(archive, metadata)
            stream = SnapshotStream(session, settings.snapshot_timeout, settings.username)
            with stream:
                size = archive.add_stream(SNAPSHOT, stream)  # type: ignore[arg-type]
        self.log.info("%s: snapshot of %d bytes archived in %.1fs", session.label, size, time.monotonic() - started)

    # -- restore -----------------------------------------------------------------------------
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        self._restore(archive, target, SNAPSHOT, legacy=False)

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar stored the output of `etcdctl snapshot save` as files/snapshot.db.
        self._restore(archive, target, LEGACY_ROOT + "snapshot.db", legacy=True)

    def _restore(self, archive: ArchiveReader, target: Path, member_name: str, *, legacy: bool) -> None:
        tool = find_restore_tool(self.settings.restore_tool)
        # The restore tools read a snapshot *file* and create a *new* data directory, so the
        # snapshot is written first and restored into a scratch folder inside the staging
        # directory, whose content then moves up. Both scratch names are brs-reserved.
        snapshot = target / f"{RESERVED_PREFIX}etcd-snapshot.db"
        scratch = target / f"{RESERVED_PREFIX}etcd-restore"
        try:
            # The old tool wrote no metadata member; brs always wrote it before the snapshot.
            metadata = METADATA.extract(archive, member_name, snapshot, engine="etcd", with_metadata=not legacy)
            if not legacy:
                METADATA.require(metadata)
            verify_snapshot_hash(snapshot)
            restore_snapshot(tool, snapshot, scratch, self.settings)
            for item in scratch.iterdir():
                os.rename(item, target / item.name)
            match_owner(target)
        except OSError as error:
            raise DatabaseError(f"cannot write the restored etcd data into {target}: {error}") from error
        finally:
            snapshot.unlink(missing_ok=True)
            shutil.rmtree(scratch, ignore_errors=True)
        self.log.info("restored etcd member %s (%s)", self.settings.name, Path(tool).name)
