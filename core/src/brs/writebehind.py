"""A thread that carries out file-system calls in order, behind the thread that asks for them.

A restore is bound by its extracting thread: it parses the archive in Python (holding the GIL)
and then spends as long again in the kernel creating, writing and closing each file. Handing
those calls to a thread of their own overlaps the two on two cores (every ``os`` call releases
the GIL). Nothing else changes: the calls run strictly in the order they were submitted, the
queue holds a bounded number of them (and so of data pieces), and :meth:`WriteBehind.drain`
waits until all have run, which the extractor does before any step that depends on them.

Several calls can travel as one batch (:meth:`WriteBehind.submit_batch`): each hand-off wakes the
thread and passes the interpreter's lock back and forth, which costs more than the system calls
of a small file.

Hand-written: :class:`concurrent.futures.ThreadPoolExecutor` neither keeps order nor bounds
its queue, and the first error here must stop every later call but the clean-ups.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from brs.pipeline import BoundedQueue

__all__ = ["WriteBehind"]

#: Calls (or batches) queued before :meth:`WriteBehind.submit` blocks (with 256 KiB pieces, at most
#: 1 MiB per thread).
DEPTH = 4

_STOP = None
#: A call and whether it is a clean-up (runs even after an earlier call failed).
Call = tuple[Callable[[], object], bool]


class WriteBehind:
    """Runs submitted calls in order on one thread; the first error is raised in the submitter.

    After an error only the calls submitted with ``cleanup=True`` (closing descriptors) still
    run, so nothing leaks. The error is raised by the next :meth:`submit` or :meth:`drain`.
    """

    def __init__(self, name: str = "brs-write-behind", depth: int = DEPTH) -> None:
        self._calls: BoundedQueue[list[Call] | None] = BoundedQueue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[[], object], *, cleanup: bool = False) -> None:
        """Queue ``call``; raises the error of an earlier call instead (unless ``cleanup``)."""
        self.submit_batch([(call, cleanup)])

    def submit_batch(self, calls: list[Call]) -> None:
        """Queue ``calls`` (pairs of a call and its ``cleanup`` flag) as one hand-off; they run
        as if submitted one by one. Raises the error of an earlier call instead, unless every
        one of them is a clean-up."""
        if self._error is not None and not all(cleanup for _, cleanup in calls):
            raise self._error
        self._calls.put(calls)

    @property
    def failed(self) -> bool:
        """Whether a call has failed (clean-ups check it to skip their work but free resources)."""
        return self._error is not None

    @property
    def backlog(self) -> int:
        """Hand-offs queued and not yet taken (approximate: the thread moves on meanwhile)."""
        return self._calls.qsize()

    def drain(self) -> None:
        """Wait until every queued call has run; raise the first error of any of them."""
        # Calls run in order, so once this one has run every call queued before it has too.
        if self._thread.is_alive():  # after close() nothing is queued
            done = threading.Event()
            self.submit(done.set, cleanup=True)
            done.wait()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Run what is queued (only clean-ups after an error) and stop the thread."""
        if self._thread.is_alive():
            self._calls.put_beyond(_STOP)  # the thread takes it after the rest
            self._thread.join()

    def _run(self) -> None:
        while (batch := self._calls.get()) is not _STOP:
            for call, cleanup in batch:
                if self._error is None or cleanup:
                    try:
                        call()
                    except BaseException as error:  # noqa: BLE001 - raised in the submitting thread
                        if self._error is None:
                            self._error = error
