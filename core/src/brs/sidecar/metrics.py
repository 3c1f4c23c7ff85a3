"""Prometheus metrics of the sidecar, fed by core's lifecycle hooks.

:class:`Metrics` is registered as a lifecycle-hook plugin on the engine's lifecycle (like any
plugin in the ``brs.hooks`` group), so the numbers come from the same events that every
backup and restore reports, whoever started it. It uses its own registry: importing brs into
another process never adds series to that process's default registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, disable_created_metrics, start_http_server

import brs
from brs.errors import BackupSkipped, BrsError, IntegrityError
from brs.sidecar.state import InitStatus

if TYPE_CHECKING:
    from brs.manifest import Manifest
    from brs.sidecar.state import SidecarState

__all__ = ["Metrics"]

log = logging.getLogger("brs.sidecar.metrics")
_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600, 7200)


class Metrics:
    """The sidecar's series (all prefixed ``brs_``) and the hook implementations that set them."""

    def __init__(self, db: str, storage: str) -> None:
        # The *_created series (one per counter and histogram) duplicate what the process start
        # time says, and one of them would be a timestamp named like a count: not exported.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        r = self.registry
        self.info = Info("brs", "brs version, database and storage plugin", registry=r)
        self.info.info({"version": brs.__version__, "db": db, "storage": storage})
        self.last_success = Gauge(
            "brs_backup_last_success_timestamp_seconds", "Unix time of the last successful backup (0: none yet)", registry=r
        )
        self.last_attempt = Gauge(
            "brs_backup_last_attempt_timestamp_seconds", "Unix time the last backup attempt started", registry=r
        )
        self.backups = Counter("brs_backups", "Backup attempts by result (success, failure, skipped)", ["result"], registry=r)
        self.errors = Counter(
            "brs_backup_errors",
            "Failed backups by stage (dump, compress, encrypt, upload, manifest, retention)",
            ["stage"],
            registry=r,
        )
        self.duration = Histogram(
            "brs_backup_duration_seconds", "Wall time of successful backups", buckets=_DURATION_BUCKETS, registry=r
        )
        self.last_duration = Gauge("brs_backup_last_duration_seconds", "Wall time of the last successful backup", registry=r)
        self.size = Gauge(
            "brs_backup_last_size_bytes",
            "Size of the last successful backup (raw: tar stream; stored: after compression and encryption)",
            ["kind"],
            registry=r,
        )
        self.newest = Gauge(
            "brs_backup_newest_created_timestamp_seconds",
            "Creation time of the newest backup in the storage (survives sidecar restarts; 0: none)",
            registry=r,
        )
        self.retained = Gauge("brs_backups_retained", "Backups listed in the storage after the last retention run", registry=r)
        self.unusable = Gauge(
            "brs_backups_unusable",
            "Listed backups a restore does not pick, by reason (a status of brs backups list, or unreadable)",
            ["reason"],
            registry=r,
        )
        self.restores = Counter(
            "brs_restores",
            "Restores by trigger (startup, manual) and result (success, failure)",
            ["trigger", "result"],
            registry=r,
        )
        self.restore_duration = Gauge("brs_restore_last_duration_seconds", "Wall time of the last successful restore", registry=r)
        self.last_restore = Gauge(
            "brs_restore_last_success_timestamp_seconds", "Unix time of the last successful restore", registry=r
        )
        self.verifications = Counter(
            "brs_verifications",
            "Backup verifications (including those during restores) by result "
            "(ok, damaged, error: could not finish, e.g. the storage failed)",
            ["result"],
            registry=r,
        )
        self.last_verified = Gauge(
            "brs_last_verified_timestamp_seconds",
            "Unix time of the last successful backup verification: scheduled, requested or by a restore (0: none yet)",
            registry=r,
        )
        self.fallbacks = Counter(
            "brs_restore_fallbacks", "Restores that skipped a damaged or missing backup for an older one", registry=r
        )
        self.damaged = Gauge(
            "brs_backup_damaged_timestamp_seconds", "Unix time a stored backup was last found damaged (0: never)", registry=r
        )
        self.init_state = Enum(
            "brs_initializer_state", "Phase of the sidecar initializer", states=[s.value for s in InitStatus], registry=r
        )
        self.ready = Gauge("brs_database_ready", "1 while the database may run and answered the probe", registry=r)
        self.next_run = Gauge(
            "brs_next_run_timestamp_seconds", "Unix time of the next scheduled run by job (backup, verify)", ["job"], registry=r
        )
        self.size.labels("raw")
        self.size.labels("stored")
        for result in ("success", "failure", "skipped"):
            self.backups.labels(result)
        for result in ("ok", "damaged", "error"):
            self.verifications.labels(result)
        # Zero-valued children make increase() and absence checks work before the first event.
        for stage in ("dump", "compress", "encrypt", "upload", "manifest", "retention"):
            self.errors.labels(stage)
        for trigger in ("startup", "manual"):
            for result in ("success", "failure"):
                self.restores.labels(trigger, result)
        self.last_success.set(0)
        self.last_verified.set(0)
        self.damaged.set(0)
        self.trigger = "manual"
        self._server: Any = None

    def watch_next_runs(self, next_runs: Mapping[str, datetime]) -> None:
        """Export the schedulers' next runs (read at each scrape; 0 until a job is scheduled)."""

        def reader(job: str) -> Callable[[], float]:
            return lambda: next_runs[job].timestamp() if job in next_runs else 0.0

        for job in ("backup", "verify"):
            self.next_run.labels(job).set_function(reader(job))

    # -- state ------------------------------------------------------------------------------
    def observe_state(self, state: SidecarState) -> None:
        """Listener for :class:`SidecarState` changes."""
        self.init_state.state(state.status.value)
        self.ready.set(1 if state.database_ready else 0)

    def set_listing(self, count: int, newest: float, unusable: Mapping[str, int] | None = None) -> None:
        """What the storage holds: number of backups, creation time of the newest one, and how
        many are passed over per reason (every known reason is set, 0 when none)."""
        self.retained.set(count)
        self.newest.set(newest)
        for reason, number in (unusable or {}).items():
            self.unusable.labels(reason=reason).set(number)

    def verified(self, ok: bool) -> None:
        """A backup was read in full: intact (``ok``) or damaged."""
        self.verifications.labels("ok" if ok else "damaged").inc()
        if ok:
            self.last_verified.set(time.time())
        else:
            self.damaged.set(time.time())

    def verification_failed(self, error: BaseException) -> None:
        """A verification ended with ``error``: a damaged backup, or one that could not be checked."""
        if isinstance(error, IntegrityError):
            self.verified(False)
        else:
            # Not evidence of damage (the storage may just be down), but not a proof either:
            # counted apart so that it neither pages as damage nor goes unseen.
            self.verifications.labels("error").inc()

    # -- lifecycle hooks (called through Session.notify) -------------------------------------
    def brs_backup_started(self, backup_id: str, db: str) -> None:
        self.last_attempt.set(time.time())

    def brs_backup_succeeded(self, manifest: Manifest, duration: float) -> None:
        self.last_success.set(time.time())
        self.backups.labels("success").inc()
        self.duration.observe(duration)
        self.last_duration.set(duration)
        self.size.labels("raw").set(manifest.raw_size)
        self.size.labels("stored").set(manifest.stored_size)

    def brs_backup_failed(self, backup_id: str, stage: str, error: BaseException) -> None:
        if isinstance(error, BackupSkipped):
            self.backups.labels("skipped").inc()
            return
        self.errors.labels(stage).inc()
        if stage != "retention":  # the backup itself succeeded and was counted already
            self.backups.labels("failure").inc()

    def brs_restore_succeeded(self, manifest: Manifest, duration: float) -> None:
        self.restores.labels(self.trigger, "success").inc()
        self.restore_duration.set(duration)
        self.last_restore.set(time.time())
        self.verified(True)

    def brs_restore_failed(self, manifest: Manifest, error: BaseException) -> None:
        self.restores.labels(self.trigger, "failure").inc()
        if isinstance(error, IntegrityError):
            self.verified(False)

    # -- serving ----------------------------------------------------------------------------
    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread."""
        try:
            self._server = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as error:
            raise BrsError(f"cannot serve metrics on {addr}:{port}: {error.strerror or error}") from error
        log.info("metrics on http://%s:%d/metrics", addr, port)

    def shutdown(self) -> None:
        if isinstance(self._server, tuple):
            server, thread = self._server
            server.shutdown()
            thread.join(5)
