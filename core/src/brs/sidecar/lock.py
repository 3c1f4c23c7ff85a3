"""One backup or restore at a time, without queueing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from brs.errors import BusyError

__all__ = ["OperationLock"]


class OperationLock:
    """A try-lock: the second caller gets :class:`~brs.errors.BusyError` at once.

    Queueing would let scheduled backups pile up behind a slow one and would make an on-demand
    caller wait without knowing why; a clear "busy" answer is better for both.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.current: str | None = None
        self.since = 0.0

    @contextmanager
    def hold(self, operation: str) -> Iterator[None]:
        with self._lock:
            if self.current is not None:
                raise BusyError(
                    f"busy: a {self.current} is already running (for {time.monotonic() - self.since:.0f}s); try again later"
                )
            self.current, self.since = operation, time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.current = None
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing runs; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.current is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True
