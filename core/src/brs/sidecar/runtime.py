"""``brs start``: wires state, lock, metrics, API, initializer and schedule, and shuts down cleanly."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from types import FrameType

import brs
from brs.engine import Engine
from brs.errors import BrsError, ConfigError
from brs.legacy.metrics import LegacyMetrics
from brs.sidecar.api import ApiServer, is_loopback
from brs.sidecar.exec import run_commands
from brs.sidecar.initializer import Initializer, Stopped
from brs.sidecar.metrics import Metrics
from brs.sidecar.scheduler import Clock, CronSchedule, CronScheduler
from brs.sidecar.service import Sidecar, SidecarOptions
from brs.sidecar.state import InitStatus, SidecarState

__all__ = ["RuntimeConfig", "SidecarRuntime"]

log = logging.getLogger("brs.sidecar")


@dataclass(frozen=True)
class RuntimeConfig:
    """Options of ``brs start`` that are not engine settings."""

    schedule: str = "*/3 * * * *"
    #: Cron schedule of restore drills (verifications of the newest backup); empty: none.
    verify_schedule: str = ""
    bind_addr: str = "127.0.0.1"
    port: int = 8000
    metrics_port: int = 2112
    metrics_bind_addr: str = "0.0.0.0"
    api_token: str | None = None
    pre_exec_cmds: tuple[str, ...] = field(default_factory=tuple)
    #: Seconds a running backup or restore may take to finish after SIGTERM before it is abandoned.
    shutdown_grace: float = 25.0
    #: Also export backup-restore-sidecar's metric names (``backup_success``, ...).
    legacy_metrics: bool = False
    options: SidecarOptions = field(default_factory=SidecarOptions)
    #: Up to this many seconds of random delay after each scheduled tick.
    schedule_jitter: float = 0.0
    #: How long a restore drill that meets a running backup or restore waits for it.
    verify_busy_wait: float = 900.0


class SidecarRuntime:
    """One ``brs start`` process."""

    def __init__(self, engine: Engine, config: RuntimeConfig) -> None:
        self.engine = engine
        self.config = config
        # Validate before anything starts.
        self.schedule = CronSchedule(config.schedule)
        self.verify_schedule = _optional_schedule(config.verify_schedule, "--verify-cron-schedule")
        settings = engine.settings
        self.state = SidecarState()
        self.metrics = Metrics(db=settings.db or "", storage=settings.backup_provider)
        engine.lifecycle.register(self.metrics, "brs-sidecar-metrics")
        if config.legacy_metrics:
            engine.lifecycle.register(LegacyMetrics(self.metrics.registry), "brs-legacy-metrics")
        self.state.add_listener(self.metrics.observe_state)
        self.metrics.observe_state(self.state)
        self.sidecar = Sidecar(engine, self.state, self.metrics, config.options)
        self.metrics.watch_next_runs(self.sidecar.next_runs)
        self.api: ApiServer | None = None
        self._init_failed: BaseException | None = None
        self._done = threading.Event()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        self.sidecar.stopping.set()
        self._done.set()

    def run(self) -> int:
        settings = self.engine.settings
        log.info(
            "brs sidecar %s starting",
            brs.__version__,
            extra={
                "version": brs.__version__,
                "db": settings.db,
                "storage": settings.backup_provider,
                "data_dir": str(settings.data_dir),
                "schedule": self.schedule.expression,
                "verify_schedule": self.verify_schedule.expression if self.verify_schedule else None,
                "bind_addr": f"{self.config.bind_addr}:{self.config.port}",
            },
        )
        if settings.data_dir is None:
            raise BrsError("brs start needs --db-data-directory")
        if not is_loopback(self.config.bind_addr) and not self.config.api_token:
            # Refuse before anything runs, rather than after the pre-exec commands.
            raise ConfigError(
                f"--bind-addr {self.config.bind_addr} is reachable from other hosts: set --api-token-file (or bind to 127.0.0.1)"
            )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        run_commands(self.config.pre_exec_cmds)
        if self.config.metrics_port:
            self.metrics.serve(self.config.metrics_port, self.config.metrics_bind_addr)
        self.api = ApiServer(self.config.bind_addr, self.config.port, self.sidecar, self.config.api_token)
        self.api.start()
        worker = threading.Thread(target=self._main, name="brs-initializer", daemon=True)
        worker.start()
        # A signal may be delivered to any thread; Python runs its handler in the main thread
        # only once that thread executes bytecode again, so never block here without a timeout.
        while not self._done.wait(0.5):
            pass
        return self._shutdown()

    def _main(self) -> None:
        try:
            initializer = Initializer(self.sidecar)
            initializer.run()
            self.sidecar.start_probing()
            if not self.sidecar.wait_ready():
                return
            log.info("the database is available; starting periodic backups")
            if not initializer.started_empty:
                self._first_backup()
            self.sidecar.refresh_listing_metrics()
            self._start_drills()
            CronScheduler(
                self.schedule,
                lambda: self.sidecar.backup("schedule"),
                self.sidecar.stopping,
                next_runs=self.sidecar.next_runs,
                jitter=self.config.schedule_jitter,
            ).run()
        except Stopped:
            pass
        except BaseException as error:
            # Handed to the main thread, which exits 1 so that kubelet restarts the container.
            if not self.sidecar.stopping.is_set():
                self.state.set_status(InitStatus.FAILED, str(error))
                log.error("initializer failed, shutting down: %s", error, exc_info=not isinstance(error, BrsError))
                self._init_failed = error
            self._done.set()

    def _first_backup(self) -> None:
        """Back up at once when the storage holds no brs backup yet (e.g. right after switching
        from backup-restore-sidecar), so that losing the volume before the first scheduled
        backup loses nothing. A failure is logged; the schedule retries."""
        try:
            if self.engine.catalog().managed():
                return
            log.info("the storage holds no brs backup yet: taking the first one now, not at the first scheduled time")
            self.sidecar.backup("startup")
        except BrsError as error:
            log.error("the first backup failed (the schedule tries again): %s", error)

    def drill_scheduler(self, clock: Clock | None = None) -> CronScheduler | None:
        """Restore drills on ``--verify-cron-schedule`` (None when it is not set).

        Each tick takes the same path as ``POST /v1/backups/latest/verify``: the same lock and
        the same metrics. A tick that meets a running backup or restore waits for it (at most
        ``verify_busy_wait`` seconds) rather than being dropped.
        """
        if self.verify_schedule is None:
            return None
        return CronScheduler(
            self.verify_schedule,
            lambda: self.sidecar.verify_when_idle("latest", "schedule", self.config.verify_busy_wait),
            self.sidecar.stopping,
            name="verify",
            clock=clock,
            next_runs=self.sidecar.next_runs,
            jitter=self.config.schedule_jitter,
        )

    def _start_drills(self) -> None:
        drills = self.drill_scheduler()
        if drills is not None:
            drills.start()

    def _shutdown(self) -> int:
        self.sidecar.stopping.set()
        lock = self.sidecar.lock
        abandoned = False
        if lock.current is not None:
            log.info("waiting up to %.0fs for the running %s to finish", self.config.shutdown_grace, lock.current)
            if not lock.wait_idle(self.config.shutdown_grace):
                abandoned = True
                log.warning(
                    "abandoning the running %s: an unfinished backup upload is never listed, "
                    "and an unfinished restore leaves the data directory as it was",
                    lock.current,
                )
        if self.api is not None:
            self.api.stop()
        self.metrics.shutdown()
        if self._init_failed is not None:
            error = self._init_failed
            raise error if isinstance(error, BrsError) else BrsError(f"initializer failed: {error}")
        log.info("stopped")
        if abandoned:
            # Worker threads are still inside the abandoned operation; do not wait for them.
            logging.shutdown()
            sys.stderr.flush()
            os._exit(0)
        return 0


def _optional_schedule(expression: str, option: str) -> CronSchedule | None:
    """The validated schedule, or None when ``expression`` is empty (the feature is off)."""
    return CronSchedule(expression, option) if expression.strip() else None
