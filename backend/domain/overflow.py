"""Overflow to spare numbers: allowed hours, concurrency limits and daily caps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from backend.domain.model import Call, CallState
from backend.domain.policy import RoutingPolicy


@dataclass(frozen=True, slots=True)
class Hours:
    """Open on `days` (0 = Monday) from `start` to `end`, local time; end ≤ start: past midnight."""

    days: frozenset[int]
    start: time
    end: time

    def open_at(self, local: datetime) -> bool:
        t = time(local.hour, local.minute, local.second, local.microsecond)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        # Across midnight: the evening belongs to its own day, the small hours to the day before.
        if t >= self.start:
            return local.weekday() in self.days
        yesterday = (local - timedelta(days=1)).weekday()
        return t < self.end and yesterday in self.days


@dataclass(frozen=True, slots=True)
class Spare:
    number: str
    name: str
    max_concurrent: int
    daily_cap: int
    hours: tuple[Hours, ...]
    tz: tzinfo
    enabled: bool = True

    def local_day(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    def open_at(self, now: datetime) -> bool:
        if not self.hours:
            return True
        local = now.astimezone(self.tz)
        return any(h.open_at(local) for h in self.hours)


@dataclass(frozen=True, slots=True)
class SpareUsage:
    """The shared counters of one spare number (kept exact with atomic updates)."""

    number: str
    active: int = 0
    day: str = ""
    used: int = 0

    def used_on(self, day: str) -> int:
        # The daily cap resets at midnight in the spare's own time zone.
        return self.used if self.day == day else 0


def available(spare: Spare, usage: SpareUsage, now: datetime) -> bool:
    return (
        spare.enabled
        and spare.open_at(now)
        and usage.active < spare.max_concurrent
        and usage.used_on(spare.local_day(now)) < spare.daily_cap
    )


def choose_spare(
    spares: Iterable[Spare],
    usage: Mapping[str, SpareUsage],
    now: datetime,
    exclude: Iterable[str] = (),
) -> Spare | None:
    """The least used spare that is open, under its limit and under its cap; None: keep waiting."""
    skip = set(exclude)
    fitting = [
        s
        for s in spares
        if s.number not in skip and available(s, usage.get(s.number, SpareUsage(s.number)), now)
    ]
    if not fitting:
        return None

    def load(s: Spare) -> tuple[int, int, str]:
        u = usage.get(s.number, SpareUsage(s.number))
        return (u.used_on(s.local_day(now)), u.active, s.number)

    return min(fitting, key=load)


# -- a freed line: who is first in line for it ------------------------------------------


def waits_for_a_line(call: Call, number: str, now: datetime, policy: RoutingPolicy) -> bool:
    """The call may take a line of `number` now: it waits, its group's threshold has passed,
    and it has not already tried this number in its current round.

    A retry pause (`next_overflow_at`, set after a round found no spare) does not hold the
    call back: it only spares the counters a pointless round, and a line that comes free
    belongs to the calls that waited for one, like a freed operator.
    """
    if call.state is not CallState.QUEUED or policy.overflow_after_s is None:
        return False
    if number in call.spares_tried:
        return False
    return call.enqueued_at + timedelta(seconds=policy.overflow_after_s) <= now


def first_in_line(
    queued: Iterable[Call],
    number: str,
    now: datetime,
    policy_of: Callable[[str], RoutingPolicy],
    skip: Iterable[str] = (),
) -> Call | None:
    """Of these waiting calls (in queue order: highest priority, then longest wait), the first
    that may take a line of `number` now; None: nobody waits for one."""
    passed = set(skip)
    for call in queued:
        if call.call_id in passed:
            continue
        if waits_for_a_line(call, number, now, policy_of(call.group)):
            return call
    return None
