"""A bounded pool of reusable upload buffers, for uploads with a fixed memory budget."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["BufferPool", "Filler"]

#: Fills the buffer from the stream; returns how many bytes it holds (fewer only at the end).
Filler = Callable[[bytearray], int]


class BufferPool:
    """At most ``count`` buffers, handed out and returned; :meth:`take` blocks while all are in use.

    Reusing buffers keeps the memory of a streamed upload at ``count`` parts and avoids the heap
    fragmentation of a fresh allocation per part. A returned buffer of another size than the one
    asked for (the part size grew, or it was the short last part) is retired, which frees its
    slot for a buffer of the new size.
    """

    def __init__(self, count: int) -> None:
        self._count = count
        self._made = 0
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of exactly ``size`` bytes (contents undefined)."""
        while True:
            try:
                buffer = self._free.get_nowait()
            except queue.Empty:
                with self._lock:
                    if self._made < self._count:
                        self._made += 1
                        return bytearray(size)
                buffer = self._free.get()
            if len(buffer) == size:
                return buffer
            with self._lock:
                self._made -= 1

    def give(self, buffer: bytearray) -> None:
        """Return a buffer taken from this pool (it may have been shrunk in place)."""
        self._free.put(buffer)
