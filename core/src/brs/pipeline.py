"""Threads joined by small bounded queues: the plumbing of every backup and restore.

Every native stage (tar parsing, lz4/zstd/gzip, AES-GCM, hashing, file I/O) releases the GIL,
so a stage per thread overlaps work on two cores, and :func:`ordered_map` spreads the costliest
one (compression) over every core; bounded queues of 256 KiB pieces keep memory flat whatever
the size of the database. The first stage that fails cancels all the others, and
:meth:`Pipeline.run` re-raises that first error, so a failing dump can never produce a backup.
"""

from __future__ import annotations

import functools
import io
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "CHUNK",
    "DEPTH",
    "MAX_WORKERS",
    "TRIM_INTERVAL",
    "BoundedQueue",
    "Cancelled",
    "Channel",
    "ChannelReader",
    "ChannelWriter",
    "HeapTrimmer",
    "PiecePool",
    "PieceReader",
    "Pipeline",
    "cores",
    "in_flight",
    "ordered_map",
    "quota_cores",
]

#: Size of the pieces that travel between stages. 256 KiB pieces keep a backup's peak RSS about
#: 25 MiB below 1 MiB ones (the process's memory is mostly pieces in flight) at the same speed.
CHUNK = 1 << 18
#: Bytes through a pipeline's channels between two trims of the heap (see HeapTrimmer).
TRIM_INTERVAL = 32 << 20
#: Pieces a channel holds before the producer blocks.
DEPTH = 4
#: Reads of at least this much from a piece are handed on as views of it (:meth:`PieceReader.read_view`):
#: copying them held the interpreter's lock in a restore's parsing thread; smaller ones are
#: copied, so that a few bytes never keep a whole piece alive.
VIEW_MIN = 1 << 16

_EOF = object()


class Cancelled(Exception):
    """Raised inside a stage when another stage failed; never reaches the user."""


class HeapTrimmer:
    """Hands the heap's free pages back to the system after every :data:`TRIM_INTERVAL` bytes
    that a pipeline's channels carried.

    The pipeline's threads allocate and free pieces of a few hundred KiB in one arena, and
    ISA-L's gzip calls allocate their state beside them: the free space between live pieces
    is reused too seldom, and the heap grew with the size of a backup (targz on 1 GiB: 52
    MiB peak RSS against 39 MiB on 100 MiB). glibc's ``malloc_trim`` returns the free pages
    inside the heap (``madvise``), which took that to 42 MiB for a backup and 46-48 for a
    restore, in the same time (1 GiB, 2 interleaved pairs; every 8 MiB cost 10-20 % more
    time). No Python API has it, hence ctypes; where the C library lacks it (musl), nothing
    happens.
    """

    def __init__(self) -> None:
        self._carried = 0
        self._trim: Callable[[int], int] | None = _malloc_trim()

    def carried(self, size: int) -> bool:
        """Count ``size`` bytes; returns whether the heap was trimmed now."""
        # Threads race on the count; an early or a late trim is all that costs.
        self._carried += size
        if self._carried < TRIM_INTERVAL or self._trim is None:
            return False
        self._carried = 0
        self._trim(0)
        return True


_T = TypeVar("_T")


class BoundedQueue(Generic[_T]):
    """A queue that holds at most ``depth`` items, its locking done in C.

    Two :class:`queue.SimpleQueue` objects instead of one bounded :class:`queue.Queue`: the
    items, and one token per free place that a producer takes before it puts an item. A
    ``Queue`` runs its locking and waiting in Python (a ``Condition`` per side) while it holds the
    interpreter's lock, which every other thread then waits for; ``SimpleQueue`` does it in C,
    at a third of the time per hand-off (measured: 4.5 against 13 us).
    """

    def __init__(self, depth: int) -> None:
        self._items: queue.SimpleQueue[_T] = queue.SimpleQueue()
        self._room: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(depth):
            self._room.put(None)

    def put(self, item: _T, timeout: float | None = None) -> bool:
        """Queue ``item`` once there is room; ``False`` if none came within ``timeout``."""
        try:
            self._room.get(timeout=timeout)
        except queue.Empty:
            return False
        self._items.put(item)
        return True

    def put_beyond(self, item: _T) -> None:
        """Queue ``item`` without waiting for room (a last marker that must not block)."""
        self._items.put(item)

    def get(self, timeout: float | None = None) -> _T:
        """The oldest item, freeing its place; raises :class:`queue.Empty` after ``timeout``."""
        item = self._items.get(timeout=timeout)
        self._room.put(None)
        return item

    def qsize(self) -> int:
        """Items queued and not taken yet (approximate while other threads move them)."""
        return self._items.qsize()


