"""Stream adapters, the upload buffer pool and child-process helpers shared by plugins."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest

from brs.buffers import BufferPool
from brs.processes import free_port, stop_process
from brs.streams import FullReader, TranslatingReader
from brs.testing.storage import GreedyReader


@pytest.mark.parametrize("piece", [1, 7, 10, 25])
def test_full_reader_fills_whole_buffers_from_any_piece_size(piece: int) -> None:
    data = bytes(range(256)) * 4
    reader = FullReader(GreedyReader(data, piece))  # type: ignore[arg-type]
    buffer = bytearray(10)
    parts = []
    while filled := reader.fill(buffer):
        parts.append(bytes(buffer[:filled]))
    assert b"".join(parts) == data
    assert all(len(part) == 10 for part in parts[:-1])
    assert reader.tell() == len(data)


def test_full_reader_read_returns_exactly_what_was_asked() -> None:
    data = b"x" * 100
    reader = FullReader(GreedyReader(data, 30))  # type: ignore[arg-type]
    assert len(reader.read(45)) == 45
    assert len(reader.read(-1)) == 55
    assert reader.read(10) == b""


def test_translating_reader_raises_the_translated_error() -> None:
    class Broken:
        def read(self, size: int) -> bytes:
            raise OSError("connection reset")

    def translate(error: Exception) -> BaseException:
        return ValueError(f"download failed: {error}")

    with pytest.raises(ValueError, match="connection reset"), TranslatingReader(Broken(), translate) as reader:
        reader.read(10)


def test_translating_reader_closes_the_inner_stream_when_it_can() -> None:
    inner = io.BytesIO(b"data")
    with TranslatingReader(inner, lambda error: error) as reader:
        assert reader.read() == b"data"
    assert inner.closed
    with TranslatingReader(object(), lambda error: error):
        pass  # no close method: nothing to do


def test_buffer_pool_reuses_and_bounds_its_buffers() -> None:
    pool = BufferPool(2)
    first, second = pool.take(8), pool.take(8)
    pool.give(first)
    assert pool.take(8) is first
    pool.give(second)
    assert len(pool.take(16)) == 16  # the smaller buffer was retired to make room
    taken = threading.Event()

    def wait_for_one() -> None:
        pool.take(16)
        taken.set()

    waiter = threading.Thread(target=wait_for_one)
    waiter.start()
    assert not taken.wait(0.1)  # both slots in use
    pool.give(first)
    waiter.join(5)
    assert taken.is_set()


def test_stop_process_terminates_and_kills() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(polite, 10) is True
    ignore_sigterm = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    stubborn = subprocess.Popen([sys.executable, "-c", ignore_sigterm], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline()  # the handler is in place
    assert stop_process(stubborn, 0.2) is False
    assert stubborn.returncode is not None
    stubborn.stdout.close()


def test_free_port_is_bindable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
