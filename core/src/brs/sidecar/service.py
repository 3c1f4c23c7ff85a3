"""Backup, restore and verify as the sidecar runs them: locked, observed, and safe for a live database."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from brs.catalog import Catalog, RetentionPlan
from brs.engine import Engine, RestoreResult, VerifyResult
from brs.errors import BackupNotFound, BrsError, BusyError, DatabaseError, IntegrityError
from brs.manifest import Manifest
from brs.sidecar.lock import OperationLock
from brs.sidecar.metrics import Metrics
from brs.sidecar.state import InitStatus, SidecarState

__all__ = ["Sidecar", "SidecarOptions"]

#: Failure records ``GET /v1/status`` shows, newest first.
STATUS_FAILURES = 5
log = logging.getLogger("brs.sidecar")
#: Seconds to wait for a first report of ``brs wait``. It polls every 2 s, so this is only
#: spent in full when no waiter is there at all; a busy node may delay its first report.
WAITER_GRACE = 15.0


@dataclass(frozen=True)
class SidecarOptions:
    """Timing knobs of the sidecar (seconds)."""

    #: How long a restore waits for ``brs wait`` to acknowledge that the database stopped.
    stop_ack_timeout: float = 120.0
    #: Pause between database probes.
    probe_interval: float = 3.0


class Sidecar:
    """The operations behind the API and the schedule; every one runs under :class:`OperationLock`."""

    def __init__(self, engine: Engine, state: SidecarState, metrics: Metrics, options: SidecarOptions | None = None) -> None:
        self.engine = engine
        self.state = state
        self.metrics = metrics
        self.options = options or SidecarOptions()
        self.lock = OperationLock()
        self.stopping = threading.Event()
        self._probe_thread: threading.Thread | None = None
        self._probe_generation = -1
        #: Outcome of the last backup, verify and restore (``GET /v1/status``).
        self.last: dict[str, dict[str, Any]] = {}
        #: Next scheduled run of each job (``backup``, ``verify``), filled by the schedulers.
        self.next_runs: dict[str, datetime] = {}

    def report(self) -> dict[str, Any]:
        """What ``GET /v1/status`` answers: state, running operation, last results, next runs."""
        state = self.state
        return {
            "state": state.status.value,
            "message": state.message,
            "database_ready": state.database_ready,
            "operation": state.operation,
            "last": dict(self.last),
            "next_runs": {name: moment.isoformat() for name, moment in sorted(self.next_runs.items())},
            "failures": self._stored_failures(),
        }

    def _stored_failures(self) -> dict[str, Any]:
        """The newest failed backups recorded under the prefix (by this or any other brs process)."""
        from brs import results

        try:
            return {"records": results.failed(self.engine.failures()[:STATUS_FAILURES]), "error": None}
        except BrsError as error:  # the status must answer while the storage does not
            return {"records": [], "error": " ".join(str(error).split())}

    def _record(self, operation: str, version: str | None, error: BaseException | None = None) -> None:
        self.last[operation] = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "ok": error is None,
            "version": version,
            "error": None if error is None else " ".join(str(error).split()),
            "type": None if error is None else type(error).__name__,
        }

    def prune(self, dry_run: bool) -> RetentionPlan:
        """Apply the sidecar's retention policy now (``POST /v1/prune``), never during another operation."""
        with self.lock.hold("prune"):
            plan = self.engine.prune(dry_run=dry_run)
        if not dry_run:
            self.refresh_listing_metrics()
        return plan

    def delete(self, version: str, force: bool = False) -> Manifest:
        """Delete one backup (``DELETE /v1/backups/<version>``), never while another operation runs."""
        with self.lock.hold("delete"):
            manifest = self.engine.delete(version, allow_last=force)
        self.refresh_listing_metrics()
        return manifest

    def verify_when_idle(self, version: str | None, trigger: str, timeout: float) -> VerifyResult | None:
        """A restore drill: wait (at most ``timeout`` seconds) for a running backup or restore
        instead of skipping the drill; None when it still runs then."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.verify(version, trigger=trigger)
            except BusyError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.stopping.is_set():
                    raise
                log.info("restore drill waits up to %.0fs for the running %s", remaining, self.lock.current)
                self.lock.wait_idle(remaining)

    # -- backups ----------------------------------------------------------------------------
    def backup(self, trigger: str) -> Manifest:
        """Take one backup now (retention runs after it); BusyError when anything else runs."""
        if self.state.status is not InitStatus.DONE or not self.state.database_ready:
            raise BusyError(f"busy: the database is not ready for a backup ({self.state.status.value}: {self.state.message})")
        with self.lock.hold("backup"):
            self.state.set_operation("backup")
            try:
                log.info("backup started (%s)", trigger)
                self.engine.ensure_storage()
                manifest = self.engine.backup()
            except BrsError as error:
                self._record("backup", None, error)
                raise
            finally:
                self.state.set_operation(None)
        self._record("backup", manifest.backup_id)
        self.refresh_listing_metrics()
        return manifest

    def catalog(self) -> Catalog:
        return self.engine.catalog()

    def verify(self, version: str | None, trigger: str = "api") -> VerifyResult:
        """Download and check one backup (``latest``/None: the newest) without touching the data directory.

        The API and the scheduled restore drill (``trigger`` ``schedule``) both come here, so
        both are counted in the metrics and neither overlaps a backup or restore.
        """
        # Verify shares the engine's compression driver with backups and restores, so it takes
        # the lock too instead of racing them.
        with self.lock.hold("verify"):
            self.state.set_operation("verify")
            try:
                result = self._verify_locked(version, trigger)
            except BrsError as error:
                self._record("verify", version, error)
                raise
            else:
                self._record("verify", result.manifest.backup_id)
                return result
            finally:
                self.state.set_operation(None)

    def _verify_locked(self, version: str | None, trigger: str) -> VerifyResult:
        """The verification itself, counted in the metrics; the caller holds the lock."""
        try:
            manifest = self.engine.find(version)
        except BackupNotFound:
            raise  # an unknown version (or none yet) is not a failed verification
        except BrsError as error:
            self.metrics.verification_failed(error)
            log.error("cannot verify backup %s: %s", version or "latest", error)
            raise
        log.info("verifying backup %s (%s)", manifest.backup_id, trigger, extra={"backup": manifest.backup_id})
        try:
            result = self.engine.verify(manifest.backup_id)
        except BrsError as error:
            self._verify_failed(manifest, error)
            raise
        self.metrics.verified(True)
        log.info(
            "backup %s is intact: %d archive members, %d bytes, checked in %.1fs",
            manifest.backup_id,
            result.members,
            result.raw_bytes,
            result.duration,
            extra={"backup": manifest.backup_id, "damaged": False},
        )
        return result

    def _verify_failed(self, manifest: Manifest, error: BrsError) -> None:
        """Count and log a verification that did not prove ``manifest``'s backup intact."""
        self.metrics.verification_failed(error)
        damaged = isinstance(error, IntegrityError)
        log.error(
            "backup %s %s: %s",
            manifest.backup_id,
            "is damaged" if damaged else "could not be verified",
            error,
            extra={"backup": manifest.backup_id, "damaged": damaged},
        )

    def refresh_listing_metrics(self) -> None:
        try:
            catalog = self.engine.catalog()
            backups = catalog.restorable()
            self.metrics.set_listing(len(backups), backups[0].created.timestamp() if backups else 0.0, catalog.unusable_counts())
        except BrsError as error:
            log.warning("cannot count retained backups: %s", error)

    # -- restores ---------------------------------------------------------------------------
    def restore_newest_intact(self, backups: list[Manifest]) -> RestoreResult:
        """Restore the newest backup that passes verification, falling back to older ones.

        The engine verifies the whole backup before it touches the data directory, so a backup
        that is damaged or missing in the storage costs only time: the next older one is tried.
        A failure of this machine (:class:`LocalIOError`: disk full, read-only, I/O error) is
        raised instead, since an older backup would fail the same way or, worse, succeed and
        silently roll the database back.
        """
        self.metrics.trigger = "startup"
        damaged: list[str] = []
        first_error: BrsError | None = None
        for index, manifest in enumerate(backups):
            self.state.set_status(InitStatus.RESTORING, f"restoring backup {manifest.backup_id}")
            try:
                result = self.engine.restore(manifest.backup_id)
            except (IntegrityError, BackupNotFound) as error:
                damaged.append(manifest.backup_id)
                first_error = first_error or error
                older = backups[index + 1].backup_id if index + 1 < len(backups) else None
                log.error(
                    "backup %s is %s and was not restored: %s; %s",
                    manifest.backup_id,
                    "missing in the storage" if isinstance(error, BackupNotFound) else "damaged",
                    error,
                    f"falling back to the next older backup {older}" if older else "no older backup is left",
                    extra={"backup": manifest.backup_id, "damaged": True},
                )
                if older:
                    self.metrics.fallbacks.inc()
                continue
            if damaged:
                log.warning(
                    "restored the older backup %s because newer backups are damaged or missing: %s",
                    manifest.backup_id,
                    ", ".join(damaged),
                    extra={"backup": manifest.backup_id, "damaged_backups": ",".join(damaged)},
                )
            return result
        raise IntegrityError(
            f"none of the {len(backups)} backups is intact or present ({', '.join(damaged)}); the data directory was left "
            f"as it was and the database does not start. The newest failed with: {first_error}"
        )

    def stop_database(self, why: str) -> None:
        """Have ``brs wait`` stop the database and wait for its acknowledgement."""
        if self.state.wait_for_waiter(WAITER_GRACE) is None:
            # Nobody would acknowledge: say so now instead of after the whole timeout.
            raise DatabaseError(
                "no `brs wait` has contacted this sidecar, so the database cannot be stopped safely; nothing was restored"
            )
        generation = self.state.request_stop()
        self.state.set_status(InitStatus.RESTORING, f"waiting for the database to stop ({why})")
        log.info("asked the database container to stop (generation %d) for %s", generation, why)
        timeout = self.options.stop_ack_timeout
        if not self.state.wait_for_stop_ack(generation, timeout, self.stopping):
            raise DatabaseError(
                f"the database container did not confirm that the database stopped within {timeout:.0f}s "
                "(is `brs wait` running in it?); nothing was restored"
            )
        log.info("the database stopped (generation %d acknowledged)", generation)

    def restore(self, version: str | None) -> RestoreResult:
        """A manual restore: stop the database through the waiter, restore, upgrade, start it again."""
        if self.state.status is not InitStatus.DONE:
            raise BusyError(f"busy: the initializer is still running ({self.state.status.value}: {self.state.message})")
        with self.lock.hold("restore"), self.engine.locked("restore"):
            manifest = self.engine.find(version)  # fail before stopping anything
            self.state.set_operation("restore")
            message = "done"
            try:
                self.stop_database(f"restore of backup {manifest.backup_id}")
                self.metrics.trigger = "manual"
                self.state.set_status(InitStatus.RESTORING, f"restoring backup {manifest.backup_id}")
                # A damaged backup is counted by the metrics' brs_restore_failed hook.
                result = self.engine.restore(manifest.backup_id)
                self.state.set_status(InitStatus.UPGRADING, "upgrading the data directory if needed")
                self.upgrade()
                message = f"restored backup {manifest.backup_id}"
                self._record("restore", manifest.backup_id)
                return result
            except BrsError as error:
                self._record("restore", manifest.backup_id, error)
                message = f"restore of {manifest.backup_id} failed, the database runs on its previous data: {error}"
                log.error("%s", message)
                raise
            finally:
                # Whatever happened, the data directory holds complete data (old or new): let the
                # database run again rather than leaving it stopped.
                self.state.set_status(InitStatus.DONE, message)
                self.state.allow_run()
                self.state.set_operation(None)
                self.start_probing()

    def upgrade(self) -> None:
        data_dir = self.engine.settings.data_dir
        if data_dir is not None:
            self.engine.upgrade_data_dir(data_dir)

    # -- the waiter ---------------------------------------------------------------------------
    def waiter_reported(self, state: str, generation: int, pid: int | None) -> None:
        """Record what ``brs wait`` says; a database that stopped is no longer ready."""
        self.state.report_waiter(state, generation, pid)
        if state != "running" and self.state.database_ready:
            log.warning("the database container reports the database %s; not ready", state)
            self.state.set_ready(False)
        elif state == "running" and self.state.status is InitStatus.DONE and not self.state.database_ready:
            self.start_probing()

    # -- probing ----------------------------------------------------------------------------
    def start_probing(self) -> None:
        """Probe the database in the background until it answers, then mark it ready."""
        generation = self.state.generation
        if self._probe_thread is not None and self._probe_thread.is_alive() and self._probe_generation == generation:
            return
        self._probe_generation = generation
        thread = threading.Thread(target=self._probe, args=(generation,), name="brs-probe", daemon=True)
        self._probe_thread = thread
        thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stopping.is_set():
            if self.state.database_ready:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            self.stopping.wait(0.2)
        return False

    def _probe(self, generation: int) -> None:
        attempts = 0
        while not self.stopping.is_set() and self.state.generation == generation:
            attempts += 1
            try:
                answered = self.engine.probe_database()
            except BrsError as error:
                answered = False
                log.debug("probe failed: %s", error)
            if answered:
                log.info("the database answers", extra={"probes": attempts})
                self.state.set_ready(True)
                return
            if attempts == 1 or attempts % 10 == 0:
                log.info("the database has not started yet; probing again every %.1fs", self.options.probe_interval)
            self.stopping.wait(self.options.probe_interval)

    def status(self) -> dict[str, Any]:
        return self.state.snapshot()