class Channel:
    """A bounded queue of byte pieces from one stage to the next, with end and cancellation."""

    def __init__(self, cancel: threading.Event, depth: int = DEPTH, heap: HeapTrimmer | None = None) -> None:
        self._queue: BoundedQueue[Any] = BoundedQueue(depth)
        self._cancel = cancel
        self._heap = heap

    def put(self, piece: bytes | bytearray | memoryview) -> None:
        if piece:
            self._put(piece)
            if self._heap is not None:
                self._heap.carried(len(piece))

    def close(self) -> None:
        """Signal the end of the stream."""
        self._put(_EOF)

    def _put(self, item: Any) -> None:
        while True:
            if self._cancel.is_set():
                raise Cancelled
            if self._queue.put(item, timeout=0.1):
                return

    def get(self) -> bytes | None:
        """The next piece, or ``None`` at the end of the stream."""
        while True:
            if self._cancel.is_set():
                raise Cancelled
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            return None if item is _EOF else cast(bytes, item)

    def __iter__(self) -> Iterator[bytes]:
        while (piece := self.get()) is not None:
            yield piece


class PiecePool:
    """Piece buffers handed back once their content is used, for the next pieces to fill.

    A fresh ``bytearray`` per piece is allocated and zeroed while its thread holds the
    interpreter's lock: the busiest line of a backup's Python code (py-spy ``--gil``). At most
    ``keep`` buffers wait here, no more than were in flight at once before they came back.
    ``deque`` appends and pops are atomic, so the filling and the using threads need no lock.
    """

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self._keep = keep
        self._free: deque[bytearray] = deque()

    def take(self) -> bytearray:
        """A buffer of :attr:`size` bytes: a returned one if there is, else a new one."""
        try:
            return self._free.pop()
        except IndexError:
            return bytearray(self.size)

    def give(self, piece: object) -> None:
        """Hand back a piece whose content nobody reads any more (anything else is ignored)."""
        if type(piece) is bytearray and len(piece) == self.size and len(self._free) < self._keep:
            self._free.append(piece)


class ChannelWriter(io.RawIOBase):
    """A write-only file object that cuts what it is given into pieces of ``piece_size`` bytes.

    Small writes (tar headers, the ends of files) are gathered in a buffer of exactly one piece,
    which is handed on as it is when full and replaced by a fresh one: each byte is copied once.
    ``tell()`` lets :mod:`tarfile` use its fast non-stream mode on a non-seekable sink.
    """

    def __init__(self, channel: Channel, piece_size: int = CHUNK, pool: PiecePool | None = None) -> None:
        """:param pool: where full pieces come from, when their reader gives them back after use."""
        super().__init__()
        self._channel = channel
        self._piece_size = piece_size
        self._take = pool.take if pool is not None and pool.size == piece_size else functools.partial(bytearray, piece_size)
        self._buffer = self._take()
        self._fill = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        if not self._fill and size == self._piece_size and isinstance(data, bytes):
            self._position += size
            self._channel.put(data)  # a whole piece already: no copy
            return size
        offset = 0
        while offset < size:
            take = min(self._piece_size - self._fill, size - offset)
            self._buffer[self._fill : self._fill + take] = view[offset : offset + take]
            offset += take
            self.advance(take)
        return size

    def spare(self) -> memoryview:
        """The unfilled rest of the current piece, to read into; :meth:`advance` says how much was.

        The caller releases the view before it calls :meth:`advance`.
        """
        return memoryview(self._buffer)[self._fill :]

    def advance(self, size: int) -> None:
        """Count ``size`` bytes read into :meth:`spare` as written; a full piece is handed on."""
        self._fill += size
        self._position += size
        if self._fill == self._piece_size:
            self._channel.put(self._buffer)
            self._buffer, self._fill = self._take(), 0

    def tell(self) -> int:
        return self._position

    def finish(self) -> None:
        """Flush what is buffered and end the stream."""
        if self._fill:
            self._channel.put(self._buffer[: self._fill])
            self._fill = 0
        self._channel.close()


