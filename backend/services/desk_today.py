"""The operator's own figures for today, from the calls and the status log."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def _offers(docs: list[Doc], login: str, since: datetime) -> tuple[int, int, list[float]]:
    """(offers made to the operator, offers they answered, seconds from offer to answer)."""
    offers = answered = 0
    ring_s: list[float] = []
    for doc in docs:
        log = doc.get("log", [])
        connected = {
            e.get("offer_id"): e["at"]
            for e in log
            if e.get("kind") == "event" and e.get("type") == "operator_connected" and "at" in e
        }
        for e in log:
            if e.get("kind") != "offer" or e.get("operator") != login or e["at"] < since:
                continue
            offers += 1
            if e.get("offer_id") in connected:
                answered += 1
                ring_s.append((connected[e["offer_id"]] - e["at"]).total_seconds())
    return offers, answered, ring_s


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
    offered = await store.offered_calls(login, since)
    offers, answered_offers, ring_s = _offers(offered, login, since)
    answered = await store.answered_calls(login, since)
    talk = [((c.get("ended_at") or now) - c["connected_at"]).total_seconds() for c in answered]
    ringing_now = 1 if op.get("activity") == "offered" else 0
    times = _times(await store.status_intervals(login, since), op, since, now)
    return {
        "since": since.isoformat(),
        "offers": offers,
        "answered": len(answered),
        "not_answered": max(0, offers - answered_offers - ringing_now),
        "talk_s": round(sum(talk), 1),
        "avg_talk_s": round(sum(talk) / len(talk), 1) if talk else None,
        "avg_answer_s": round(sum(ring_s) / len(ring_s), 1) if ring_s else None,
        "ready_s": times["presence"].get("ready", 0.0),
        "not_ready_s": times["presence"].get("not_ready", 0.0),
        "time_s": times,
    }
