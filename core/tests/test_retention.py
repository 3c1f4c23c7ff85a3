"""Retention policies on synthetic timelines: restic's rules plus brs's newest and future rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brs.retention import Duration, Policy, Snapshot, decide, parse_duration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _timeline(*moments: datetime) -> list[Snapshot]:
    return [Snapshot(moment.strftime("%Y%m%dT%H%M"), moment) for moment in moments]


def _every(step: timedelta, count: int, end: datetime = NOW) -> list[Snapshot]:
    """``count`` backups, one every ``step``, the newest at ``end``."""
    return _timeline(*(end - step * index for index in range(count)))


def _kept(snapshots: list[Snapshot], policy: Policy, now: datetime = NOW) -> list[str]:
    decision = decide(snapshots, policy, now)
    assert {s.id for s in decision.keep} | {s.id for s in decision.remove} == {s.id for s in snapshots}
    assert not {s.id for s in decision.keep} & {s.id for s in decision.remove}
    return [s.id for s in decision.keep]


def test_keep_last_keeps_exactly_the_newest_n() -> None:
    hourly = _every(timedelta(hours=1), 10)
    assert _kept(hourly, Policy(last=3)) == [s.id for s in hourly[:3]]


def test_keep_daily_keeps_the_newest_backup_of_each_of_the_newest_days() -> None:
    # Four backups a day (00, 06, 12, 18) for ten days, the newest today at 12:00.
    snapshots = _every(timedelta(hours=6), 40)
    kept = _kept(snapshots, Policy(daily=3))
    assert kept == ["20261126T1200", "20261125T1800", "20261124T1800"]


def test_days_without_a_backup_do_not_count() -> None:
    snapshots = _timeline(NOW, NOW - timedelta(days=5), NOW - timedelta(days=9), NOW - timedelta(days=30))
    assert _kept(snapshots, Policy(daily=3)) == ["20261126T1200", "20261121T1200", "20261117T1200"]


def test_grandfather_father_son() -> None:
    # One backup a day at 12:00 for two years.
    snapshots = _every(timedelta(days=1), 730)
    decision = decide(snapshots, Policy(daily=7, weekly=4, monthly=6, yearly=2), NOW)
    kept = {s.id: decision.reasons[s.id] for s in decision.keep}
    daily = [s.id for s in snapshots[:7]]
    assert all("daily" in kept[i] for i in daily)
    # ISO weeks end on Sunday: the newest backup of each earlier week is a Sunday's.
    weekly = [i for i, reasons in kept.items() if "weekly" in reasons]
    assert len(weekly) == 4 and weekly[0] == "20261126T1200"
    assert all(datetime.strptime(i, "%Y%m%dT%H%M").weekday() == 6 for i in weekly[1:])
    monthly = [i for i, reasons in kept.items() if "monthly" in reasons]
    assert monthly == ["20261126T1200", "20261031T1200", "20260930T1200", "20260831T1200", "20260731T1200", "20260630T1200"]
    assert [i for i, reasons in kept.items() if "yearly" in reasons] == ["20261126T1200", "20251231T1200"]
    # Nothing else survives.
    assert len(decision.keep) == len(set(daily) | set(weekly) | set(monthly) | {"20251231T1200"})


def test_keep_within_counts_from_the_newest_backup_not_from_the_clock() -> None:
    # The sidecar stopped backing up a month ago: keep-within 7d still keeps a week of history.
    end = NOW - timedelta(days=30)
    snapshots = _every(timedelta(days=1), 20, end=end)
    kept = _kept(snapshots, Policy(within=Duration(days=7)))
    assert kept == [s.id for s in snapshots[:8]]  # the newest and the seven days before it (inclusive)


def test_rules_are_a_union_and_the_newest_is_always_kept() -> None:
    snapshots = _every(timedelta(hours=12), 10)
    assert _kept(snapshots, Policy(last=1, within=Duration(days=2))) == [s.id for s in snapshots[:5]]
    # A policy whose rules keep nothing still keeps the newest backup.
    assert _kept(snapshots, Policy()) == [snapshots[0].id]


def test_future_dated_backups_are_kept_and_do_not_shift_the_window() -> None:
    # A pod whose clock ran a year ahead made one backup; the others are honest and daily.
    honest = _every(timedelta(days=1), 10)
    skewed = _timeline(NOW + timedelta(days=365))
    decision = decide(honest + skewed, Policy(last=2, within=Duration(days=3)), NOW)
    reasons = decision.reasons
    assert reasons[skewed[0].id] == ["future-dated"]
    # keep-last and keep-within count from the newest honest backup, not from the skewed one.
    assert [s.id for s in decision.keep] == [skewed[0].id] + [s.id for s in honest[:4]]
    assert "newest" in reasons[honest[0].id]


def test_a_slightly_fast_clock_on_the_newest_backup_is_tolerated_by_the_rules() -> None:
    # Backups made out of order by clocks a few minutes apart: the order is by time, not by id.
    snapshots = [
        Snapshot("b-made-second", NOW - timedelta(minutes=3)),
        Snapshot("a-made-first", NOW - timedelta(minutes=1)),
        Snapshot("c-old", NOW - timedelta(days=3)),
    ]
    assert _kept(snapshots, Policy(last=1)) == ["a-made-first"]
    assert _kept(snapshots, Policy(daily=1)) == ["a-made-first"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("30d", Duration(days=30)),
        ("12h", Duration(hours=12)),
        ("1y5m7d2h", Duration(years=1, months=5, days=7, hours=2)),
        ("2d2d", Duration(days=4)),
    ],
)
def test_durations_use_restics_spelling(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "1w", "3 days", "-1d", "1.5d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_months_are_calendar_months_as_in_restic() -> None:
    assert Duration(months=1).before(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 3, 3, tzinfo=UTC)
    assert Duration(years=1, days=1).before(datetime(2026, 3, 1, tzinfo=UTC)) == datetime(2025, 2, 28, tzinfo=UTC)
