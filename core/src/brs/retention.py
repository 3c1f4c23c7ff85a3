"""Which backups a retention policy keeps: a pure function over (id, time) pairs.

The rules are restic's ``forget`` rules, so that operators who know them need learn nothing new:

* ``keep_last N``: the N newest backups.
* ``keep_hourly/daily/weekly/monthly/yearly N``: for each of the N newest hours (days, ISO weeks,
  months, years) that have a backup, the newest backup in it. Buckets without a backup do not
  count, so N always means N kept backups if there are enough.
* ``keep_within D``: every backup younger than D, measured from the newest backup (not from the
  clock), so a sidecar that stopped backing up does not lose its history while it is down.

A backup is kept when any rule keeps it; the rest are removed. Two rules of brs's own come on top:

* the newest backup is always kept, whatever the policy (retention runs after a backup: deleting
  what was just made would be absurd), and the policy "keep nothing" does not exist;
* a backup dated in the future (a clock that was ahead when it was made) is never removed by
  retention and does not move the reference time of ``keep_within``: a wrong clock must not
  make brs delete good backups. Such backups are reported so an operator can delete them by hand.

The time buckets are taken in UTC, so that every pod of a deployment decides alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["Decision", "Duration", "Policy", "Snapshot", "decide", "parse_duration"]


@dataclass(frozen=True)
class Snapshot:
    """What retention needs to know of one backup."""

    id: str
    created: datetime


@dataclass(frozen=True)
class Policy:
    """How many backups of each kind to keep (0: the rule is off)."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: Duration | None = None

    @property
    def empty(self) -> bool:
        return not any((self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly, self.within))


@dataclass
class Decision:
    """Kept and removed backups (newest first), each kept one with the rules that keep it."""

    keep: list[Snapshot] = field(default_factory=list)
    remove: list[Snapshot] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


_BUCKETS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


def decide(snapshots: Sequence[Snapshot], policy: Policy, now: datetime) -> Decision:
    """Apply ``policy`` to ``snapshots`` (any order); ``now`` only identifies future-dated ones."""
    ordered = sorted(snapshots, key=lambda s: (s.created, s.id), reverse=True)
    reasons: dict[str, list[str]] = {}

    def keep(snapshot: Snapshot, reason: str) -> None:
        reasons.setdefault(snapshot.id, []).append(reason)

    future = [s for s in ordered if s.created > now]
    for snapshot in future:
        keep(snapshot, "future-dated")
    dated = [s for s in ordered if s.created <= now]
    if dated:
        keep(dated[0], "newest")
    for snapshot in dated[: policy.last]:
        keep(snapshot, "last")
    for rule, bucket_of in _BUCKETS.items():
        count = getattr(policy, rule)
        seen: set[tuple[int, ...]] = set()
        for snapshot in dated:
            if len(seen) >= count:
                break
            bucket = bucket_of(snapshot.created)
            if bucket not in seen:
                seen.add(bucket)
                keep(snapshot, rule)
    if policy.within is not None and dated:
        cutoff = policy.within.before(dated[0].created)
        for snapshot in dated:
            if snapshot.created >= cutoff:
                keep(snapshot, "within")
    return Decision(
        keep=[s for s in ordered if s.id in reasons],
        remove=[s for s in ordered if s.id not in reasons],
        reasons=reasons,
    )


_DURATION = re.compile(r"(\d+)([ymdh])")


@dataclass(frozen=True)
class Duration:
    """restic's ``--keep-within`` duration: years, months, days and hours, counted on the calendar."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    def before(self, moment: datetime) -> datetime:
        """``moment`` minus this duration, as restic computes it (Go's ``AddDate``: a month back
        from 31 March is 3 March, since 31 February overflows)."""
        month_index = moment.year * 12 + moment.month - 1 - self.years * 12 - self.months
        year, month = divmod(month_index, 12)
        first = moment.replace(year=year, month=month + 1, day=1)
        return first + timedelta(days=moment.day - 1 - self.days, hours=-self.hours)

    def __str__(self) -> str:
        return (
            "".join(f"{n}{u}" for n, u in zip((self.years, self.months, self.days, self.hours), "ymdh", strict=True) if n) or "0h"
        )


def parse_duration(text: str) -> Duration:
    """restic's duration syntax: ``1y5m7d2h`` (y years, m months, d days, h hours).

    Hand-written: the syntax is tiny, and the libraries that parse durations (ISO 8601, Go
    style) spell it differently from restic, whose spelling operators already use.
    """
    compact = text.strip()
    parts = _DURATION.findall(compact)
    if not compact or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h or 1y6m (units y, m for months, d, h)")
    values = {unit: 0 for unit in "ymdh"}
    for number, unit in parts:
        values[unit] += int(number)
    return Duration(years=values["y"], months=values["m"], days=values["d"], hours=values["h"])
