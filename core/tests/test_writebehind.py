"""The write-behind thread: calls run in order, the first error stops all but the clean-ups."""

from __future__ import annotations

import threading

import pytest

from brs.writebehind import WriteBehind


def test_calls_run_in_the_order_they_were_submitted() -> None:
    done: list[int] = []
    writer = WriteBehind(depth=2)
    for n in range(200):
        writer.submit(lambda n=n: done.append(n))
    writer.drain()
    assert done == list(range(200))
    writer.close()


def test_after_an_error_only_cleanups_run_and_the_error_reaches_the_submitter() -> None:
    done: list[str] = []
    writer = WriteBehind()

    def fail() -> None:
        raise OSError("disk full")

    writer.submit(lambda: done.append("before"))
    writer.submit(fail)
    writer.submit(lambda: done.append("skipped"))
    writer.submit(lambda: done.append("closed"), cleanup=True)
    with pytest.raises(OSError, match="disk full"):
        writer.drain()
    with pytest.raises(OSError, match="disk full"):
        writer.submit(lambda: done.append("refused"))
    writer.submit(lambda: done.append("closed again"), cleanup=True)
    writer.close()
    assert done == ["before", "closed", "closed again"]


def test_a_batch_runs_like_calls_submitted_one_by_one() -> None:
    """Calls handed over together keep their order, and an error inside a batch stops the
    later calls of that batch and of every later one, but not their clean-ups."""
    done: list[str] = []
    writer = WriteBehind(depth=1)

    def fail() -> None:
        raise OSError("no space left")

    writer.submit_batch([(lambda: done.append("a"), False), (lambda: done.append("b"), True)])
    writer.submit_batch([(fail, False), (lambda: done.append("skipped"), False), (lambda: done.append("closed"), True)])
    writer.submit_batch([(lambda: done.append("closed later"), True)])
    with pytest.raises(OSError, match="no space left"):
        writer.drain()
    with pytest.raises(OSError, match="no space left"):
        writer.submit_batch([(lambda: done.append("refused"), False), (lambda: done.append("x"), True)])
    writer.close()
    assert done == ["a", "b", "closed", "closed later"]


def test_the_submitter_waits_once_depth_hand_offs_are_queued_and_drain_after_close_returns() -> None:
    """Memory stays bounded: with the thread busy, ``depth`` more hand-offs queue and the next
    submitter waits until the thread takes one."""
    release, started = threading.Event(), threading.Event()
    writer = WriteBehind(depth=2)
    writer.submit(lambda: (started.set(), release.wait()))
    assert started.wait(5)
    writer.submit(lambda: None)
    writer.submit(lambda: None)
    assert writer.backlog == 2
    blocked = threading.Thread(target=writer.submit, args=(lambda: None,))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # waits for room
    release.set()
    blocked.join(5)
    assert not blocked.is_alive()
    writer.drain()
    assert writer.backlog == 0
    writer.close()
    writer.drain()  # nothing is queued after close: returns at once
