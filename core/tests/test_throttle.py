"""The pace of --disk-rate-limit and --upload-rate-limit (brs.throttle), on a clock the test moves,
and the rates the options take (brs.units.parse_rate)."""

from __future__ import annotations

import threading
import time

import pytest

from brs.pipeline import Cancelled, Pipeline
from brs.throttle import RateLimit, paced
from brs.units import parse_rate

MiB = 1 << 20


class _Clock:
    """A monotonic clock that moves only when the limit waits (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def _limit(rate: int, clock: _Clock, burst: float = 1.0) -> RateLimit:
    return RateLimit(rate, burst=burst, wait=clock.wait, clock=clock)


def test_a_burst_goes_without_waiting_and_the_rest_at_the_rate() -> None:
    clock = _Clock()
    limit = _limit(2 * MiB, clock)
    for _ in range(8):  # 2 MiB: the first second's allowance
        limit.take(256 << 10)
    assert clock.waits == []
    for _ in range(24):  # 6 MiB more at 2 MiB/s: 3 seconds
        limit.take(256 << 10)
    assert sum(clock.waits) == pytest.approx(3.0)
    assert max(clock.waits) == pytest.approx(0.125)  # each piece waits for itself only


def test_a_quiet_spell_permits_one_burst_not_its_whole_length() -> None:
    clock = _Clock()
    limit = _limit(MiB, clock)
    limit.take(MiB)
    clock.now += 60  # a minute without data
    limit.take(MiB)
    assert clock.waits == []
    limit.take(MiB)  # beyond the one second of burst: waits a second
    assert clock.waits == [pytest.approx(1.0)]


def test_a_piece_larger_than_the_burst_waits_off_its_excess() -> None:
    clock = _Clock()
    limit = _limit(MiB, clock, burst=0.5)
    limit.take(4 * MiB)
    assert clock.waits == [pytest.approx(3.5)]
    limit.take(MiB)  # the wait paid for the piece: the next waits for itself only
    assert clock.waits[1] == pytest.approx(1.0)


def test_paced_passes_every_piece_in_order_and_none_when_unlimited() -> None:
    pieces = [bytes([n]) * 1000 for n in range(50)]
    assert paced(pieces, None) is pieces
    clock = _Clock()
    assert list(paced(iter(pieces), _limit(64 << 10, clock, burst=0.1))) == pieces
    assert sum(clock.waits) == pytest.approx((50_000 - 6553.6) / (64 << 10))


def test_a_cancelled_pipeline_ends_a_long_wait() -> None:
    pipe = Pipeline("test")
    limit = RateLimit(64 << 10, wait=pipe.pause)
    limit.take(64 << 10)  # the burst
    threading.Timer(0.2, pipe.abort).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        limit.take(100 * MiB)  # would wait about 26 minutes
    assert time.monotonic() - started < 60


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("50MiB", 50 * MiB),
        ("50M", 50 * MiB),
        ("50 MiB/s", 50 * MiB),
        ("1.5GiB", 3 * 512 * MiB),
        ("400MB/s", 400_000_000),
        ("800kB", 800_000),
        ("64KiB", 64 << 10),
        ("1048576", MiB),
        ("0", 0),
    ],
)
def test_rates_in_binary_and_decimal_units(text: str, rate: int) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "is not a rate"),
        ("-5M", "is not a rate"),
        ("1e6", "is not a rate"),
        ("5MiBs", "is not a rate"),
        ("", "is not a rate"),
        ("50", "below the smallest rate limit, 64KiB/s"),
        ("10KiB", "below the smallest rate limit"),
    ],
)
def test_what_is_no_rate_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_rate(text)
    assert "\n" not in str(raised.value)
