"""A report reads few buckets (a day bucket per whole day for the operators, the center's own
buckets for the intervals' time) and still gives exactly what summing every bucket of the
report's resolution gives: each range below is computed both ways and compared field by field.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain import rollup
from backend.domain.actions import StatusInterval
from backend.keys import FEED
from backend.services import report_summary as reports
from backend.services.rollup import open_intervals
from tests.conftest import Backend
from tests.support.commands import CAPTURE

PARIS = ZoneInfo("Europe/Paris")
CONFIG = """
[center]
timezone = "Europe/Paris"

[[groups]]
name = "default"

[[groups]]
name = "sales"

[[groups]]
name = "support"
"""
# Around the spring change of clocks in Paris (29 March 2026: a day of 23 hours).
HISTORY_START = datetime(2026, 3, 27, 5, 3, 17, 250000, tzinfo=UTC)
HISTORY_END = datetime(2026, 3, 31, 19, tzinfo=UTC)
OUTCOMES = ("answered", "answered", "abandoned", "overflowed", "voicemail")


def _history(rnd: random.Random) -> tuple[list[StatusInterval], list[dict[str, Any]]]:
    """Back-to-back stretches of odd lengths for four operators (ann in two groups, ghost in
    none the view knows), and calls in every group, one no longer configured."""
    rows: list[StatusInterval] = []
    for login in ("ann", "bob", "cid", "ghost"):
        for field, values in (
            ("presence", ("ready", "not_ready", "offline")),
            ("activity", ("idle", "offered", "in_call", "wrap_up", "video_reserved")),
        ):
            t = HISTORY_START + timedelta(seconds=rnd.uniform(0, 3600))
            while t < HISTORY_END:
                nxt = t + timedelta(seconds=rnd.uniform(60, 5 * 3600))
                rows.append(StatusInterval(login, field, rnd.choice(values), None, t, nxt))
                t = nxt
    calls: list[dict[str, Any]] = []
    span = (HISTORY_END - HISTORY_START).total_seconds()
    for n in range(300):
        created = HISTORY_START + timedelta(seconds=rnd.uniform(0, span))
        outcome = rnd.choice(OUTCOMES)
        doc: dict[str, Any] = {
            "_id": f"c{n}",
            "state": "ended",
            "group": rnd.choice(("default", "sales", "support", "gone")),
            "created_at": created,
            "enqueued_at": created,
            "outcome": outcome,
            "ended_at": created + timedelta(seconds=rnd.uniform(1, 600)),
            "transfers": rnd.choice((0, 0, 1)),
        }
        if outcome == "answered":
            doc["operator"] = rnd.choice(("ann", "bob", "cid"))
            doc["connected_at"] = created + timedelta(seconds=rnd.uniform(0, 40))
            doc["ended_at"] = doc["connected_at"] + timedelta(seconds=rnd.uniform(10, 900))
            doc["hold_s"] = rnd.choice((0.0, 12.5))
        calls.append(doc)
    return rows, calls


async def _every_bucket(b: Backend, rng: reports.Range, now: datetime) -> dict[str, Any]:
    """The reference: every bucket of the report's resolution, the operators' for the time of
    each interval (how reports were read before the center's buckets and `cover`)."""
    settings, feed, rolls = b.engine.settings, b.app[FEED], b.engine.rollup
    rng = reports.check_range(settings, rng)
    groups = [rng.group] if rng.group else list(settings.group_names)
    members = None
    if rng.group:
        members = sorted(
            login
            for login, doc in feed.operator_docs.items()
            if rng.group in (doc.get("group_names") or ())
        )
    sums = reports.Sums.empty(groups, rollup.buckets(rng.start, rng.end, rng.by, rolls.tz))
    keys = groups if rng.group else None
    for d in await b.store.report_counters(rollup.GROUP, rng.by, rng.start, rng.end, keys):
        sums.add_group(d["key"], d["start"], rollup.flatten(d["c"]))
    for d in await b.store.report_counters(rollup.OPERATOR, rng.by, rng.start, rng.end, members):
        sums.add_operator(d["key"], rollup.flatten(d["c"]))
        if rng.group is None:
            sums.add_time(d["start"], rollup.flatten(d["c"]))
    if rng.start <= now:
        live: rollup.Increments = {}
        open_intervals(live, feed, rolls, min(now, rng.end))
        for (kind, res, key, start), c in live.items():
            if res != rng.by or not rng.start <= start < rng.end:
                continue
            if kind == rollup.GROUP and key in groups:
                sums.add_group(key, start, c)
            if kind == rollup.OPERATOR and (members is None or key in members):
                sums.add_operator(key, c)
                if rng.group is None:
                    sums.add_time(start, c)
    return reports.present(settings, feed, rolls.tz, rng, groups, members, sums)


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


async def test_a_report_reads_few_buckets_and_sums_the_same(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    await b.add_operator("ann", [("default", 1), ("sales", 1)])
    await b.add_operator("bob", [("sales", 1)])
    await b.add_operator("cid", [("support", 1)])
    auth = await b.login("ann")
    await b.set_status(auth, "ready")  # an open stretch: today's reports count it
    rows, calls = _history(random.Random(5))
    b.engine.history.add(rows)
    for doc in calls:
        b.engine.history.call_ended(doc)
    await b.engine.drain()

    now = b.engine.clock()
    today = rollup.bucket_start(now, "day", PARIS)
    ranges = [
        # Whole days (the operators read day buckets), across the 23-hour day.
        (_local("2026-03-28T00:00"), _local("2026-03-31T00:00"), "hour", None),
        (_local("2026-03-28T00:00"), _local("2026-03-31T00:00"), "hour", "sales"),
        # Partial days at both ends (hours or quarters there, days between).
        (_local("2026-03-27T10:20"), _local("2026-03-31T15:05"), "15min", None),
        (_local("2026-03-27T10:00"), _local("2026-03-31T15:00"), "hour", "default"),
        # No whole day inside, and the night of the change of clocks.
        (_local("2026-03-28T22:00"), _local("2026-03-29T04:30"), "15min", None),
        (_local("2026-03-26T00:00"), _local("2026-04-01T00:00"), "day", None),
        (_local("2026-03-26T00:00"), _local("2026-04-01T00:00"), "day", "support"),
        # Today: the open stretches come from the view.
        (today, rollup.bucket_end(today, "day", PARIS), "hour", None),
        (today - timedelta(days=2), now + timedelta(hours=1), "hour", "sales"),
    ]
    # History from before the center's buckets (the fall-back to the operators' buckets), from
    # part way through, and from after them.
    center_since = [b.store.center_since, _local("2026-03-29T13:17:05"), HISTORY_START]
    assert center_since[0] is not None and center_since[0] > HISTORY_END
    compared = 0
    for since in center_since:
        b.store.center_since = since
        for start, end, by, group in ranges:
            rng = reports.Range(start, end, by, group)
            fast = await reports.summary(
                b.store, b.app[FEED], b.engine.rollup, b.engine.settings, rng, now
            )
            reference = await _every_bucket(b, rng, now)
            for field in reference:
                assert fast[field] == reference[field], (since, start, end, by, group, field)
            assert fast == reference
            compared += 1
    assert compared == len(ranges) * len(center_since)
    # The history reaches every kind of figure the comparison covers.
    week = await _every_bucket(b, reports.Range(*ranges[0]), now)
    assert week["calls"] > 100 and week["answered"] and week["abandoned"] and week["transfers"]
    assert {"ann", "bob", "cid", "ghost"} <= {o["login"] for o in week["operators"]}
    assert week["presence"]["ready"] > 0 and week["activity"]["video_reserved"] > 0
    assert len(week["intervals"]) == 3 * 24 - 1

    # What the fast way reads for whole days by hour: the groups and the center by hour
    # (their series), the operators by day, no operator's hours.
    CAPTURE.watch(b.store.db.name)
    try:
        rng = reports.Range(*ranges[0])
        await reports.summary(b.store, b.app[FEED], b.engine.rollup, b.engine.settings, rng, now)
        captured = CAPTURE.filters()
    finally:
        CAPTURE.watch(None)
    read = sorted((f["kind"], f["res"]) for _, coll, f in captured if coll == "report_buckets")
    assert read == [("center", "hour"), ("group", "hour"), ("operator", "day")]
