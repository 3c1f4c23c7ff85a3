"""Scheduled restore drills: the cron scheduler on a simulated clock, and the drill job itself.

The scheduler reads time through an injectable clock, so these tests step through cron ticks
without sleeping: nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brs import results
from brs.engine import Engine
from brs.errors import BusyError, ConfigError, StorageError
from brs.sidecar.metrics import Metrics
from brs.sidecar.runtime import RuntimeConfig, SidecarRuntime
from brs.sidecar.scheduler import CronSchedule, CronScheduler
from brs.testing import tree_snapshot

START = datetime(2026, 1, 1, 2, 58, 10, tzinfo=UTC)


class SimulatedClock:
    """Time that moves only when a scheduler waits; sets ``stopping`` once ``until`` is reached."""

    def __init__(self, start: datetime, until: datetime) -> None:
        self.moment = start
        self.until = until
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def wait(self, stopping: threading.Event, seconds: float) -> None:
        self.waits.append(seconds)
        self.moment += timedelta(seconds=seconds)
        if self.moment >= self.until:
            stopping.set()


def _run(schedule: str, job: Callable[[], object], clock: SimulatedClock) -> None:
    CronScheduler(CronSchedule(schedule), job, threading.Event(), name="verify", clock=clock).run()


def test_the_job_runs_at_each_tick_and_only_then() -> None:
    clock = SimulatedClock(START, START + timedelta(minutes=12))
    runs: list[datetime] = []
    _run("*/5 * * * *", lambda: runs.append(clock.now()), clock)
    at = START.replace(hour=3, second=0)
    assert runs == [at.replace(minute=0), at.replace(minute=5), at.replace(minute=10)]
    # Waits are chunked so that clock jumps and suspends are noticed.
    assert max(clock.waits) <= 30.0


def test_busy_and_failing_ticks_are_skipped_not_fatal() -> None:
    outcomes = iter([BusyError("busy: a backup is already running"), StorageError("storage down"), RuntimeError("bug")])
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        error = next(outcomes, None)
        if error is not None:
            raise error

    _run("* * * * *", job, SimulatedClock(START, START + timedelta(minutes=4, seconds=30)))
    assert len(calls) == 4  # every tick ran; the busy and failing ones did not end the schedule


def test_a_stopped_scheduler_runs_nothing() -> None:
    calls: list[int] = []
    stopping = threading.Event()
    stopping.set()
    CronScheduler(CronSchedule("* * * * *"), lambda: calls.append(1), stopping, clock=SimulatedClock(START, START)).run()
    assert calls == []


def test_verify_schedule_is_validated_and_named_in_the_error(make_engine: Callable[..., Engine]) -> None:
    with pytest.raises(ConfigError, match="--verify-cron-schedule"):
        SidecarRuntime(make_engine(), RuntimeConfig(verify_schedule="@every 1h"))
    assert SidecarRuntime(make_engine(), RuntimeConfig()).drill_scheduler() is None


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


def _runtime_with_backups(
    tmp_path: Path, make_engine: Callable[..., Engine], busy_wait: float = 0.0
) -> tuple[SidecarRuntime, list[str]]:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "file.txt").write_text("precious")
    engine = make_engine(data)
    versions = [engine.backup().backup_id for _ in range(2)]
    config = RuntimeConfig(verify_schedule="0 3 * * *", verify_busy_wait=busy_wait)
    return SidecarRuntime(engine, config), versions


def _drill_once(runtime: SidecarRuntime) -> None:
    """One tick of the runtime's own drill scheduler (03:00), on a simulated clock."""
    drills = runtime.drill_scheduler(SimulatedClock(START, START + timedelta(minutes=3)))
    assert drills is not None
    drills.run()


def test_a_drill_of_a_good_backup_sets_the_last_verified_time(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    runtime, _ = _runtime_with_backups(tmp_path, make_engine)
    metrics = runtime.metrics
    assert _value(metrics, "brs_last_verified_timestamp_seconds") == 0.0
    _drill_once(runtime)
    assert _value(metrics, "brs_verifications_total", result="ok") == 1.0
    assert _value(metrics, "brs_last_verified_timestamp_seconds") > 0.0
    assert runtime.sidecar.lock.current is None
    # The drill's verification is recorded next to the backup and listed with it.
    newest, older = results.listing(runtime.engine.catalog())["backups"]
    assert newest["verified_at"] is not None and older["verified_at"] is None


def test_a_damaged_newest_backup_is_recorded_and_the_data_directory_untouched(
    tmp_path: Path, make_engine: Callable[..., Engine]
) -> None:
    runtime, versions = _runtime_with_backups(tmp_path, make_engine)
    newest = runtime.engine.find("latest")
    assert newest.backup_id == versions[-1]
    stored = tmp_path / "store" / newest.object_name
    blob = bytearray(stored.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    stored.write_bytes(bytes(blob))
    data = tmp_path / "data"
    before = tree_snapshot(data)
    siblings = sorted(p.name for p in tmp_path.iterdir())

    _drill_once(runtime)

    metrics = runtime.metrics
    assert _value(metrics, "brs_verifications_total", result="damaged") == 1.0
    assert _value(metrics, "brs_verifications_total", result="ok") == 0.0
    assert _value(metrics, "brs_backup_damaged_timestamp_seconds") > 0.0
    assert _value(metrics, "brs_last_verified_timestamp_seconds") == 0.0
    assert tree_snapshot(data) == before and (data / "sub" / "file.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings  # nothing moved aside or staged
    assert not list((tmp_path / "store").glob("*.verified.json"))  # a failed drill records nothing


def test_a_drill_that_cannot_reach_the_data_counts_an_error_not_damage(
    tmp_path: Path, make_engine: Callable[..., Engine]
) -> None:
    runtime, _ = _runtime_with_backups(tmp_path, make_engine)
    (tmp_path / "store" / runtime.engine.find("latest").object_name).unlink()
    _drill_once(runtime)
    metrics = runtime.metrics
    assert _value(metrics, "brs_verifications_total", result="error") == 1.0
    assert _value(metrics, "brs_verifications_total", result="damaged") == 0.0
    assert _value(metrics, "brs_last_verified_timestamp_seconds") == 0.0


def test_a_drill_that_meets_a_backup_waits_for_it_then_runs(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    runtime, _ = _runtime_with_backups(tmp_path, make_engine, busy_wait=60)
    held, release = threading.Event(), threading.Event()

    def backup() -> None:
        with runtime.sidecar.lock.hold("backup"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=backup)
    thread.start()
    held.wait(10)
    threading.Timer(0.5, release.set).start()
    _drill_once(runtime)
    thread.join()
    assert _value(runtime.metrics, "brs_verifications_total", result="ok") == 1.0


def test_a_drill_blocked_longer_than_its_wait_is_skipped(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    runtime, _ = _runtime_with_backups(tmp_path, make_engine, busy_wait=0.3)
    with runtime.sidecar.lock.hold("backup"):
        _drill_once(runtime)
    metrics = runtime.metrics
    for result in ("ok", "damaged", "error"):
        assert _value(metrics, "brs_verifications_total", result=result) == 0.0
    assert runtime.sidecar.lock.current is None