class PieceReader(io.RawIOBase):
    """A read-only file object over byte pieces as they come; ``read(n)`` returns at most
    ``n`` bytes, and a whole piece when it fits, without a copy."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__()
        self._pieces = iter(pieces)
        self._piece: memoryview = memoryview(b"")
        self._offset = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        if self._offset < len(self._piece):
            return True
        if self.eof:
            return False
        piece: bytes | None = b""
        while not piece:  # empty pieces (a decryptor waiting for a whole chunk) are no end
            piece = next(self._pieces, None)
            if piece is None:
                self.eof = True
                return False
        self._piece = memoryview(piece)
        self._offset = 0
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if not self._fill():
            return 0
        n = min(len(target), len(self._piece) - self._offset)
        target[:n] = self._piece[self._offset : self._offset + n]
        self._offset += n
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        if not self._fill():
            return b""
        if self._offset == 0 and size >= len(self._piece):
            # Whole piece: hand it on without copying.
            self._offset = len(self._piece)
            whole = self._piece.obj
            return whole if isinstance(whole, bytes) else bytes(self._piece)
        n = min(size, len(self._piece) - self._offset)
        out = bytes(self._piece[self._offset : self._offset + n])
        self._offset += n
        return out

    def read_view(self, size: int) -> bytes | memoryview:
        """Up to ``size`` bytes of the current piece, as :meth:`read` gives them, but a view of
        the piece instead of a copy when that is at least :data:`VIEW_MIN` bytes (it keeps the
        whole piece alive while it lives)."""
        if not self._fill():
            return b""
        n = min(size, len(self._piece) - self._offset)
        if n < VIEW_MIN or (self._offset == 0 and n == len(self._piece)):
            return self.read(n)
        view = self._piece[self._offset : self._offset + n]
        self._offset += n
        return view

    def read_piece(self) -> bytes:
        """The rest of the current piece or the next whole piece; ``b""`` at the end."""
        if not self._fill():
            return b""
        whole, start = self._piece.obj, self._offset
        self._offset = len(self._piece)
        if start == 0 and isinstance(whole, bytes):
            return whole  # the piece as it was queued: no copy
        return bytes(self._piece[start:])


class ChannelReader(PieceReader):
    """A read-only file object over a channel (see :class:`PieceReader`)."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)


_M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)


def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes

    return cast("Callable[[int], int] | None", getattr(ctypes.CDLL(None), "malloc_trim", None))


@functools.cache
def _share_one_malloc_arena() -> None:
    """Let every thread allocate from glibc's main arena.

    glibc gives each thread that contends for memory an arena of its own, and pieces freed into
    one arena are not reused by the others: with a thread per stage that cost 3-10 MiB of peak
    RSS (measured). The stages hand pieces of a few hundred KiB to each other, where one shared
    arena costs no measurable time. There is no Python API for ``mallopt``, hence ctypes; other C
    libraries (musl) have no arenas and no such call, and are left alone.
    """
    import ctypes

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, 1)


