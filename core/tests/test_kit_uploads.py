"""brs.kit.uploads: parts in order, bounded memory, and nothing committed after any failure."""

from __future__ import annotations

import io
import os
import threading
from typing import Any, BinaryIO, cast

import pytest

from brs.errors import StorageError
from brs.kit.uploads import PartedUpload, part_size_for

_KiB = 1 << 10


class Recording(PartedUpload[int]):
    """Keeps the parts in memory, as a service would keep them until the commit."""

    max_parts = 100
    parts_per_step = 4
    size_option = "--test-part-size"

    def __init__(self, source: BinaryIO, part_size: int, *, whole: bool = False, fail_part: int = 0) -> None:
        super().__init__(source, part_size, concurrency=2)
        self.whole, self.fail_part = whole, fail_part
        self.events: list[str] = []
        self.parts: dict[int, bytes] = {}
        self.committed: bytes | None = None
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def send_whole(self, data: bytearray) -> bool:
        if self.whole:
            self.committed = bytes(data)
            self.events.append("whole")
        return self.whole

    def begin(self) -> None:
        self.events.append("begin")

    def send(self, number: int, part: bytearray) -> int:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if number == self.fail_part:
                raise OSError(f"part {number} refused")
            self.parts[number] = bytes(part)
            return number
        finally:
            with self._lock:
                self.in_flight -= 1

    def commit(self, parts: list[int]) -> None:
        self.events.append("commit")
        self.committed = b"".join(self.parts[number] for number in parts)

    def abort(self) -> None:
        self.events.append("abort")


class Trickle(io.RawIOBase):
    """Hands out at most ``piece`` bytes per read; fails once ``fail_at`` bytes were read."""

    def __init__(self, data: bytes, piece: int = 3 * _KiB, fail_at: int | None = None) -> None:
        super().__init__()
        self._data, self._piece, self._fail_at = io.BytesIO(data), piece, fail_at

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fail_at is not None and self._data.tell() >= self._fail_at:
            raise RuntimeError("the pipeline broke")
        data = self._data.read(min(len(buffer), self._piece))
        buffer[: len(data)] = data
        return len(data)


def _source(data: bytes, **kwargs: Any) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(Trickle(data, **kwargs), buffer_size=_KiB))


def test_parts_arrive_whole_and_in_order_and_sizes_grow() -> None:
    data = os.urandom(50 * _KiB + 5)
    upload = Recording(_source(data), part_size=4 * _KiB)
    assert upload.run() == len(data)
    assert upload.committed == data
    assert upload.events == ["begin", "commit"]
    sizes = [len(upload.parts[n]) for n in sorted(upload.parts)]
    assert sizes[:4] == [4 * _KiB] * 4 and sizes[4:8] == [8 * _KiB] * 4  # doubled after parts_per_step
    assert upload.most_in_flight <= 2


def test_a_short_stream_goes_whole_when_the_service_can() -> None:
    data = os.urandom(3 * _KiB)
    upload = Recording(_source(data), part_size=4 * _KiB, whole=True)
    assert upload.run() == len(data)
    assert upload.events == ["whole"] and upload.committed == data


def test_an_empty_stream_commits_an_empty_object() -> None:
    upload = Recording(_source(b""), part_size=4 * _KiB)
    assert upload.run() == 0
    assert upload.events == ["begin", "commit"] and upload.committed == b""


def test_a_failed_part_aborts_and_commits_nothing() -> None:
    upload = Recording(_source(os.urandom(40 * _KiB)), part_size=4 * _KiB, fail_part=2)
    with pytest.raises(OSError, match="part 2 refused"):
        upload.run()
    assert upload.events == ["begin", "abort"] and upload.committed is None


def test_a_broken_source_aborts_and_commits_nothing() -> None:
    upload = Recording(_source(os.urandom(40 * _KiB), fail_at=20 * _KiB), part_size=4 * _KiB)
    with pytest.raises(RuntimeError, match="the pipeline broke"):
        upload.run()
    assert upload.events == ["begin", "abort"] and upload.committed is None


def test_too_many_parts_is_a_storage_error_naming_the_option() -> None:
    upload = Recording(_source(os.urandom(10 * _KiB)), part_size=_KiB)
    upload.max_parts = 3
    with pytest.raises(StorageError, match="more than 3 parts; raise --test-part-size"):
        upload.run()
    assert upload.events == ["begin", "abort"] and upload.committed is None


def test_part_sizes_double_per_step_and_stop_growing() -> None:
    assert [part_size_for(n, 1, 2) for n in range(1, 8)] == [1, 1, 2, 2, 4, 4, 8]
    assert part_size_for(10_000, 1, 1) == 256
