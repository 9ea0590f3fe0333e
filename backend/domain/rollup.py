"""Report figures, pre-aggregated per interval as the rows arrive (pure: no I/O, no clock).

Every finished status interval and every ended call adds counters to buckets: one per
resolution (15 minutes, hour, day in the center's time zone) and per key (the group, the
operator, and the whole center, where an operator in two groups counts once). A report then
sums the buckets of its range at the resolution asked for, however many raw rows lie behind
them, and its per-operator totals read a day bucket for each whole day (`cover`). Counter names
are `calls`, `answered`, ..., `outcome.<name>`, `presence.<name>` and `activity.<name>`
(seconds), so a new outcome or activity needs no code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

RESOLUTIONS = ("15min", "hour", "day")
# Activities spent on a call: counted in the call's group only, and as handling time.
HANDLING = ("offered", "in_call", "wrap_up")
GROUP, OPERATOR, CENTER = "group", "operator", "center"
# The one key of the center's buckets: calls as the groups count them, time as the operators do.
CENTER_KEY = "all"

Counters = dict[str, float]
# (kind, resolution, key, bucket start in UTC)
BucketKey = tuple[str, str, str, datetime]
Increments = dict[BucketKey, Counters]


def bucket_start(t: datetime, resolution: str, tz: ZoneInfo) -> datetime:
    """The start (in UTC) of the bucket holding `t`, bounds at the center's wall-clock times."""
    local = t.astimezone(tz)
    if resolution == "day":
        start = datetime.combine(local.date(), time(0), tzinfo=tz)
    elif resolution == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif resolution == "15min":
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    else:
        raise ValueError(f"unknown resolution {resolution!r}")
    return start.astimezone(UTC)


def bucket_end(start: datetime, resolution: str, tz: ZoneInfo) -> datetime:
    """Where the bucket starting at `start` ends (a day of 23 or 25 hours across DST)."""
    if resolution == "day":
        day: date = start.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    step = timedelta(hours=1) if resolution == "hour" else timedelta(minutes=15)
    return (start.astimezone(UTC) + step).astimezone(UTC)


def buckets(start: datetime, end: datetime, resolution: str, tz: ZoneInfo) -> list[datetime]:
    """Starts of the buckets that meet [start, end), in order."""
    out: list[datetime] = []
    if end <= start:
        return out
    b = bucket_start(start, resolution, tz)
    while b < end:
        out.append(b)
        b = bucket_end(b, resolution, tz)
    return out


def split(
    start: datetime, end: datetime, resolution: str, tz: ZoneInfo
) -> list[tuple[datetime, float]]:
    """The seconds of [start, end) that fall in each bucket."""
    out: list[tuple[datetime, float]] = []
    for b in buckets(start, end, resolution, tz):
        lo, hi = max(start, b), min(end, bucket_end(b, resolution, tz))
        if hi > lo:
            out.append((b, (hi - lo).total_seconds()))
    return out


def cover(
    start: datetime, end: datetime, resolution: str, tz: ZoneInfo
) -> list[tuple[str, datetime, datetime]]:
    """How to read the totals of the `resolution` buckets starting in [start, end) in fewer
    documents: (resolution, from, to) parts, a day bucket for each whole day between the
    partial days at either end. A day bucket holds exactly the sum of its hours and quarters,
    whose bounds it shares."""
    if resolution == "day":
        return [("day", start, end)]
    first = bucket_start(start, "day", tz)
    if first < start:
        first = bucket_end(first, "day", tz)
    last = bucket_start(end, "day", tz)
    if last <= first:
        return [(resolution, start, end)]
    parts = [("day", first, last)]
    if start < first:
        parts.insert(0, (resolution, start, first))
    if last < end:
        parts.append((resolution, last, end))
    return parts


def _add(incs: Increments, key: BucketKey, counters: Mapping[str, float]) -> None:
    target = incs.setdefault(key, {})
    for name, value in counters.items():
        target[name] = target.get(name, 0.0) + value


def add_interval(
    incs: Increments,
    login: str,
    groups: Iterable[str],
    field: str,
    value: str,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
) -> None:
    """A stretch of one status field: seconds to the operator and to each group given."""
    if end <= start:
        return
    name = f"{field}.{value}"
    groups = tuple(groups)
    for res in RESOLUTIONS:
        for b, seconds in split(start, end, res, tz):
            _add(incs, (OPERATOR, res, login, b), {name: seconds})
            _add(incs, (CENTER, res, CENTER_KEY, b), {name: seconds})
            for g in groups:
                _add(incs, (GROUP, res, g, b), {name: seconds})


@dataclass(frozen=True, slots=True)
class EndedCall:
    group: str
    created_at: datetime
    enqueued_at: datetime
    ended_at: datetime
    outcome: str
    operator: str | None = None
    connected_at: datetime | None = None
    hold_s: float = 0.0
    transfers: int = 0
    help_requests: int = 0


