"""Backups on a 5-field cron schedule (croniter, maintained under pallets-eco)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from croniter import croniter

from brs.errors import BrsError, BusyError, ConfigError

__all__ = ["BackupScheduler", "CronSchedule"]

log = logging.getLogger("brs.sidecar.scheduler")


class CronSchedule:
    """A validated standard cron expression (minute hour day-of-month month day-of-week)."""

    def __init__(self, expression: str) -> None:
        text = " ".join(expression.split())
        # Seconds fields and "@every"-style extensions are not standard cron; refusing them
        # keeps the schedule readable by anyone who knows crontab(5).
        if len(text.split(" ")) != 5 or not croniter.is_valid(text):
            raise ConfigError(f"--backup-cron-schedule {expression!r} is not a 5-field cron expression such as '*/3 * * * *'")
        self.expression = text

    def next_after(self, moment: datetime) -> datetime:
        """The first run time strictly after ``moment`` (in ``moment``'s time zone)."""
        return croniter(self.expression, moment).get_next(datetime)  # type: ignore[no-any-return]


class BackupScheduler:
    """Runs ``take_backup`` at every tick until ``stopping`` is set.

    Ticks missed while a backup ran are skipped, not replayed: one backup right after another
    adds nothing.
    """

    def __init__(self, schedule: CronSchedule, take_backup: Callable[[], object], stopping: threading.Event) -> None:
        self.schedule = schedule
        self.take_backup = take_backup
        self.stopping = stopping
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="brs-scheduler", daemon=True)
        self._thread.start()

    def run(self) -> None:
        log.info("periodic backups started (%s)", self.schedule.expression)
        while not self.stopping.is_set():
            now = datetime.now().astimezone()
            due = self.schedule.next_after(now)
            log.info("next backup at %s", due.isoformat(timespec="seconds"), extra={"next_backup": due.isoformat()})
            while not self.stopping.is_set():
                remaining = (due - datetime.now().astimezone()).total_seconds()
                if remaining <= 0:
                    break
                # Short waits keep the schedule right across clock jumps and suspends.
                self.stopping.wait(min(remaining, 30.0))
            if self.stopping.is_set():
                break
            try:
                self.take_backup()
            except BusyError as error:
                log.info("scheduled backup skipped: %s", error)
            except BrsError as error:
                log.error("scheduled backup failed: %s", error)
            except Exception:
                log.exception("scheduled backup failed")
