"""Live queue figures for supervisors (GET /api/v1/queues)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain import rollup
from backend.services.engine import Engine
from backend.services.overflow import Overflow

# Service level (Asterisk's SL2): calls answered or abandoned within this many seconds of
# entering the queue, over all answered and abandoned calls. A caller who gives up after
# longer counts against the level; one who hangs up within it does not.
SERVICE_LEVEL_S = 20


def tasks_figures(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Voicemails left and handled; callbacks requested, completed (the caller and an
    operator talked) and failed (every attempt went unanswered)."""
    return {
        "voicemails": {
            "left": sum(1 for c in calls if c.get("voicemail_url")),
            "handled": sum(1 for c in calls if c.get("outcome") == "voicemail"),
        },
        "callbacks": {
            "requested": sum(1 for c in calls if c.get("callback_number")),
            "completed": sum(
                1
                for c in calls
                if c.get("outcome") == "callback" and c.get("end_reason") != "callback_failed"
            ),
            "failed": sum(1 for c in calls if c.get("task") == "callback_failed"),
        },
    }


async def queue_figures(engine: Engine) -> list[dict[str, Any]]:
    store = engine.store
    now = engine.clock()
    # Today is the center's day, as on the live floor and in the reports.
    since = rollup.bucket_start(now, "day", ZoneInfo(engine.settings.config.center.timezone))
    out = []
    for group in engine.settings.config.groups:
        # Live figures from the read view; the day's figures from the database.
        view = engine.view
        waiting, oldest = view.waiting_count(group.name), view.oldest_enqueued(group.name)
        members = view.members(group.name)
        presence = Counter(op.presence.value for op in members)
        ready_by_activity = dict(
            Counter(op.activity.value for op in members if op.presence.value == "ready")
        )
        calls = await store.group_day_figures(group.name, since)
        # A voicemail or callback taken on the desk is no caller answered on the line.
        answered = [c for c in calls if c.get("connected_at") and not c.get("task")]
        abandoned = [c for c in calls if c.get("outcome") == "abandoned"]
        waits = [(c["connected_at"] - c["enqueued_at"]).total_seconds() for c in answered]
        within = sum(1 for w in waits if w <= SERVICE_LEVEL_S)
        abandoned_within = sum(
            1
            for c in abandoned
            if c.get("ended_at")
            and (c["ended_at"] - c["enqueued_at"]).total_seconds() <= SERVICE_LEVEL_S
        )
        settled = len(answered) + len(abandoned)
        spares = engine.settings.spares_of(group.name)
        usage = (
            await engine.overflow.counters.usage(spares, now)
            if spares and isinstance(engine.overflow, Overflow)
            else {}
        )
        out.append(
            {
                "group": group.name,
                "waiting": waiting,
                "longest_wait_s": round((now - oldest).total_seconds(), 1) if oldest else 0,
                "operators": {
                    "ready": presence.get("ready", 0),
                    "not_ready": presence.get("not_ready", 0),
                    "offline": presence.get("offline", 0),
                    "routable": ready_by_activity.get("idle", 0),
                    "by_activity": ready_by_activity,
                },
                "today": {
                    "calls": len(calls),
                    "answered": len(answered),
                    "abandoned": len(abandoned),
                    "failed": sum(1 for c in calls if c.get("outcome") == "failed"),
                    "in_progress": sum(1 for c in calls if c.get("state") != "ended"),
                    "asa_s": round(sum(waits) / len(waits), 1) if waits else None,
                    "service_level": round((within + abandoned_within) / settled, 3)
                    if settled
                    else None,
                    "service_level_s": SERVICE_LEVEL_S,
                    "abandon_rate": round(len(abandoned) / len(calls), 3) if calls else None,
                    "overflowed": sum(1 for c in calls if c.get("outcome") == "overflowed"),
                    **tasks_figures(calls),
                },
                "spares": [
                    {
                        "number": sp.number,
                        "name": sp.name,
                        "enabled": sp.enabled,
                        "open_now": sp.open_at(now),
                        "active": usage[sp.number].active if sp.number in usage else 0,
                        "max_concurrent": sp.max_concurrent,
                        "used_today": usage[sp.number].used if sp.number in usage else 0,
                        "daily_cap": sp.daily_cap,
                    }
                    for sp in spares
                ],
            }
        )
    return out
