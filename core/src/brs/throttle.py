"""Pacing a backup so that it leaves the database its disk and its network.

A backup runs beside the database it protects, and Kubernetes limits neither a container's disk
reads nor its network traffic: unpaced, brs reads the data directory and uploads as fast as its
cores allow (docs/performance.md). ``--disk-rate-limit`` paces the archive stream (what the
database plugin reads from the data directory or receives from the server, before compression)
and ``--upload-rate-limit`` the stored object on its way to the storage, each averaged over a
second.

A token bucket of a dozen lines rather than a library: the rate-limiting packages on PyPI count
requests (pyrate-limiter, limits) or pace asyncio tasks (aiolimiter); none paces a byte stream
in a thread, and none lets a cancelled pipeline end the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["RateLimit", "paced"]


class RateLimit:
    """At most ``rate`` bytes per second through :meth:`take`, with bursts of ``burst`` seconds.

    :param wait: sleeps the given seconds; the pipeline passes one that a cancellation ends.
    :param clock: monotonic seconds (a parameter for the tests).
    """

    def __init__(
        self,
        rate: int,
        *,
        burst: float = 1.0,
        wait: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, not {rate}")
        self.rate = rate
        self._capacity = rate * burst
        self._allowance = self._capacity
        self._wait, self._clock = wait, clock
        self._last = clock()

    def take(self, size: int) -> None:
        """Return once the rate allows ``size`` more bytes (waiting off what they exceed).

        Time passing refills the allowance up to the burst only: a quiet minute does not
        permit a minute's worth at once.
        """
        now = self._clock()
        refilled = min(self._capacity, self._allowance + (now - self._last) * self.rate)
        self._allowance = refilled - size
        self._last = now
        if self._allowance < 0:
            self._wait(-self._allowance / self.rate)


def paced(pieces: Iterable[bytes], limit: RateLimit | None) -> Iterable[bytes]:
    """``pieces`` as they come, each let through only when ``limit`` allows it (``None``: unpaced)."""
    return pieces if limit is None else _paced(pieces, limit)


def _paced(pieces: Iterable[bytes], limit: RateLimit) -> Iterator[bytes]:
    for piece in pieces:
        limit.take(len(piece))
        yield piece
