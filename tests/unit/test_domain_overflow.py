"""Spare numbers: hours across midnight and time zones, limits, caps resetting at local midnight."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.domain.model import Call, CallState, Media
from backend.domain.overflow import (
    Hours,
    Spare,
    SpareUsage,
    available,
    choose_spare,
    first_in_line,
    waits_for_a_line,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.view import ReadView
from backend.settings import parse_hours

BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def spare(
    number: str = "+1",
    *,
    hours: tuple[str, ...] = (),
    tz: ZoneInfo = BERLIN,
    max_concurrent: int = 1,
    cap: int = 3,
    enabled: bool = True,
) -> Spare:
    return Spare(
        number, number, max_concurrent, cap, tuple(parse_hours(h) for h in hours), tz, enabled
    )


def test_parse_hours_reads_day_ranges_and_times() -> None:
    h = parse_hours("mon-fri 09:00-18:00")
    assert h == Hours(frozenset({0, 1, 2, 3, 4}), time(9), time(18))
    assert parse_hours("sat,sun 10:00-14:30").days == frozenset({5, 6})
    assert parse_hours("fri-mon 22:00-06:00").days == frozenset({4, 5, 6, 0})
    assert parse_hours("tue 08:00-24:00").end == time(0)
    for bad in ("weekdays 9-5", "mon 25:00-26:00", "mon 09:00", "xyz 09:00-10:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)


def test_open_hours_in_the_spares_own_time_zone() -> None:
    s = spare(hours=("mon-fri 09:00-18:00",))
    # 2026-11-23 is a Monday; Berlin is UTC+1 in November.
    assert not s.open_at(utc(2026, 11, 23, 7, 59))  # 08:59 Berlin
    assert s.open_at(utc(2026, 11, 23, 8, 0))  # 09:00 Berlin
    assert not s.open_at(utc(2026, 11, 23, 17, 0))  # 18:00 Berlin: closed at the end
    assert not s.open_at(utc(2026, 11, 21, 12, 0))  # Saturday
    tokyo = spare(hours=("mon 09:00-10:00",), tz=TOKYO)
    # 00:30 UTC Monday is 09:30 in Tokyo (UTC+9).
    assert tokyo.open_at(utc(2026, 11, 23, 0, 30))


def test_hours_across_midnight_belong_to_the_evening_they_start() -> None:
    s = spare(hours=("fri 22:00-06:00",), tz=ZoneInfo("UTC"))
    assert s.open_at(utc(2026, 11, 27, 23, 0))  # Friday 23:00
    assert s.open_at(utc(2026, 11, 28, 5, 59))  # Saturday 05:59: still Friday's night
    assert not s.open_at(utc(2026, 11, 28, 6, 0))
    assert not s.open_at(utc(2026, 11, 28, 23, 0))  # Saturday evening is not Friday's
    assert not s.open_at(utc(2026, 11, 27, 5, 0))  # Friday morning is Thursday's night


def test_no_hours_means_always_open_and_disabled_means_never() -> None:
    assert spare().open_at(utc(2026, 1, 1, 3, 0))
    assert not available(spare(enabled=False), SpareUsage("+1"), utc(2026, 1, 1))


def test_concurrency_and_daily_cap() -> None:
    now = utc(2026, 11, 23, 12, 0)
    s = spare(max_concurrent=2, cap=3)
    day = s.local_day(now)
    assert available(s, SpareUsage("+1", active=1, day=day, used=1), now)
    assert not available(s, SpareUsage("+1", active=2, day=day, used=2), now)
    assert not available(s, SpareUsage("+1", active=0, day=day, used=3), now)


def test_the_cap_resets_at_midnight_in_the_spares_time_zone() -> None:
    s = spare(cap=1, tz=TOKYO)
    before = utc(2026, 11, 23, 14, 59)  # 23:59 in Tokyo
    after = before + timedelta(minutes=1)  # 00:00 the next day in Tokyo, still the 23rd in UTC
    used = SpareUsage("+1", active=0, day=s.local_day(before), used=1)
    assert not available(s, used, before)
    assert s.local_day(after) != s.local_day(before)
    assert available(s, used, after)


def test_choose_spare_least_used_first_and_skips_the_tried() -> None:
    now = utc(2026, 11, 23, 12, 0)
    a, b, c = spare("+1"), spare("+2"), spare("+3", enabled=False)
    day = a.local_day(now)
    usage = {"+1": SpareUsage("+1", 0, day, 2), "+2": SpareUsage("+2", 0, day, 1)}
    assert choose_spare([a, b, c], usage, now) == b
    assert choose_spare([a, b, c], usage, now, exclude={"+2"}) == a
    assert choose_spare([a, b, c], usage, now, exclude={"+1", "+2"}) is None
    # Same use: the lower number, so the choice is stable across processes.
    assert choose_spare([b, a], {}, now) == a


# -- a freed line goes to the first call in line for it ---------------------------------

T0 = utc(2026, 11, 23, 12)
OVERFLOWING = RoutingPolicy(overflow_after_s=60, overflow_retry_s=30)
NO_SPARES = RoutingPolicy(overflow_after_s=None)


def waiting_call(call_id: str, waited_s: int, *, group: str = "g", priority: int = 0) -> Call:
    at = T0 - timedelta(seconds=waited_s)
    return Call(call_id, group, priority, Media.VOICE, CallState.QUEUED, at, at)


def policy_of(group: str) -> RoutingPolicy:
    return NO_SPARES if group == "plain" else OVERFLOWING


def test_a_call_waits_for_a_line_once_past_its_threshold_whatever_its_retry_pause() -> None:
    call = waiting_call("c", 61)
    assert waits_for_a_line(call, "+1", T0, OVERFLOWING)
    # A round that found no spare set a retry pause: a line coming free does not wait for it.
    paused = replace(call, next_overflow_at=T0 + timedelta(seconds=29))
    assert waits_for_a_line(paused, "+1", T0, OVERFLOWING)
    assert not waits_for_a_line(waiting_call("young", 59), "+1", T0, OVERFLOWING)
    assert not waits_for_a_line(replace(call, spares_tried=("+1",)), "+1", T0, OVERFLOWING)
    assert waits_for_a_line(replace(call, spares_tried=("+2",)), "+1", T0, OVERFLOWING)
    assert not waits_for_a_line(replace(call, state=CallState.OFFERING), "+1", T0, OVERFLOWING)
    assert not waits_for_a_line(call, "+1", T0, NO_SPARES)


def test_the_first_in_line_is_the_head_of_the_queue_among_calls_past_their_threshold() -> None:
    view = ReadView(lambda g: OVERFLOWING.strategy)
    calls = [
        waiting_call("old", 300),
        waiting_call("older-plain", 400, group="plain"),  # its group has no spares
        waiting_call("urgent", 90, group="vip", priority=5),
        waiting_call("urgent-young", 10, group="vip", priority=9),  # not yet past 60 s
        waiting_call("oldest", 500),
    ]
    for c in calls:
        view.put_call(c)
    queued = view.queued(["g", "vip", "plain"], 50)
    # Highest priority first (as the queue orders them), then the longest wait.
    head = first_in_line(queued, "+1", T0, policy_of)
    assert head is not None and head.call_id == "urgent"
    nxt = first_in_line(queued, "+1", T0, policy_of, skip={"urgent"})
    assert nxt is not None and nxt.call_id == "oldest"
    early = T0 - timedelta(seconds=450)  # nobody had waited 60 s yet
    assert first_in_line(view.queued(["g"], 50), "+1", early, policy_of) is None
