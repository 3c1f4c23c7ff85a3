"""The start-up sequence of ``brs start``: decide whether the data directory needs a restore."""

from __future__ import annotations

import logging
import threading

from brs import datadir
from brs.errors import BrsError, IntegrityError
from brs.interfaces import DataDirState, DataDirStatus
from brs.sidecar.service import WAITER_GRACE, Sidecar
from brs.sidecar.state import InitStatus

__all__ = ["Initializer", "Stopped"]

log = logging.getLogger("brs.sidecar.initializer")
MAX_BACKOFF = 30.0
#: Seconds the start waits for a backup or restore that another brs process (a command typed
#: into the container) runs on the data directory, before it gives up and exits.
LOCK_WAIT = 300.0


class Stopped(BrsError):
    """The sidecar was asked to stop while the initializer was waiting."""


class Initializer:
    """Check the data directory, restore when needed, upgrade, and let the database start.

    The data directory is checked *before* the storage is required: a healthy database must
    start even while the storage is unreachable, and a storage outage must never lead to a
    restore or a wiped directory.
    """

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self.state = sidecar.state
        self.engine = sidecar.engine
        self.stopping: threading.Event = sidecar.stopping
        #: True when the database was let start on an empty directory (nothing to back up yet).
        self.started_empty = False

    def run(self) -> None:
        data_dir = self.engine.settings.data_dir
        assert data_dir is not None
        self.state.set_status(InitStatus.CHECKING, f"checking the data directory {data_dir}")
        # A restore killed mid-swap is finished first (the check must never see half of it),
        # and staging copies of killed restores go, with any temporary server left in them.
        self.engine.tidy(wait=LOCK_WAIT)
        check: DataDirState = self.engine.check_data_dir(data_dir)
        if not check.needs_restore:
            log.info("the data directory %s is healthy; no restore needed", data_dir)
            self._check_storage_once()
        else:
            log.info(
                "the data directory %s needs a restore: %s (%s)", data_dir, check.status.value, check.reason or "no reason given"
            )
            self._restore(check)
        self.state.set_status(InitStatus.UPGRADING, "upgrading the data directory if needed")
        self.sidecar.upgrade()
        self.state.set_status(InitStatus.DONE, "done: the database may start")
        self.state.allow_run()
        log.info("initializer done; the database may start")

    def _check_storage_once(self) -> None:
        try:
            self.engine.ensure_storage()
        except BrsError as error:
            log.warning("the storage is not reachable (%s); the database starts anyway and backups retry on schedule", error)

    def ensure_storage(self) -> None:
        """Wait, with backoff, until the storage answers; says why on every failed attempt."""
        delay, attempt = 1.0, 0
        while True:
            attempt += 1
            self.state.set_status(InitStatus.CHECKING, "ensuring the backup storage is reachable")
            try:
                self.engine.ensure_storage()
                return
            except BrsError as error:
                log.warning("the storage is not reachable (attempt %d): %s; retrying in %.0fs", attempt, error, delay)
                self.state.set_status(InitStatus.CHECKING, f"the storage is not reachable, retrying: {error}")
            if self.stopping.wait(delay):
                raise Stopped("stopped while waiting for the storage")
            delay = min(delay * 2, MAX_BACKOFF)

    def _restore(self, check: DataDirState) -> None:
        data_dir = self.engine.settings.data_dir
        assert data_dir is not None
        self.ensure_storage()
        with self.sidecar.lock.hold("restore"), self.engine.locked("restore", wait=LOCK_WAIT):
            self.state.set_operation("restore")
            try:
                # A database container that outlived a sidecar restart polls every 2 s and
                # reports what it runs; give it the chance before deciding, and stop it first.
                report = self.state.wait_for_waiter(WAITER_GRACE)
                if report is not None and report.state == "running":
                    self.sidecar.stop_database("startup restore")
                self.state.set_status(InitStatus.CHECKING, "listing backups")
                # Old backups of backup-restore-sidecar count too: never start empty next to them.
                catalog = self.engine.catalog()
                backups = catalog.restorable()
                if not backups and (catalog.ours_but_refused() or catalog.unreadable):
                    # Backups of this database (or manifests nobody can read) are there but none
                    # may be used: an empty database next to them would hide them. Backups of
                    # other databases alone are no reason: that is a new pod of a StatefulSet.
                    raise IntegrityError(
                        f"the storage holds backups, but none can be read or used here ({catalog.passed_over()}); "
                        "the database does not start EMPTY next to them. Check the encryption keys and the logged "
                        "reasons, pass the matching --allow-* option, or move the objects away"
                    )
                if catalog.passed_over():
                    log.warning("backups not considered for the restore: %s", catalog.passed_over())
                if check.status is DataDirStatus.CORRUPT:
                    aside = datadir.set_aside(data_dir, "corrupt")
                    if aside is not None:
                        log.warning(
                            "moved the corrupt data directory aside to %s (kept, not deleted)", aside, extra={"aside": str(aside)}
                        )
                if not backups:
                    log.warning(
                        "there are no backups of this database (%s) in the storage: the database starts EMPTY. "
                        "If you expected a restore, check --backup-provider and --object-prefix.",
                        catalog.policy.identity,
                    )
                    data_dir.mkdir(parents=True, exist_ok=True)
                    self.started_empty = True
                    return
                result = self.sidecar.restore_newest_intact(backups)
                log.info("restored backup %s (created %s)", result.manifest.backup_id, result.manifest.created_at)
            finally:
                self.state.set_operation(None)
