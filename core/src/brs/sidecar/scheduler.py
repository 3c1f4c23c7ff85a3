"""Jobs on a 5-field cron schedule (croniter, maintained under pallets-eco).

The sidecar runs two of them: backups (``--backup-cron-schedule``) and restore drills that
verify the newest backup (``--verify-cron-schedule``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from croniter import croniter

from brs.errors import BrsError, BusyError, ConfigError

__all__ = ["Clock", "CronSchedule", "CronScheduler", "SystemClock"]

log = logging.getLogger("brs.sidecar.scheduler")
#: Longest single wait between two looks at the clock, in seconds.
MAX_WAIT = 30.0
#: crontab(5)'s shorthands (croniter understands them).
DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


class CronSchedule:
    """A validated standard cron expression (minute hour day-of-month month day-of-week)."""

    def __init__(self, expression: str, option: str = "--backup-cron-schedule") -> None:
        text = " ".join(expression.split())
        # Seconds fields and "@every"-style extensions are not standard cron; refusing them
        # keeps the schedule readable by anyone who knows crontab(5).
        descriptor = text.lower() in DESCRIPTORS
        if not descriptor and (len(text.split(" ")) != 5 or not croniter.is_valid(text)):
            raise ConfigError(
                f"{option} {expression!r} is not a 5-field cron expression such as '*/3 * * * *' "
                f"nor one of {', '.join(sorted(DESCRIPTORS))}"
            )
        if descriptor:
            text = text.lower()
        self.expression = text

    def next_after(self, moment: datetime) -> datetime:
        """The first run time strictly after ``moment`` (in ``moment``'s time zone)."""
        return croniter(self.expression, moment).get_next(datetime)  # type: ignore[no-any-return]


class Clock(Protocol):
    """Where a scheduler reads the time and how it waits; tests pass a simulated one."""

    def now(self) -> datetime:
        """The current time, with a time zone."""
        ...

    def wait(self, stopping: threading.Event, seconds: float) -> None:
        """Wait ``seconds`` or until ``stopping`` is set, whichever comes first."""
        ...


class SystemClock:
    """The wall clock in the container's time zone."""

    def now(self) -> datetime:
        """The current local time."""
        return datetime.now().astimezone()

    def wait(self, stopping: threading.Event, seconds: float) -> None:
        """Block on ``stopping`` so that shutdown does not wait for the next tick."""
        stopping.wait(seconds)


class CronScheduler:
    """Runs ``job`` at every tick of ``schedule`` until ``stopping`` is set.

    Ticks missed while the job (or anything else holding the operation lock) ran are skipped,
    not replayed: one backup or drill right after another adds nothing.
    """

    def __init__(
        self,
        schedule: CronSchedule,
        job: Callable[[], object],
        stopping: threading.Event,
        name: str = "backup",
        clock: Clock | None = None,
        next_runs: dict[str, datetime] | None = None,
        jitter: float = 0.0,
    ) -> None:
        self.schedule = schedule
        self.job = job
        self.stopping = stopping
        self.name = name
        self.clock: Clock = clock or SystemClock()
        #: Where the next run is published (the status route and the metrics read it).
        self.next_runs = next_runs if next_runs is not None else {}
        #: Up to this many seconds of random delay after each tick, so that many pods on one
        #: schedule do not all hit the storage in the same second.
        self.jitter = max(0.0, jitter)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=f"brs-scheduler-{self.name}", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Wait for each tick and run the job, until ``stopping`` is set."""
        log.info("scheduled %s started (%s)", self.name, self.schedule.expression)
        while not self.stopping.is_set():
            if not self._wait_for_tick():
                break
            self._run_job()

    def _wait_for_tick(self) -> bool:
        """Wait until the next tick; False when ``stopping`` was set first."""
        due = self.schedule.next_after(self.clock.now())
        if self.jitter:
            due += timedelta(seconds=random.uniform(0, self.jitter))
        self.next_runs[self.name] = due
        log.info("next %s at %s", self.name, due.isoformat(timespec="seconds"), extra={f"next_{self.name}": due.isoformat()})
        while not self.stopping.is_set():
            remaining = (due - self.clock.now()).total_seconds()
            if remaining <= 0:
                return True
            # Short waits keep the schedule right across clock jumps and suspends.
            self.clock.wait(self.stopping, min(remaining, MAX_WAIT))
        return False

    def _run_job(self) -> None:
        """Run the job once; its failures are logged, never fatal to the schedule."""
        try:
            self.job()
        except BusyError as error:
            log.info("scheduled %s skipped: %s", self.name, error)
        except BrsError as error:
            log.error("scheduled %s failed: %s", self.name, error)
        except Exception:
            log.exception("scheduled %s failed", self.name)