def call_counters(call: EndedCall, service_level_s: float, short_abandon_s: float) -> Counters:
    c: Counters = {"calls": 1.0, f"outcome.{call.outcome}": 1.0}
    if call.connected_at is not None and call.operator:
        wait = max(0.0, (call.connected_at - call.enqueued_at).total_seconds())
        c["answered"] = 1.0
        c["wait_s"] = wait
        c["answered_in_sl"] = 1.0 if wait <= service_level_s else 0.0
        c["talk_s"] = max(0.0, (call.ended_at - call.connected_at).total_seconds())
        c["hold_s"] = call.hold_s
    if call.outcome == "abandoned":
        waited = max(0.0, (call.ended_at - call.enqueued_at).total_seconds())
        c["abandoned"] = 1.0
        c["abandoned_short"] = 1.0 if waited <= short_abandon_s else 0.0
    if call.outcome == "overflowed":
        c["overflowed"] = 1.0
    if call.transfers:
        c["transfers"] = float(call.transfers)
    if call.help_requests:
        c["help_requests"] = float(call.help_requests)
    return c


def add_call(
    incs: Increments,
    call: EndedCall,
    tz: ZoneInfo,
    service_level_s: float,
    short_abandon_s: float,
) -> None:
    """An ended call: counted in the bucket of its arrival, for its group, its operator and
    the center."""
    counters = call_counters(call, service_level_s, short_abandon_s)
    mine = {k: v for k, v in counters.items() if k in _OPERATOR_CALL_COUNTERS}
    for res in RESOLUTIONS:
        b = bucket_start(call.created_at, res, tz)
        _add(incs, (GROUP, res, call.group, b), counters)
        _add(incs, (CENTER, res, CENTER_KEY, b), counters)
        if call.operator and mine:
            _add(incs, (OPERATOR, res, call.operator, b), mine)


_OPERATOR_CALL_COUNTERS = ("answered", "wait_s", "talk_s", "hold_s", "transfers", "help_requests")


def bucket_id(key: BucketKey) -> str:
    kind, res, name, start = key
    return f"{kind}|{res}|{name}|{start.astimezone(UTC).isoformat()}"


def nest(counters: Mapping[str, float]) -> dict[str, Any]:
    """Counter names as stored (`outcome.answered` under `outcome`), as `$inc` on `c.<name>`
    makes them."""
    out: dict[str, Any] = {}
    for name, value in counters.items():
        *parents, last = name.split(".")
        target = out
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = value
    return out


def bucket_doc(key: BucketKey, counters: Mapping[str, float]) -> dict[str, Any]:
    """A whole bucket document, as the first upsert of `key` with these counters writes it."""
    kind, res, name, start = key
    return {
        "_id": bucket_id(key),
        "kind": kind,
        "res": res,
        "key": name,
        "start": start,
        "c": nest(counters),
    }


def flatten(nested: Mapping[str, Any], prefix: str = "") -> Counters:
    """Stored counters (`{"outcome": {"answered": 3}}`) back to `outcome.answered` names."""
    # Stored documents decode to plain dicts; a report flattens thousands (`dict`, not the
    # slower `Mapping` check).
    out: Counters = {}
    for k, v in nested.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)):
            out[f"{prefix}{k}"] = float(v)
    return out


def merge(into: Counters, more: Mapping[str, float]) -> Counters:
    for k, v in more.items():
        into[k] = into.get(k, 0.0) + v
    return into


def _ratio(a: float, b: float, digits: int = 3) -> float | None:
    return round(a / b, digits) if b else None


def figures(c: Mapping[str, float]) -> dict[str, Any]:
    """The report's figures from summed counters (None where there is nothing to divide by)."""
    get = c.get
    calls, answered = get("calls", 0.0), get("answered", 0.0)
    abandoned, short = get("abandoned", 0.0), get("abandoned_short", 0.0)
    wrap_up = get("activity.wrap_up", 0.0)
    handling = sum(get(f"activity.{a}", 0.0) for a in HANDLING)
    staffed = get("presence.ready", 0.0)
    return {
        "calls": int(calls),
        "answered": int(answered),
        "abandoned": int(abandoned),
        "abandoned_short": int(short),
        "overflowed": int(get("overflowed", 0.0)),
        "transfers": int(get("transfers", 0.0)),
        "help_requests": int(get("help_requests", 0.0)),
        "service_level": _ratio(get("answered_in_sl", 0.0), answered + abandoned - short),
        "asa_s": _ratio(get("wait_s", 0.0), answered, 1),
        "aht_s": _ratio(get("talk_s", 0.0) + get("hold_s", 0.0) + wrap_up, answered, 1),
        "abandon_rate": _ratio(abandoned, calls),
        "occupancy": min(1.0, round(handling / staffed, 3)) if staffed else None,
        "talk_s": round(get("talk_s", 0.0), 1),
        "hold_s": round(get("hold_s", 0.0), 1),
        "wrap_up_s": round(wrap_up, 1),
        **_named(c),
    }


def _named(c: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Outcomes, presences and activities by name, in name order (one pass: a week by hour
    makes figures about 800 times)."""
    out: dict[str, dict[str, Any]] = {"outcomes": {}, "presence": {}, "activity": {}}
    for k, v in sorted(c.items()):
        prefix, dot, name = k.partition(".")
        if not dot:
            continue
        if prefix == "outcome":
            out["outcomes"][name] = int(v)
        elif prefix in ("presence", "activity"):
            out[prefix][name] = round(v, 3)
    return out
