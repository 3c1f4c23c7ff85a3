"""Bounded parted uploads: a stream of any size sent as parts, with the memory of a few parts.

Object stores take large objects in parts (S3 multipart uploads, Azure blocks) and make them
visible in one final step (complete, commit). :class:`PartedUpload` is that loop written once:
it reads whole parts from the source, sends at most ``concurrency`` at a time from a pool of
``concurrency + 1`` reused buffers (the extra one is being filled meanwhile), stops at the first
failed part, and commits only after the source ended, or aborts. A subclass says how one part
is sent and how the parts are committed or abandoned.

Hand-written rather than s3transfer or the Azure SDK's uploader: both buffer more parts than
their settings suggest for a non-seekable stream, allocate a fresh buffer per part (which
fragments the heap) and keep one part size for the whole object, which caps its size.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, ClassVar, Generic, TypeVar

from brs.buffers import BufferPool
from brs.errors import StorageError
from brs.streams import FullReader

__all__ = ["PartedUpload", "part_size_for"]

Sent = TypeVar("Sent")


def part_size_for(number: int, base: int, per_step: int) -> int:
    """Size of part ``number`` (1-based): ``base``, doubled after every ``per_step`` parts (at most 256 times).

    Small backups use small parts, and a service's limit on the number of parts still admits
    terabytes.
    """
    return base << min((number - 1) // per_step, 8)


class PartedUpload(ABC, Generic[Sent]):
    """Uploads everything ``source`` yields as one object, atomically.

    :param source: read in whole parts (:class:`brs.streams.FullReader` gathers short reads).
    :param part_size: size of the first parts in bytes; they grow, see :func:`part_size_for`.
    :param concurrency: parts in flight at once; memory is ``concurrency + 1`` parts.
    """

    #: The service's limit on the number of parts of one object.
    max_parts: ClassVar[int]
    #: The part size doubles after every this many parts.
    parts_per_step: ClassVar[int]
    #: The option that sets the part size, named in the error when an object needs too many parts.
    size_option: ClassVar[str]

    def __init__(self, source: BinaryIO, part_size: int, concurrency: int = 2) -> None:
        self._fill = FullReader(source).fill
        self.part_size = part_size
        self.concurrency = concurrency
        #: Bytes read from the source so far.
        self.size = 0
        self._buffers = BufferPool(concurrency + 1)

    # -- what a service implements --------------------------------------------------------
    def send_whole(self, data: bytearray) -> bool:
        """Store a stream shorter than one part in a single request; False: send it as one part."""
        return False

    def begin(self) -> None:
        """Start the parted upload (S3: create the multipart upload)."""

    @abstractmethod
    def send(self, number: int, part: bytearray) -> Sent:
        """Send part ``number`` (1-based; called from worker threads); return what :meth:`commit` needs."""

    @abstractmethod
    def commit(self, parts: list[Sent]) -> None:
        """Make the object visible from every part, in order."""

    def abort(self) -> None:
        """Abandon the parts sent (best effort: the original failure is what is raised)."""

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> int:
        """Upload the stream; returns its size. On any failure nothing becomes visible."""
        first = self._buffers.take(self.part_size)
        filled = self._fill(first)
        self.size = filled
        if filled < self.part_size:
            # Shrinking in place copies nothing; the pool retires a buffer of the wrong size.
            del first[filled:]
            if self.send_whole(first):
                return self.size
        self.begin()
        try:
            self.commit(self._send_parts(first, filled))
        except BaseException:
            self.abort()
            raise
        return self.size

    def _send_parts(self, first: bytearray, filled: int) -> list[Sent]:
        futures: list[Future[Sent]] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="brs-upload-part") as pool:
            try:
                buffer, number = first, 1
                while filled:
                    if number > self.max_parts:
                        raise StorageError(f"the backup needs more than {self.max_parts} parts; raise {self.size_option}")
                    failed = next((future for future in futures if future.done() and future.exception()), None)
                    if failed is not None:
                        failed.result()  # raises the part's error
                    futures.append(pool.submit(self._send, number, buffer, filled))
                    number += 1
                    buffer = self._buffers.take(part_size_for(number, self.part_size, self.parts_per_step))
                    filled = self._fill(buffer)
                    self.size += filled
                self._buffers.give(buffer)
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _send(self, number: int, buffer: bytearray, filled: int) -> Sent:
        try:
            # Only the last part is shorter than its buffer; shrinking in place needs no copy.
            del buffer[filled:]
            return self.send(number, buffer)
        finally:
            self._buffers.give(buffer)
