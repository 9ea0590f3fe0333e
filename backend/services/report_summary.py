"""Reports over any range (GET /api/v1/reports/summary) and staffing advice, from the buckets.

A report reads the buckets of its range (see `gather`: the fewest that give the same sums), never
the raw status rows or calls; the stretches operators are in right now come from the read view.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.mongo import Store
from backend.domain import erlang, rollup
from backend.domain.model import Activity, Presence
from backend.services.rollup import Rollup, open_intervals
from backend.settings import Settings

# The most buckets one report may span, per resolution (a year of hours, ten of days).
MAX_BUCKETS = {"15min": 31 * 96, "hour": 366 * 24, "day": 3660}
TIME_COUNTERS = ("presence.", "activity.")


class ReportError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime
    end: datetime
    by: str
    group: str | None


def default_by(start: datetime, end: datetime) -> str:
    span = end - start
    return "15min" if span <= timedelta(hours=6) else "hour" if span <= timedelta(days=2) else "day"


def check_range(settings: Settings, rng: Range) -> Range:
    if rng.by not in rollup.RESOLUTIONS:
        raise ReportError("by", f"by: one of {', '.join(rollup.RESOLUTIONS)}")
    if rng.end <= rng.start:
        raise ReportError("to", "to: must be after from")
    if rng.group is not None and rng.group not in settings.group_names:
        raise ReportError("group", f"group: no group named {rng.group!r}")
    tz = rollup_tz(settings)
    start = rollup.bucket_start(rng.start, rng.by, tz)
    count = len(rollup.buckets(start, rng.end, rng.by, tz)) if rng.by == "day" else None
    span_s = (rng.end - start).total_seconds()
    step = {"15min": 900, "hour": 3600, "day": 86400}[rng.by]
    if (count if count is not None else span_s / step) > MAX_BUCKETS[rng.by]:
        raise ReportError("to", f"to: at most {MAX_BUCKETS[rng.by]} intervals of {rng.by}")
    return Range(start, rng.end, rng.by, rng.group)


def rollup_tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.config.center.timezone)


def _calls_only(c: rollup.Counters) -> rollup.Counters:
    return {k: v for k, v in c.items() if not k.startswith(TIME_COUNTERS)}


def _times_only(c: rollup.Counters) -> rollup.Counters:
    return {k: v for k, v in c.items() if k.startswith(TIME_COUNTERS)}


@dataclass(frozen=True, slots=True)
class Sums:
    """The counters a report is made of, summed from the buckets (and the open stretches)."""

    per_group: dict[str, rollup.Counters]
    # Per interval of the report, per group.
    series: dict[datetime, dict[str, rollup.Counters]]
    # Per interval, the center's time (each operator once; a report of all groups only).
    times: dict[datetime, rollup.Counters]
    per_op: dict[str, rollup.Counters]

    @classmethod
    def empty(cls, groups: list[str], starts: list[datetime]) -> Sums:
        return cls({g: {} for g in groups}, {b: {} for b in starts}, {b: {} for b in starts}, {})

    def add_group(self, key: str, b: datetime, c: rollup.Counters) -> None:
        rollup.merge(self.per_group.setdefault(key, {}), c)
        if b in self.series:
            rollup.merge(self.series[b].setdefault(key, {}), c)

    def add_time(self, b: datetime, c: rollup.Counters) -> None:
        if b in self.times:
            rollup.merge(self.times[b], _times_only(c))

    def add_operator(self, key: str, c: rollup.Counters) -> None:
        rollup.merge(self.per_op.setdefault(key, {}), c)


def _counters(doc: dict[str, Any]) -> rollup.Counters:
    return rollup.flatten(doc.get("c", {}))


async def gather(
    store: Store,
    feed: ChangeFeed,
    rolls: Rollup,
    rng: Range,
    groups: list[str],
    members: list[str] | None,
    now: datetime,
) -> Sums:
    """Read as few buckets as give the same sums: the groups' at the report's resolution, the
    center's for the intervals' time, and for the operators' totals a day bucket per whole day
    (`rollup.cover`). A week by hour of 100 operators reads about 1,400 documents, not 7,200."""
    tz = rolls.tz
    sums = Sums.empty(groups, rollup.buckets(rng.start, rng.end, rng.by, tz))
    for d in await store.report_counters(
        rollup.GROUP, rng.by, rng.start, rng.end, groups if rng.group else None
    ):
        sums.add_group(d["key"], d["start"], _counters(d))
    # Intervals before the center's buckets were first written take their time from the
    # operators' buckets, as reports did before there were any.
    split_at = rng.start
    if rng.group is None:
        since = store.center_since or rng.end
        split_at = min(max(rng.start, since), rng.end)
        for kind, lo, hi in (
            (rollup.OPERATOR, rng.start, split_at),
            (rollup.CENTER, split_at, rng.end),
        ):
            if lo < hi:
                for d in await store.report_counters(kind, rng.by, lo, hi):
                    sums.add_time(d["start"], _counters(d))
    parts = rollup.cover(rng.start, rng.end, rng.by, tz)
    for res, lo, hi in parts:
        for d in await store.report_counters(rollup.OPERATOR, res, lo, hi, members):
            sums.add_operator(d["key"], _counters(d))
    if rng.start <= now:
        live: rollup.Increments = {}
        open_intervals(live, feed, rolls, min(now, rng.end))
        for (kind, res, key, b), counters in live.items():
            in_range = res == rng.by and rng.start <= b < rng.end
            if kind == rollup.GROUP and in_range and key in groups:
                sums.add_group(key, b, counters)
            # The center's time: its own buckets, or the operators' before there were any.
            center = (kind == rollup.CENTER and b >= split_at) or (
                kind == rollup.OPERATOR and b < split_at
            )
            if rng.group is None and in_range and center:
                sums.add_time(b, counters)
            if (
                kind == rollup.OPERATOR
                and (members is None or key in members)
                and any(res == r and lo <= b < hi for r, lo, hi in parts)
            ):
                sums.add_operator(key, counters)
    return sums


async def summary(
    store: Store,
    feed: ChangeFeed,
    rolls: Rollup,
    settings: Settings,
    rng: Range,
    now: datetime,
) -> dict[str, Any]:
    rng = check_range(settings, rng)
    groups = [rng.group] if rng.group else list(settings.group_names)
    members: list[str] | None = None
    if rng.group:
        members = sorted(
            login
            for login, doc in feed.operator_docs.items()
            if rng.group in (doc.get("group_names") or ())
        )
    sums = await gather(store, feed, rolls, rng, groups, members, now)
    return present(settings, feed, rolls.tz, rng, groups, members, sums)


def present(
    settings: Settings,
    feed: ChangeFeed,
    tz: ZoneInfo,
    rng: Range,
    groups: list[str],
    members: list[str] | None,
    sums: Sums,
) -> dict[str, Any]:
    """The report from its sums: totals, per group, per interval, per operator."""

    def total_of(calls: list[rollup.Counters], times: rollup.Counters) -> rollup.Counters:
        # Calls summed over groups; time from the operators (each counted once, though
        # an operator in two groups has their time in both groups' figures).
        out: rollup.Counters = {}
        for c in calls:
            rollup.merge(out, _calls_only(c))
        if rng.group:
            for c in calls:
                rollup.merge(out, _times_only(c))
        else:
            rollup.merge(out, times)
        return out

    center_times: rollup.Counters = {}
    for c in sums.times.values():
        rollup.merge(center_times, c)
    total = total_of(list(sums.per_group.values()), center_times)

    def local(t: datetime) -> str:
        return t.astimezone(tz).isoformat()

    intervals = []
    for b, per in sums.series.items():
        end = rollup.bucket_end(b, rng.by, tz)
        row_total = total_of(list(per.values()), sums.times[b])
        intervals.append(
            {
                "start": local(b),
                "end": local(min(end, rng.end) if rng.by != "day" else end),
                **rollup.figures(row_total),
                "groups": {g: rollup.figures(per.get(g, {})) for g in groups},
            }
        )
    operators = []
    for login in sorted(set(sums.per_op) | set(members or ())):
        c = sums.per_op.get(login, {})
        doc = feed.operator_doc(login) or {}
        f = rollup.figures(c)
        operators.append(
            {
                "login": login,
                "name": doc.get("name", ""),
                "answered": f["answered"],
                "talk_s": f["talk_s"],
                "aht_s": f["aht_s"],
                "occupancy": f["occupancy"],
                "presence": _all_names("presence", f["presence"]),
                "activity": _all_names("activity", f["activity"]),
            }
        )
    return {
        "from": local(rng.start),
        "to": local(rng.end),
        "group": rng.group,
        "by": rng.by,
        "timezone": settings.config.center.timezone,
        "service_level_s": settings.config.supervision.service_level_s,
        "short_abandon_s": settings.config.supervision.short_abandon_s,
        **rollup.figures(total),
        "groups": [{"group": g, **rollup.figures(sums.per_group[g])} for g in groups],
        "intervals": intervals,
        "operators": operators,
    }


def _all_names(field: str, seen: dict[str, float]) -> dict[str, float]:
    """Every presence or activity the model knows, at 0 when unseen, and any other seen."""
    known = [p.value for p in Presence] if field == "presence" else [a.value for a in Activity]
    out = dict.fromkeys(known, 0.0)
    out.update(seen)
    return out


# -- CSV ---------------------------------------------------------------------------------

FIGURES = (
    "calls",
    "answered",
    "abandoned",
    "abandoned_short",
    "service_level",
    "asa_s",
    "aht_s",
    "abandon_rate",
    "occupancy",
    "transfers",
    "help_requests",
    "overflowed",
)
TABLES = ("groups", "intervals", "operators")


def _blank(v: Any) -> Any:
    return "" if v is None else v


def to_csv(report: dict[str, Any], table: str) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    outcomes = sorted({k for g in report["groups"] for k in g["outcomes"]})
    if table == "groups":
        w.writerow(["group", *FIGURES, *(f"outcome_{o}" for o in outcomes)])
        # The total row is "all", as in the intervals table, also in a one-group report
        # (whose `group` is that group's name).
        rows = [*report["groups"], {**report, "group": "all"}]
        for g in rows:
            w.writerow(
                [
                    g["group"],
                    *(_blank(g[f]) for f in FIGURES),
                    *(g["outcomes"].get(o, 0) for o in outcomes),
                ]
            )
    elif table == "intervals":
        w.writerow(["start", "end", "group", *FIGURES])
        for row in report["intervals"]:
            for name, f in [("all", row), *row["groups"].items()]:
                w.writerow([row["start"], row["end"], name, *(_blank(f[x]) for x in FIGURES)])
    else:
        ops = report["operators"]
        presences = sorted({k for o in ops for k in o["presence"]})
        activities = sorted({k for o in ops for k in o["activity"]})
        w.writerow(
            [
                "login",
                "name",
                "answered",
                "aht_s",
                "occupancy",
                *(f"presence_{p}_s" for p in presences),
                *(f"activity_{a}_s" for a in activities),
            ]
        )
        for o in ops:
            w.writerow(
                [
                    o["login"],
                    o["name"],
                    o["answered"],
                    _blank(o["aht_s"]),
                    _blank(o["occupancy"]),
                    *(o["presence"].get(p, 0) for p in presences),
                    *(o["activity"].get(a, 0) for a in activities),
                ]
            )
    return out.getvalue()


# -- staffing advice ---------------------------------------------------------------------


async def staffing(
    store: Store, feed: ChangeFeed, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """Per group: arrivals and handle time over the last hour and the same hour last week,
    and the operators Erlang C says the group's target service level needs."""
    sup = settings.config.supervision
    week = timedelta(days=7)
    windows = [(now - timedelta(hours=1), now), (now - week - timedelta(hours=1), now - week)]
    observed: dict[str, list[tuple[rollup.Counters, float]]] = {g: [] for g in settings.group_names}
    for start, end in windows:
        # The 15-minute buckets that start within the hour: the hours they cover.
        first = rollup.bucket_start(start, "15min", ZoneInfo("UTC"))
        if first < start:
            first += timedelta(minutes=15)
        hours = max((end - first).total_seconds(), 1.0) / 3600.0
        per: dict[str, rollup.Counters] = {}
        for d in await store.report_counters(rollup.GROUP, "15min", first, end):
            rollup.merge(per.setdefault(d["key"], {}), rollup.flatten(d.get("c", {})))
        for g in observed:
            observed[g].append((per.get(g, {}), hours))
    out = []
    for g in settings.group_names:
        seen = [(c, h) for c, h in observed[g] if c.get("calls")]
        hours = sum(h for _, h in seen)
        calls = sum(c.get("calls", 0.0) for c, _ in seen)
        answered = sum(c.get("answered", 0.0) for c, _ in seen)
        handled = sum(
            c.get("talk_s", 0.0) + c.get("hold_s", 0.0) + c.get("activity.wrap_up", 0.0)
            for c, _ in seen
        )
        rate_h = calls / hours if hours else 0.0
        default_aht = float(settings.config.routing.default_handle_time_s)
        aht = handled / answered if answered else default_aht
        cfg = settings.group(g)
        target = (cfg.target_service_level if cfg else None) or sup.target_service_level
        needed = erlang.agents_needed(rate_h / 3600.0, aht, target, sup.service_level_s)
        out.append(
            {
                "group": g,
                "calls_last_hour": int(observed[g][0][0].get("calls", 0.0)),
                "calls_same_hour_last_week": int(observed[g][1][0].get("calls", 0.0)),
                "arrival_rate_per_hour": round(rate_h, 2),
                "handle_time_s": round(aht, 1),
                "traffic_erlangs": round(rate_h / 3600.0 * aht, 2),
                "target_service_level": target,
                "service_level_s": sup.service_level_s,
                "needed": needed,
                "ready": feed.view.ready_count(g),
            }
        )
    return out
