"""Stages in threads: bounded channels, first error wins, everyone stops."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from brs.pipeline import (
    MAX_WORKERS,
    VIEW_MIN,
    Channel,
    ChannelReader,
    ChannelWriter,
    PiecePool,
    Pipeline,
    cores,
    in_flight,
    PieceReader,
    ordered_map,
    quota_cores,
)


def test_data_flows_through_stages_in_order() -> None:
    pipe = Pipeline("t")
    first, second = pipe.channel(), pipe.channel()
    payload = bytes(range(256)) * 20_000

    def produce() -> None:
        writer = ChannelWriter(first, piece_size=4096)
        for i in range(0, len(payload), 1000):
            writer.write(payload[i : i + 1000])
        writer.finish()

    def double() -> None:
        for piece in first:
            second.put(piece)
        second.close()

    pipe.stage("produce", produce)
    pipe.stage("copy", double)
    result = pipe.run(lambda: ChannelReader(second).read())
    assert result == payload


def test_a_failing_stage_stops_the_others_and_its_error_is_raised() -> None:
    pipe = Pipeline("t")
    channel = pipe.channel(depth=1)
    stopped = threading.Event()

    def endless() -> None:
        try:
            while True:
                channel.put(b"x" * 1024)
        finally:
            stopped.set()

    def consumer() -> None:
        channel.get()
        raise ValueError("consumer broke")

    pipe.stage("endless", endless)
    with pytest.raises(ValueError, match="consumer broke"):
        pipe.run(consumer, name="consume")
    assert stopped.is_set()
    assert pipe.failed_stage == "consume"


def test_an_upstream_error_wins_over_the_cancellation_it_causes_downstream() -> None:
    pipe = Pipeline("t")
    channel = pipe.channel()

    def broken() -> None:
        channel.put(b"partial")
        raise RuntimeError("dump tool exited 1")

    pipe.stage("dump", broken)
    with pytest.raises(RuntimeError, match="dump tool exited 1"):
        pipe.run(lambda: ChannelReader(channel).read())
    assert pipe.failed_stage == "dump"


def test_reader_never_returns_more_than_asked() -> None:
    pipe = Pipeline("t")
    channel = pipe.channel()
    pipe.stage("put", lambda: (channel.put(b"a" * 5000), channel.close()))
    reader = ChannelReader(channel)
    sizes = []
    while piece := reader.read(700):
        sizes.append(len(piece))
    pipe.run(lambda: None)
    assert max(sizes) <= 700 and sum(sizes) == 5000


def test_large_reads_are_views_of_the_piece_and_small_ones_copies() -> None:
    """read_view gives the same bytes as read; only reads of VIEW_MIN or more share the piece
    (a few bytes must not keep a whole piece alive), and a whole piece comes as it was queued."""
    first, second = os.urandom(4 * VIEW_MIN), os.urandom(VIEW_MIN)
    reader = PieceReader(iter([first, second]))
    small = reader.read_view(100)
    large = reader.read_view(2 * VIEW_MIN)
    rest = reader.read_view(10 * VIEW_MIN)  # stops at the end of the piece
    whole = reader.read_view(VIEW_MIN)
    assert type(small) is bytes and small == first[:100]
    assert isinstance(large, memoryview) and large.obj is first and large == first[100 : 100 + 2 * VIEW_MIN]
    assert isinstance(rest, memoryview) and bytes(rest) == first[100 + 2 * VIEW_MIN :]
    assert whole is second
    assert reader.read_view(1) == b""


def test_ordered_map_keeps_the_order_and_bounds_what_is_in_flight() -> None:
    lock, active, most = threading.Lock(), [0], [0]

    def work(piece: bytes) -> bytes:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.002 * (piece[0] % 3))  # later pieces often finish first
        with lock:
            active[0] -= 1
        return piece * 2

    pieces = [bytes([n]) for n in range(40)]
    fed = []

    def source() -> Iterator[bytes]:
        for piece in pieces:
            fed.append(piece)
            yield piece

    results = []
    for result in ordered_map(work, source(), workers=3):
        results.append(result)
        assert len(fed) - len(results) <= in_flight(3), "more pieces taken than the pool may hold"
    assert results == [piece * 2 for piece in pieces]
    assert 1 < most[0] <= 3


def test_ordered_map_raises_a_failed_piece_in_its_turn() -> None:
    def work(piece: bytes) -> bytes:
        if piece == b"3":
            raise ValueError("bad piece")
        return piece

    got = []
    with pytest.raises(ValueError, match="bad piece"):
        for result in ordered_map(work, (str(n).encode() for n in range(10)), workers=2):
            got.append(result)
    assert got == [b"0", b"1", b"2"]


def test_ordered_map_ends_its_threads_and_skips_unstarted_pieces_when_stopped_early() -> None:
    started = []

    def work(piece: bytes) -> bytes:
        started.append(piece)
        if piece == b"2":
            raise ValueError("bad piece")
        time.sleep(0.01)
        return piece

    with pytest.raises(ValueError, match="bad piece"):
        for _ in ordered_map(work, (str(n).encode() for n in range(100)), workers=2):
            pass
    assert len(started) <= 2 + in_flight(2), "pieces taken after the failure were still worked on"
    results = ordered_map(work, (str(n).encode() for n in range(3, 100)), workers=2)
    assert next(results) == b"3"
    results.close()  # the consumer stops early: the threads end too
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("brs-frame")]


def test_the_cores_used_follow_the_cgroup_quota_and_stay_bounded() -> None:
    assert quota_cores("max 100000") is None
    assert quota_cores("200000 100000") == 2
    assert quota_cores("150000 100000") == 2  # 1.5 CPUs: two threads may share them
    assert quota_cores("50000 100000") == 1
    assert quota_cores("garbage") is None and quota_cores("0 100000") is None
    assert 1 <= cores() <= min(len(os.sched_getaffinity(0)), MAX_WORKERS)


def test_the_heap_is_trimmed_once_per_interval_of_carried_bytes() -> None:
    """glibc's malloc_trim runs after every TRIM_INTERVAL bytes a pipeline's channels carry
    (bench/pipeline.py measures what it saves: targz on 1 GiB stays under 48 MiB)."""
    from brs.pipeline import TRIM_INTERVAL, HeapTrimmer

    heap = HeapTrimmer()
    assert not heap.carried(TRIM_INTERVAL - 1)
    assert heap.carried(1)  # this C library has malloc_trim, and it ran
    assert not heap.carried(TRIM_INTERVAL // 2)
    pipe = Pipeline("trim")
    channel = pipe.channel(depth=1000)
    for _ in range(TRIM_INTERVAL // (1 << 18) - 1):
        channel.put(bytes(1 << 18))
    assert pipe.heap.carried(1 << 18)  # the channels count into their pipeline's trimmer


def test_the_piece_pool_takes_back_only_its_own_kind_of_buffer_and_a_bounded_number() -> None:
    pool = PiecePool(8, keep=2)
    first = pool.take()
    assert first == bytearray(8)
    pool.give(first)
    assert pool.take() is first
    pool.give(bytes(8))  # not a buffer that can be refilled
    pool.give(bytearray(4))  # another size
    assert [len(pool.take()) for _ in range(2)] == [8, 8]
    taken = [pool.take() for _ in range(3)]
    for buffer in taken:
        pool.give(buffer)
    again = [pool.take() for _ in range(3)]
    assert sum(any(buffer is old for old in taken) for buffer in again) == 2


def test_a_channel_writer_fills_buffers_from_its_pool() -> None:
    pool = PiecePool(4, keep=4)
    channel = Channel(threading.Event())
    writer = ChannelWriter(channel, 4, pool)

    def send(text: bytes) -> None:
        for half in (text[:2], text[2:]):  # in parts: a whole bytes piece would travel as it is
            writer.write(half)

    send(b"abcd")
    piece = channel.get()
    assert piece == b"abcd"
    pool.give(piece)
    send(b"efgh")  # fills the buffer taken when the first piece left
    assert channel.get() == b"efgh"
    send(b"ijkl")
    assert channel.get() is piece and piece == b"ijkl"