class Pipeline:
    """Run stages in threads; the first failure cancels the rest and is re-raised by :meth:`run`."""

    def __init__(self, name: str) -> None:
        _share_one_malloc_arena()
        #: Shared by the pipeline's channels.
        self.heap = HeapTrimmer()
        self.name = name
        self.cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        #: Name of the stage whose error :meth:`run` re-raised.
        self.failed_stage: str | None = None

    def channel(self, depth: int = DEPTH) -> Channel:
        return Channel(self.cancel, depth, self.heap)

    def _fail(self, error: BaseException, stage: str) -> None:
        with self._lock:
            if not isinstance(error, Cancelled):
                if not self._errors:
                    self.failed_stage = stage
                self._errors.append(error)
        self.cancel.set()

    def stage(self, name: str, work: Callable[[], None]) -> None:
        """Start ``work`` in a daemon thread named after the stage."""

        def runner() -> None:
            try:
                work()
            except BaseException as error:  # noqa: BLE001 - re-raised by run() in the caller
                self._fail(error, name)

        thread = threading.Thread(target=runner, name=f"brs-{self.name}-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def run(self, work: Callable[[], Any], name: str = "final") -> Any:
        """Run the final stage in the calling thread, wait for the others, re-raise the first error."""
        result = None
        try:
            result = work()
        except BaseException as error:  # noqa: BLE001 - recorded and re-raised below, after the stages stopped
            self._fail(error, name)
        finally:
            if self._errors:
                self.cancel.set()
            for thread in self._threads:
                while thread.is_alive():
                    thread.join(0.1)
                    if self._errors:
                        self.cancel.set()
        if self._errors:
            raise self._errors[0]
        if self.cancel.is_set():
            raise Cancelled(f"{self.name} was cancelled")
        return result

    def abort(self) -> None:
        """Cancel every stage (e.g. on shutdown)."""
        self.cancel.set()

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` in a stage; a cancellation ends the sleep with :class:`Cancelled`."""
        if self.cancel.wait(seconds):
            raise Cancelled


#: Compression threads at most: beyond this the pieces in flight, not the cores, set the pace
#: (and each holds a piece of memory).
MAX_WORKERS = 8


def cores() -> int:
    """The CPUs this process may use: its affinity (a container's CPU set narrows it), and a
    cgroup v2 CPU quota (a Kubernetes CPU limit) rounded up, at most :data:`MAX_WORKERS`."""
    count = len(os.sched_getaffinity(0))
    try:
        quota = quota_cores(Path("/sys/fs/cgroup/cpu.max").read_text())
    except OSError:
        quota = None
    return max(1, min(count, quota or count, MAX_WORKERS))


def quota_cores(cpu_max: str) -> int | None:
    """Whole CPUs a cgroup v2 ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``) allows."""
    fields = cpu_max.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return max(1, -(-quota // period)) if quota > 0 and period > 0 else None


def in_flight(workers: int) -> int:
    """Pieces :func:`ordered_map` holds for ``workers`` threads: two per worker, and two more.

    With one piece per worker the pool ran dry whenever the consumer was busy with a result
    (sealing it, or waiting for room downstream): a backup's frame threads were idle 60 % of
    the time. Two per worker kept them busy at about 1.5 MiB more memory: tarzst backups of
    512 MiB took 3.2 instead of 3.7 s, tarlz4 2.4 instead of 2.5 (medians of 4 pairs).
    """
    return 2 * workers + 2


#: What :func:`ordered_map` hands its workers (bytes, buffers, memoryviews).
_Piece = TypeVar("_Piece")


def ordered_map(work: Callable[[_Piece], bytes], pieces: Iterable[_Piece], workers: int) -> Iterator[bytes]:
    """``work(piece)`` for every piece on ``workers`` threads, yielded in the order of ``pieces``.

    At most ``in_flight(workers)`` pieces are taken and not yet yielded, so memory stays bounded.
    ``work`` must release the GIL to gain anything (the codecs' one-shot calls do). An error of
    ``work`` is raised when its piece's turn comes; pieces not started by then are dropped, and
    the ones started are finished before this returns.

    Hand-written over two :class:`queue.SimpleQueue` objects rather than a
    :class:`concurrent.futures.ThreadPoolExecutor`: each submitted piece cost a ``Future`` with
    its ``Condition`` and the executor's idle-thread semaphore, all Python code run under the
    interpreter's lock, which the backup's other stages wait for (see :class:`Channel`).
    """
    if workers <= 1:
        yield from map(work, pieces)
        return
    pool = _FramePool(work, workers)
    try:
        for piece in pieces:
            pool.submit(piece)
            if pool.pending >= in_flight(workers):
                yield pool.next_result()
        while pool.pending:
            yield pool.next_result()
    finally:
        pool.stop()


class _FramePool(Generic[_Piece]):
    """Worker threads taking numbered pieces and giving back numbered results (or errors)."""

    def __init__(self, work: Callable[[_Piece], bytes], workers: int) -> None:
        self._work = work
        self._todo: queue.SimpleQueue[tuple[int, _Piece] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, bytes | None, BaseException | None]] = queue.SimpleQueue()
        self._arrived: dict[int, tuple[bytes | None, BaseException | None]] = {}
        self._submitted = self._yielded = 0
        self._threads = [threading.Thread(target=self._run, name=f"brs-frame-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Pieces submitted whose results were not taken yet."""
        return self._submitted - self._yielded

    def submit(self, piece: _Piece) -> None:
        self._todo.put((self._submitted, piece))
        self._submitted += 1

    def next_result(self) -> bytes:
        """The result of the oldest piece not taken yet (waits for it); raises its error."""
        while self._yielded not in self._arrived:
            number, result, error = self._done.get()
            self._arrived[number] = (result, error)
        result, error = self._arrived.pop(self._yielded)
        self._yielded += 1
        if error is not None:
            raise error
        assert result is not None
        return result

    def stop(self) -> None:
        """Drop the pieces no thread started, let the started ones finish, end the threads."""
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        while (job := self._todo.get()) is not None:
            number, piece = job
            try:
                self._done.put((number, self._work(piece), None))
            except BaseException as error:  # noqa: BLE001 - raised in the consumer, in the piece's turn
                self._done.put((number, None, error))
