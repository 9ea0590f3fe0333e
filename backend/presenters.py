"""JSON shapes the API and the WebSocket push send out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.adapters.documents import Doc, iso


def _iso_all(d: Any) -> Any:
    if isinstance(d, datetime):
        return d.isoformat()
    if isinstance(d, dict):
        return {k: _iso_all(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_iso_all(v) for v in d]
    return d


def operator_view(doc: Doc) -> dict[str, Any]:
    stats = doc.get("stats") or {}
    answers = int(stats.get("answers", 0))
    return {
        "login": doc["_id"],
        "name": doc.get("name", ""),
        "email": doc.get("email", ""),
        "role": doc.get("role", "operator"),
        "address": doc.get("address"),
        "groups": doc.get("groups", []),
        "presence": doc["presence"],
        "reason": doc.get("reason"),
        "activity": doc["activity"],
        "presence_since": iso(doc.get("presence_since")),
        "activity_since": iso(doc.get("activity_since")),
        "activity_until": iso(doc.get("activity_until")),
        "idle_since": iso(doc.get("idle_since")),
        "offer_id": doc.get("offer_id"),
        "call_id": doc.get("call_id"),
        "misses_in_row": doc.get("misses_in_row", 0),
        "ban_level": doc.get("ban_level", 0),
        "score": doc.get("score", 0.0),
        "scores": {
            "offers": int(stats.get("offers", 0)),
            "answers": answers,
            "misses": int(stats.get("misses", 0)),
            "avg_answer_s": round(stats.get("answer_s_total", 0.0) / answers, 2)
            if answers
            else None,
            "talk_s": round(stats.get("talk_s_total", 0.0), 1),
        },
        "last_seen": iso(doc.get("last_seen")),
        "absence": _iso_all(doc.get("absence")),
    }


def parties_view(doc: Doc) -> list[dict[str, Any]]:
    """The caller first, then every other leg (the owner's included once it answered)."""
    ended = doc.get("state") == "ended"
    caller_state = "left" if ended else ("held" if doc.get("held_since") else "connected")
    out: list[dict[str, Any]] = [
        {
            "party_id": "caller",
            "kind": "caller",
            "address": doc.get("caller", ""),
            "state": caller_state,
            "display_name": doc.get("display_name", ""),
        }
    ]
    for p in doc.get("parties") or ():
        item = {
            "party_id": p["party_id"],
            "kind": p["kind"],
            "address": (p.get("address") or {}).get("address", ""),
            "state": p["state"],
            "role": p.get("role"),
            "requested_by": p.get("requested_by"),
            "created_at": iso(p.get("created_at")),
            "connected_at": iso(p.get("connected_at")),
            "left_at": iso(p.get("left_at")),
            "outcome": p.get("outcome"),
            "code": p.get("code"),
            "reason": p.get("reason"),
        }
        if p.get("login"):
            item["login"] = p["login"]
        if p.get("mode"):
            item["mode"] = p["mode"]  # a supervisor's: listen, whisper or barge
        out.append(item)
    return out


def call_view(doc: Doc, *, with_log: bool = False) -> dict[str, Any]:
    offer = doc.get("offer") or None
    out: dict[str, Any] = {
        "call_id": doc["_id"],
        # The call's revision: it grows with every change of state, so a client can tell an
        # older copy (a slow GET) from a newer one (a push).
        "rev": int(doc.get("rev", 0)),
        "session_id": doc.get("session_id"),
        "state": doc["state"],
        "group": doc["group"],
        "priority": doc["priority"],
        "media": doc["media"],
        "caller": doc.get("caller", ""),
        "destination": doc.get("destination", ""),
        "display_name": doc.get("display_name", ""),
        "custom_data": doc.get("custom_data", ""),
        "context": doc.get("context", {}),
        "headers": doc.get("headers", {}),
        "created_at": iso(doc.get("created_at")),
        "enqueued_at": iso(doc.get("enqueued_at")),
        "connected_at": iso(doc.get("connected_at")),
        "ended_at": iso(doc.get("ended_at")),
        "operator": doc.get("operator"),
        "offer": _iso_all(offer) if offer else None,
        "parties": parties_view(doc),
        "held_since": iso(doc.get("held_since")),
        "hold_s": round(float(doc.get("hold_s", 0.0)), 3),
        "attempts": doc.get("attempts", 0),
        "outcome": doc.get("outcome"),
        "hung_up_by": doc.get("hung_up_by"),
        "end_reason": doc.get("end_reason"),
        "recording_url": doc.get("recording_url"),
        "manager": doc.get("manager"),
        "waits_for": doc.get("preferred") or None,
        "waits_until": iso(doc.get("preferred_until")),
        "spare": _iso_all(doc.get("spare")),
        "task": doc.get("task"),
        "voicemail_url": doc.get("voicemail_url"),
        "voicemail_s": doc.get("voicemail_s"),
        "callback_number": doc.get("callback_number"),
        "callback_attempts": doc.get("callback_attempts", 0),
    }
    if with_log:
        out["log"] = _iso_all(doc.get("log", []))
    return out
