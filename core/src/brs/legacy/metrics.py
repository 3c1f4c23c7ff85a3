"""The metric names of backup-restore-sidecar, for dashboards and alerts during a migration.

Off by default (``brs start --legacy-metrics``): the ``brs_*`` series say more and are the ones to
alert on. These four follow the old semantics: ``backup_success`` is 1 after a good backup and
0 after a failed one, ``backup_total_backups`` counts good backups, ``backup_errors`` counts
failures by the old operation names, ``backup_size`` is the stored size of the last backup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge

from brs.errors import BackupSkipped

if TYPE_CHECKING:
    from brs.manifest import Manifest

__all__ = ["LegacyMetrics"]

#: brs's failing stage -> the old tool's ``operation`` label.
_OPERATIONS = {
    "dump": "create",
    "compress": "compress",
    "encrypt": "encrypt",
    "upload": "upload",
    "manifest": "upload",
    "retention": "cleanup",
}


class LegacyMetrics:
    """A lifecycle-hook plugin that keeps the old series in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # The old counters were exported without the _total suffix that prometheus_client adds
        # to every Counter; gauges that only go up keep the exact names queries use.
        self.success = Gauge("backup_success", "1 after a successful backup, 0 after a failed one", registry=registry)
        self.total = Gauge("backup_total_backups", "Successful backups (only increases)", registry=registry)
        self.errors = Gauge("backup_errors", "Failed backups by operation (only increases)", ["operation"], registry=registry)
        self.size = Gauge("backup_size", "Bytes of the last uploaded backup", registry=registry)
        for operation in sorted(set(_OPERATIONS.values())):
            self.errors.labels(operation)

    def brs_backup_succeeded(self, manifest: Manifest, duration: float) -> None:
        self.success.set(1)
        self.total.inc()
        self.size.set(manifest.stored_size)

    def brs_backup_failed(self, backup_id: str, stage: str, error: BaseException) -> None:
        if isinstance(error, BackupSkipped):
            return
        self.errors.labels(_OPERATIONS.get(stage, "create")).inc()
        if stage != "retention":  # as in the old tool, a failed clean-up leaves the backup a success
            self.success.set(0)
