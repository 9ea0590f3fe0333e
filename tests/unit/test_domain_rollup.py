"""Report buckets: bounds in the center's time zone, splitting intervals, figures, Erlang C."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.domain import erlang, rollup

PARIS = ZoneInfo("Europe/Paris")
KOLKATA = ZoneInfo("Asia/Kolkata")


def test_buckets_start_at_the_centers_wall_clock() -> None:
    t = datetime(2026, 3, 2, 10, 7, 30, tzinfo=UTC)  # 15:37:30 in Kolkata (+05:30)
    assert rollup.bucket_start(t, "15min", KOLKATA) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert rollup.bucket_start(t, "hour", KOLKATA) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert rollup.bucket_start(t, "day", KOLKATA) == datetime(2026, 3, 1, 18, 30, tzinfo=UTC)


def test_a_day_across_daylight_saving_has_23_hours() -> None:
    start = rollup.bucket_start(datetime(2026, 3, 29, 12, tzinfo=UTC), "day", PARIS)
    end = rollup.bucket_end(start, "day", PARIS)
    assert end - start == timedelta(hours=23)
    hours = rollup.buckets(start, end, "hour", PARIS)
    assert len(hours) == 23


def test_an_interval_is_split_over_the_buckets_it_meets() -> None:
    start = datetime(2026, 1, 5, 8, 50, tzinfo=UTC)
    parts = rollup.split(start, start + timedelta(minutes=40), "15min", ZoneInfo("UTC"))
    assert [(b.minute, s) for b, s in parts] == [(45, 600.0), (0, 900.0), (15, 900.0)]
    assert rollup.split(start, start, "hour", ZoneInfo("UTC")) == []


def test_intervals_and_calls_add_to_every_resolution() -> None:
    incs: rollup.Increments = {}
    utc = ZoneInfo("UTC")
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rollup.add_interval(
        incs, "ann", ("sales",), "activity", "video_reserved", t, t + timedelta(minutes=20), utc
    )
    call = rollup.EndedCall(
        group="sales",
        created_at=t,
        enqueued_at=t,
        connected_at=t + timedelta(seconds=30),
        ended_at=t + timedelta(seconds=130),
        outcome="answered",
        operator="ann",
    )
    rollup.add_call(incs, call, utc, service_level_s=20, short_abandon_s=5)
    day = incs[(rollup.GROUP, "day", "sales", datetime(2026, 1, 5, tzinfo=UTC))]
    assert day["activity.video_reserved"] == 1200.0
    assert (day["calls"], day["answered"], day["answered_in_sl"]) == (1.0, 1.0, 0.0)
    assert day["talk_s"] == 100.0
    quarter = incs[(rollup.OPERATOR, "15min", "ann", datetime(2026, 1, 5, 9, 15, tzinfo=UTC))]
    assert quarter == {"activity.video_reserved": 300.0}
    assert incs[(rollup.OPERATOR, "hour", "ann", t)]["answered"] == 1.0


def test_figures_leave_short_abandons_out_of_service_level() -> None:
    c = {
        "calls": 10.0,
        "answered": 6.0,
        "answered_in_sl": 3.0,
        "abandoned": 4.0,
        "abandoned_short": 2.0,
        "wait_s": 60.0,
        "talk_s": 500.0,
        "hold_s": 40.0,
        "activity.wrap_up": 60.0,
        "activity.in_call": 500.0,
        "presence.ready": 1200.0,
        "outcome.answered": 6.0,
        "outcome.abandoned": 4.0,
        "outcome.voicemail": 0.0,
    }
    f = rollup.figures(c)
    assert f["service_level"] == round(3 / 8, 3)
    assert f["asa_s"] == 10.0
    assert f["aht_s"] == 100.0
    assert f["abandon_rate"] == 0.4
    assert f["occupancy"] == 0.467
    assert f["outcomes"] == {"abandoned": 4, "answered": 6, "voicemail": 0}
    empty = rollup.figures({})
    assert (empty["service_level"], empty["asa_s"], empty["occupancy"]) == (None, None, None)


def test_stored_counters_flatten_back_to_their_names() -> None:
    stored = {"calls": 2, "outcome": {"answered": 1, "callback": 1}, "presence": {"ready": 9.5}}
    assert rollup.flatten(stored) == {
        "calls": 2.0,
        "outcome.answered": 1.0,
        "outcome.callback": 1.0,
        "presence.ready": 9.5,
    }


def test_agents_needed_meets_the_target_and_one_fewer_does_not() -> None:
    rate, aht = 360 / 1800, 240.0  # the architecture's reference case: 48 erlangs
    n = erlang.agents_needed(rate, aht, 0.8, 15)
    assert erlang.ErlangC(rate, aht, n).service_level(15) >= 0.8
    assert erlang.ErlangC(rate, aht, n - 1).service_level(15) < 0.8
    assert 48 < n <= 55  # 55 operators give 84.6 % within 15 s
    assert erlang.agents_needed(0.0, aht, 0.8, 15) == 0


def _call(**changes: object) -> rollup.EndedCall:
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "group": "sales",
        "created_at": t,
        "enqueued_at": t + timedelta(seconds=2),
        "ended_at": t + timedelta(seconds=200),
        "outcome": "answered",
    }
    fields.update(changes)
    return rollup.EndedCall(**fields)  # type: ignore[arg-type]


def test_call_counters_of_each_kind_of_call() -> None:
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    answered = _call(
        operator="ann",
        connected_at=t + timedelta(seconds=22),
        hold_s=12.5,
        transfers=1,
        help_requests=2,
    )
    assert rollup.call_counters(answered, 20, 5) == {
        "calls": 1.0,
        "outcome.answered": 1.0,
        "answered": 1.0,
        "wait_s": 20.0,
        "answered_in_sl": 1.0,  # exactly at the threshold counts
        "talk_s": 178.0,
        "hold_s": 12.5,
        "transfers": 1.0,
        "help_requests": 2.0,
    }
    late = rollup.call_counters(answered, 19.5, 5)
    assert late["answered_in_sl"] == 0.0
    # Connected but nobody named (never happens; counted as not answered).
    assert "answered" not in rollup.call_counters(_call(connected_at=t), 20, 5)
    short = _call(outcome="abandoned", ended_at=t + timedelta(seconds=7))
    assert rollup.call_counters(short, 20, 5) == {
        "calls": 1.0,
        "outcome.abandoned": 1.0,
        "abandoned": 1.0,
        "abandoned_short": 1.0,  # waited exactly 5 s
    }
    long = _call(outcome="abandoned", ended_at=t + timedelta(seconds=7.5))
    assert rollup.call_counters(long, 20, 5)["abandoned_short"] == 0.0
    before = _call(outcome="abandoned", ended_at=t)  # ended before it was queued
    assert rollup.call_counters(before, 20, 0)["abandoned_short"] == 1.0
    assert rollup.call_counters(_call(outcome="overflowed"), 20, 5) == {
        "calls": 1.0,
        "outcome.overflowed": 1.0,
        "overflowed": 1.0,
    }
    assert rollup.call_counters(_call(outcome="voicemail"), 20, 5) == {
        "calls": 1.0,
        "outcome.voicemail": 1.0,
    }


def test_a_call_counts_for_its_group_and_operator_in_its_arrival_bucket() -> None:
    t = datetime(2026, 1, 5, 9, 14, 59, tzinfo=UTC)
    call = _call(
        created_at=t,
        enqueued_at=t,
        operator="ann",
        connected_at=t + timedelta(seconds=5),
        ended_at=t + timedelta(seconds=65),
    )
    incs: rollup.Increments = {}
    rollup.add_call(incs, call, ZoneInfo("UTC"), 20, 5)
    b = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert incs[(rollup.OPERATOR, "15min", "ann", b)] == {
        "answered": 1.0,
        "wait_s": 5.0,
        "talk_s": 60.0,
        "hold_s": 0.0,
    }
    assert incs[(rollup.GROUP, "15min", "sales", b)]["calls"] == 1.0
    assert sorted(k[1] for k in incs if k[0] == rollup.GROUP) == ["15min", "day", "hour"]
    rollup.add_call(incs, _call(created_at=t, outcome="abandoned"), ZoneInfo("UTC"), 20, 5)
    assert incs[(rollup.GROUP, "day", "sales", datetime(2026, 1, 5, tzinfo=UTC))]["calls"] == 2.0
    assert len([k for k in incs if k[0] == rollup.OPERATOR]) == 3  # nobody to count it for


def test_every_figure_from_counters() -> None:
    c = {
        "calls": 4.0,
        "answered": 2.0,
        "answered_in_sl": 1.0,
        "abandoned": 1.0,
        "abandoned_short": 0.0,
        "overflowed": 1.0,
        "transfers": 3.0,
        "help_requests": 2.0,
        "wait_s": 31.0,
        "talk_s": 100.04,
        "hold_s": 10.06,
        "activity.wrap_up": 20.03,
        "activity.offered": 5.0,
        "activity.in_call": 100.0,
        "activity.video_reserved": 1.23456,
        "presence.ready": 100.0,
        "outcome.answered": 2.0,
        "outcome.abandoned": 1.0,
        "outcome.overflowed": 1.0,
    }
    assert rollup.figures(c) == {
        "calls": 4,
        "answered": 2,
        "abandoned": 1,
        "abandoned_short": 0,
        "overflowed": 1,
        "transfers": 3,
        "help_requests": 2,
        "service_level": 0.333,
        "asa_s": 15.5,
        "aht_s": 65.1,
        "abandon_rate": 0.25,
        "occupancy": 1.0,  # more handling than Ready time: capped
        "talk_s": 100.0,
        "hold_s": 10.1,
        "wrap_up_s": 20.0,
        "outcomes": {"abandoned": 1, "answered": 2, "overflowed": 1},
        "presence": {"ready": 100.0},
        "activity": {"in_call": 100.0, "offered": 5.0, "video_reserved": 1.235, "wrap_up": 20.03},
    }
    assert rollup.figures({"calls": 3.0, "presence.ready": 10.0})["occupancy"] == 0.0
    assert rollup.figures({"activity.in_call": 1.0, "presence.ready": 3.0})["occupancy"] == 0.333
    assert rollup.figures({"calls": 3.0})["abandon_rate"] == 0.0


def test_bucket_documents_nest_their_counters() -> None:
    key = (rollup.GROUP, "hour", "sales", datetime(2026, 1, 5, 9, tzinfo=UTC))
    counters = {"calls": 2.0, "outcome.answered": 1.0, "outcome.abandoned": 1.0}
    assert rollup.bucket_id(key) == "group|hour|sales|2026-01-05T09:00:00+00:00"
    assert rollup.bucket_doc(key, counters) == {
        "_id": "group|hour|sales|2026-01-05T09:00:00+00:00",
        "kind": "group",
        "res": "hour",
        "key": "sales",
        "start": datetime(2026, 1, 5, 9, tzinfo=UTC),
        "c": {"calls": 2.0, "outcome": {"answered": 1.0, "abandoned": 1.0}},
    }
    assert rollup.flatten(rollup.nest(counters)) == counters
    assert rollup.flatten({"note": "text", "n": 1}) == {"n": 1.0}
    merged = rollup.merge({"calls": 1.0}, {"calls": 2.0, "answered": 1.0})
    assert merged == {"calls": 3.0, "answered": 1.0}


def test_bucket_bounds_of_each_resolution() -> None:
    utc = ZoneInfo("UTC")
    t = datetime(2026, 1, 5, 9, 44, 59, 999, tzinfo=UTC)
    assert rollup.bucket_start(t, "15min", utc) == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    start = rollup.bucket_start(t, "hour", utc)
    assert rollup.bucket_end(start, "hour", utc) == datetime(2026, 1, 5, 10, tzinfo=UTC)
    quarter = rollup.bucket_start(t, "15min", utc)
    assert rollup.bucket_end(quarter, "15min", utc) == datetime(2026, 1, 5, 9, 45, tzinfo=UTC)
    day = rollup.bucket_start(t, "day", KOLKATA)
    assert rollup.bucket_end(day, "day", KOLKATA) == day + timedelta(days=1)
    assert rollup.bucket_end(day, "day", KOLKATA).tzinfo == UTC
    try:
        rollup.bucket_start(t, "week", utc)
    except ValueError as e:
        assert "week" in str(e)
    else:
        raise AssertionError("an unknown resolution must be refused")
    assert rollup.buckets(t, t, "hour", utc) == []
    hours = rollup.buckets(t, t + timedelta(minutes=16), "hour", utc)
    assert hours == [datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 10, tzinfo=UTC)]
    incs: rollup.Increments = {}
    rollup.add_interval(incs, "ann", ("a", "b"), "presence", "ready", t, t, utc)
    assert incs == {}
    end = t + timedelta(minutes=1)
    rollup.add_interval(incs, "ann", ("a", "b"), "presence", "ready", t, end, utc)
    # 2 quarters, 1 hour, 1 day for ann, each group and the center
    assert len(incs) == 4 * (2 + 1 + 1)
    assert incs[(rollup.GROUP, "day", "b", datetime(2026, 1, 5, tzinfo=UTC))] == {
        "presence.ready": 60.0
    }


def test_agents_needed_edges() -> None:
    assert erlang.agents_needed(0.2, 240, 0.8, 15) == 55
    assert erlang.agents_needed(0.2, 240, 0.9, 20) == 56
    assert erlang.agents_needed(1 / 3600, 180, 0.8, 20) == 1
    assert erlang.agents_needed(0.2, 0.0, 0.8, 15) == 0
    assert erlang.agents_needed(0.2, 240, 0.8, 15, limit=50) == 50
    assert erlang.agents_needed(0.2, 240, 0.99999, 15, limit=60) == 60


def test_the_center_counts_each_operators_time_once_and_every_call() -> None:
    incs: rollup.Increments = {}
    utc = ZoneInfo("UTC")
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rollup.add_interval(
        incs, "ann", ("a", "b"), "presence", "ready", t, t + timedelta(hours=2), utc
    )
    rollup.add_interval(incs, "bob", (), "presence", "ready", t, t + timedelta(minutes=30), utc)
    day = datetime(2026, 1, 5, tzinfo=UTC)
    assert incs[(rollup.CENTER, "day", rollup.CENTER_KEY, day)] == {"presence.ready": 9000.0}
    assert incs[(rollup.CENTER, "hour", rollup.CENTER_KEY, t)] == {"presence.ready": 5400.0}
    assert incs[(rollup.GROUP, "hour", "a", t)] == {"presence.ready": 3600.0}
    call = _call(
        created_at=t, enqueued_at=t, outcome="abandoned", ended_at=t + timedelta(seconds=9)
    )
    rollup.add_call(incs, call, utc, 20, 5)
    quarter = incs[(rollup.CENTER, "15min", rollup.CENTER_KEY, t)]
    assert quarter == {
        "presence.ready": 1800.0,
        **rollup.call_counters(call, 20, 5),
    }
    assert incs[(rollup.CENTER, "day", rollup.CENTER_KEY, day)]["abandoned"] == 1.0


def test_cover_reads_whole_days_as_day_buckets() -> None:
    utc = ZoneInfo("UTC")
    d = datetime(2026, 1, 5, tzinfo=UTC)
    h = timedelta(hours=1)
    day = timedelta(days=1)
    # Whole days only.
    assert rollup.cover(d, d + 3 * day, "hour", utc) == [("day", d, d + 3 * day)]
    # Partial days at both ends, at the resolution asked for.
    assert rollup.cover(d + 10 * h, d + 2 * day + 5 * h, "15min", utc) == [
        ("15min", d + 10 * h, d + day),
        ("day", d + day, d + 2 * day),
        ("15min", d + 2 * day, d + 2 * day + 5 * h),
    ]
    assert rollup.cover(d + 10 * h, d + 2 * day, "hour", utc) == [
        ("hour", d + 10 * h, d + day),
        ("day", d + day, d + 2 * day),
    ]
    assert rollup.cover(d, d + day + h, "hour", utc) == [
        ("day", d, d + day),
        ("hour", d + day, d + day + h),
    ]
    # No whole day inside: nothing to gain.
    assert rollup.cover(d + 10 * h, d + day + 5 * h, "hour", utc) == [
        ("hour", d + 10 * h, d + day + 5 * h)
    ]
    assert rollup.cover(d + 10 * h, d + 11 * h, "hour", utc) == [("hour", d + 10 * h, d + 11 * h)]
    assert rollup.cover(d, d + day, "hour", utc) == [("day", d, d + day)]
    # By day there is nothing finer to replace.
    assert rollup.cover(d + 10 * h, d + 3 * day, "day", utc) == [("day", d + 10 * h, d + 3 * day)]
    # Days start at the center's midnight (Kolkata: 18:30 UTC the day before).
    k = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)
    assert rollup.cover(d, d + day, "hour", KOLKATA) == [("hour", d, d + day)]
    assert rollup.cover(d, d + 2 * day, "hour", KOLKATA) == [
        ("hour", d, k),
        ("day", k, k + day),
        ("hour", k + day, d + 2 * day),
    ]


def test_buckets_of_calls_and_intervals_follow_the_centers_zone() -> None:
    # 20:10 UTC is 01:40 the next day in Kolkata: the day, hour and quarter there.
    t = datetime(2026, 1, 5, 20, 10, tzinfo=UTC)
    incs: rollup.Increments = {}
    rollup.add_interval(
        incs, "ann", ("a",), "presence", "ready", t, t + timedelta(minutes=5), KOLKATA
    )
    call = _call(
        created_at=t, enqueued_at=t, ended_at=t + timedelta(seconds=9), outcome="abandoned"
    )
    rollup.add_call(incs, call, KOLKATA, 20, 5)
    day = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)
    hour = datetime(2026, 1, 5, 19, 30, tzinfo=UTC)
    quarter = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    for kind, key in ((rollup.OPERATOR, "ann"), (rollup.GROUP, "a"), (rollup.CENTER, "all")):
        for res, b in (("day", day), ("hour", hour), ("15min", quarter)):
            assert incs[(kind, res, key, b)]["presence.ready"] == 300.0
    for res, b in (("day", day), ("hour", hour), ("15min", quarter)):
        assert incs[(rollup.GROUP, res, "sales", b)]["calls"] == 1.0
        assert incs[(rollup.CENTER, res, "all", b)]["abandoned"] == 1.0


def test_a_call_without_operator_counts_for_nobody() -> None:
    incs: rollup.Increments = {}
    call = _call(outcome="abandoned", transfers=1, help_requests=1)
    rollup.add_call(incs, call, ZoneInfo("UTC"), 20, 5)
    assert not [k for k in incs if k[0] == rollup.OPERATOR]
    assert len(incs) == 2 * 3  # the group and the center, at each resolution


def test_figures_round_as_documented() -> None:
    c = {
        "calls": 3.0,
        "answered": 3.0,
        "talk_s": 100.04,
        "hold_s": 0.06,
        "activity.wrap_up": 12.3456,
        "activity.in_call": 7.00049,
        "presence.ready": 1000.12345,
        "outcome.answered": 3.0,
    }
    f = rollup.figures(c)
    assert f["wrap_up_s"] == 12.3
    assert f["talk_s"] == 100.0 and f["hold_s"] == 0.1
    assert f["presence"] == {"ready": 1000.123}
    assert f["activity"] == {"in_call": 7.0, "wrap_up": 12.346}
    assert f["outcomes"] == {"answered": 3}
    assert rollup.figures({})["calls"] == 0 and rollup.figures({})["abandon_rate"] is None
    # Names with no prefix and unknown prefixes stay out of the named maps.
    assert rollup.figures({"ready": 5.0, "other.x": 1.0})["presence"] == {}
