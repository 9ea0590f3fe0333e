"""The operator's own figures for today, from the calls and the status log."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc
from backend.domain import operators as op_rules


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def _offers(rows: list[Doc], op: Doc, since: datetime) -> tuple[int, int, int, list[float]]:
    """(offers made to the operator, offers they answered, offers not answered, seconds from
    offer to answer).

    Read from the status history: every `offered` interval is an offer, answered when the
    operator's next activity was `in_call`; the interval's length is the time to answer. An
    offer released through no fault of the operator (the caller hung up while it rang, the
    call ended, the connect was not delivered) names why, and is not "not answered".
    """
    acts = [r for r in rows if r["field"] == "activity"]
    offers = answered = not_answered = 0
    ring_s: list[float] = []
    for i, r in enumerate(acts):
        if r["value"] != "offered" or r["start"] < since:
            continue
        offers += 1
        after = acts[i + 1]["value"] if i + 1 < len(acts) else op.get("activity")
        if after == "in_call":
            answered += 1
            ring_s.append((r["end"] - r["start"]).total_seconds())
        elif op_rules.offer_not_answered(after, r.get("reason")):
            not_answered += 1
    if op.get("activity") == "offered" and op["activity_since"] >= since:
        offers += 1  # ringing now
    return offers, answered, not_answered, ring_s


def _times(rows: list[Doc], op: Doc, since: datetime, now: datetime) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {"presence": {}, "activity": {}}
    for r in rows:
        seconds = (r["end"] - max(r["start"], since)).total_seconds()
        bucket = totals.setdefault(r["field"], {})
        bucket[r["value"]] = bucket.get(r["value"], 0.0) + seconds
    # The status in force now is an open interval: count it up to now.
    for field, since_key in (("presence", "presence_since"), ("activity", "activity_since")):
        start = max(op[since_key], since)
        bucket = totals[field]
        bucket[op[field]] = bucket.get(op[field], 0.0) + (now - start).total_seconds()
    return {f: {k: round(v, 1) for k, v in b.items()} for f, b in totals.items()}


async def today(store: DeskStore, op: Doc, now: datetime) -> dict[str, Any]:
    login = op["_id"]
    since = day_start(now)
    rows = await store.status_intervals(login, since)
    offers, _, not_answered, ring_s = _offers(rows, op, since)
    answered = await store.answered_calls(login, since)
    talk = [((c.get("ended_at") or now) - c["connected_at"]).total_seconds() for c in answered]
    times = _times(rows, op, since, now)
    return {
        "since": since.isoformat(),
        "offers": offers,
        "answered": len(answered),
        "not_answered": not_answered,
        "talk_s": round(sum(talk), 1),
        "avg_talk_s": round(sum(talk) / len(talk), 1) if talk else None,
        "avg_answer_s": round(sum(ring_s) / len(ring_s), 1) if ring_s else None,
        "ready_s": times["presence"].get("ready", 0.0),
        "not_ready_s": times["presence"].get("not_ready", 0.0),
        "time_s": times,
    }
