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
