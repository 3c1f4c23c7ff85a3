"""The sidecar's shared state and the protocol ``brs wait`` follows.

Every change bumps :attr:`SidecarState.version`, so a waiter can long-poll ("tell me when
anything changed after version N"). The database container runs the database only while the
initializer is ``done`` *and* ``desired`` is ``run``. To stop it (for a restore), the sidecar
sets ``desired`` to ``stopped`` with a new ``generation`` and waits until the waiter
acknowledges that generation with ``stopped``: only then is the data directory touched.
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from brs.errors import BrsError

__all__ = ["Desired", "InitStatus", "SidecarState", "WaiterReport"]


class InitStatus(enum.StrEnum):
    """Phases of the initializer (and of a manual restore, which goes through them again)."""

    CHECKING = "checking"
    RESTORING = "restoring"
    UPGRADING = "upgrading"
    DONE = "done"
    FAILED = "failed"


class Desired(enum.StrEnum):
    """What the sidecar wants the database container to do."""

    RUN = "run"
    STOPPED = "stopped"


@dataclass(frozen=True)
class WaiterReport:
    """The last thing ``brs wait`` told the sidecar."""

    state: str  # "running", "stopped" or "waiting"
    generation: int
    pid: int | None
    seen: float


class SidecarState:
    """Thread-safe state with change notification (a condition variable)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.instance = secrets.token_hex(6)
        self.version = 1
        self.status = InitStatus.CHECKING
        self.message = "starting"
        self.desired = Desired.RUN
        self.generation = 0
        self.database_ready = False
        self.operation: str | None = None
        self.waiter: WaiterReport | None = None
        self._listeners: list[Any] = []

    def _changed(self) -> None:
        self.version += 1
        self._cond.notify_all()
        for listener in self._listeners:
            listener(self)

    def add_listener(self, listener: Any) -> None:
        """Call ``listener(state)`` after every change (used by the metrics)."""
        with self._cond:
            self._listeners.append(listener)

    def set_status(self, status: InitStatus, message: str) -> None:
        with self._cond:
            self.status, self.message = status, message
            if status is not InitStatus.DONE:
                self.database_ready = False
            self._changed()

    def set_ready(self, ready: bool) -> None:
        with self._cond:
            self.database_ready = ready
            self._changed()

    def set_operation(self, operation: str | None) -> None:
        with self._cond:
            self.operation = operation
            self._changed()

    def request_stop(self) -> int:
        """Ask the database container to stop; returns the generation the waiter must ack."""
        with self._cond:
            self.generation += 1
            self.desired = Desired.STOPPED
            self.database_ready = False
            self._changed()
            return self.generation

    def allow_run(self) -> None:
        with self._cond:
            self.desired = Desired.RUN
            self._changed()

    def report_waiter(self, state: str, generation: int, pid: int | None) -> None:
        if state not in ("running", "stopped", "waiting"):
            raise BrsError(f"unknown waiter state {state!r}")
        with self._cond:
            self.waiter = WaiterReport(state, int(generation), pid, time.time())
            self._changed()

    def waiter_running(self) -> bool:
        with self._cond:
            return self.waiter is not None and self.waiter.state == "running"

    def wait_for_waiter(self, timeout: float) -> WaiterReport | None:
        """The waiter's report, waiting up to ``timeout`` seconds for a first one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.waiter is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.waiter

    def wait_for_stop_ack(self, generation: int, timeout: float, cancelled: threading.Event | None = None) -> bool:
        """Block until the waiter acknowledged ``generation`` as stopped; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                report = self.waiter
                if report is not None and report.state == "stopped" and report.generation >= generation:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (cancelled is not None and cancelled.is_set()):
                    return False
                self._cond.wait(min(remaining, 0.5))

    def wait_change(self, since: int, timeout: float) -> dict[str, Any]:
        """Long-poll: return the snapshot once ``version`` exceeds ``since`` or after ``timeout``."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self.version <= since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._snapshot()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        waiter = None
        if self.waiter is not None:
            waiter = {
                "state": self.waiter.state,
                "generation": self.waiter.generation,
                "pid": self.waiter.pid,
                "seen": self.waiter.seen,
            }
        return {
            "status": self.status.value,
            "message": self.message,
            "version": self.version,
            "instance": self.instance,
            "operation": self.operation,
            "database": {"desired": self.desired.value, "generation": self.generation, "ready": self.database_ready},
            "waiter": waiter,
        }
