"""Threads joined by small bounded queues: the plumbing of every backup and restore.

Every native stage (tar parsing, lz4/zstd/gzip, AES-GCM, hashing, file I/O) releases the GIL,
so a stage per thread overlaps work on two cores; bounded queues of ~1 MiB pieces keep memory
flat whatever the size of the database. The first stage that fails cancels all the others, and
:meth:`Pipeline.run` re-raises that first error, so a failing dump can never produce a backup.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

__all__ = ["CHUNK", "Cancelled", "Channel", "ChannelReader", "ChannelWriter", "Pipeline"]

#: Size of the pieces that travel between stages.
CHUNK = 1 << 20
#: Pieces a channel holds before the producer blocks.
DEPTH = 4

_EOF = object()


class Cancelled(Exception):
    """Raised inside a stage when another stage failed; never reaches the user."""


class Channel:
    """A bounded queue of byte pieces from one stage to the next, with end and cancellation."""

    def __init__(self, cancel: threading.Event, depth: int = DEPTH) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._cancel = cancel

    def put(self, piece: bytes | bytearray | memoryview) -> None:
        if piece:
            self._put(piece)

    def close(self) -> None:
        """Signal the end of the stream."""
        self._put(_EOF)

    def _put(self, item: Any) -> None:
        while True:
            if self._cancel.is_set():
                raise Cancelled
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

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


class ChannelWriter(io.RawIOBase):
    """A write-only file object that cuts what it is given into ~1 MiB pieces for a channel.

    It also implements ``tell()``, which lets :mod:`tarfile` use its fast non-stream mode on a
    non-seekable sink.
    """

    def __init__(self, channel: Channel, piece_size: int = CHUNK) -> None:
        super().__init__()
        self._channel = channel
        self._piece_size = piece_size
        self._buffer = bytearray()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(data)
        if size >= self._piece_size and not self._buffer:
            self._channel.put(bytes(data))
        else:
            self._buffer += data
            if len(self._buffer) >= self._piece_size:
                self._channel.put(bytes(self._buffer))
                self._buffer.clear()
        self._position += size
        return size

    def tell(self) -> int:
        return self._position

    def finish(self) -> None:
        """Flush what is buffered and end the stream."""
        if self._buffer:
            self._channel.put(bytes(self._buffer))
            self._buffer.clear()
        self._channel.close()


class ChannelReader(io.RawIOBase):
    """A read-only file object over a channel; ``read(n)`` returns at most ``n`` bytes."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel
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
        piece = self._channel.get()
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

    def read_piece(self) -> bytes:
        """The rest of the current piece or the next whole piece; ``b""`` at the end."""
        if not self._fill():
            return b""
        whole, start = self._piece.obj, self._offset
        self._offset = len(self._piece)
        if start == 0 and isinstance(whole, bytes):
            return whole  # the piece as it was queued: no copy
        return bytes(self._piece[start:])


class Pipeline:
    """Run stages in threads; the first failure cancels the rest and is re-raised by :meth:`run`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        #: Name of the stage whose error :meth:`run` re-raised.
        self.failed_stage: str | None = None

    def channel(self, depth: int = DEPTH) -> Channel:
        return Channel(self.cancel, depth)

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
