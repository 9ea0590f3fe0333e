"""The live floor for supervisors, from what the process already holds (no database read).

Operators and waiting calls come from the change feed's documents and the read view; today's
figures per group are seeded once from the report buckets and then folded from the ended calls
the same feed brings (this process's and every other's), so a change costs no read.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.documents import Doc, iso
from backend.adapters.mongo import Store
from backend.domain import rollup
from backend.services.rollup import ended_call
from backend.settings import Settings


def level(value: float | None, amber: float, red: float, *, higher_is_worse: bool) -> str:
    """ "ok", "amber" or "red" against two thresholds."""
    if value is None:
        return "ok"
    if higher_is_worse:
        return "red" if value >= red else "amber" if value >= amber else "ok"
    return "red" if value < red else "amber" if value < amber else "ok"


_WORST = {"ok": 0, "amber": 1, "red": 2}


class Floor:
    def __init__(self, settings: Settings, feed: ChangeFeed, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.feed = feed
        self.clock = clock
        self.tz = ZoneInfo(settings.config.center.timezone)
        self.day = rollup.bucket_start(clock(), "day", self.tz)
        self.today: dict[str, rollup.Counters] = {}
        self._counted: set[str] = set()
        self._since = clock()  # ended calls before this are in the seeded figures
        # Set on every change the feed brings; the push waits on it.
        self.changed = asyncio.Event()
        feed.listeners.append(self._changed)

    async def seed(self, store: Store) -> None:
        """Today's figures so far, from the report buckets (once, at start)."""
        self._since = self.clock()
        self.day = rollup.bucket_start(self._since, "day", self.tz)
        end = rollup.bucket_end(self.day, "day", self.tz)
        seeded: dict[str, rollup.Counters] = {}
        for doc in await store.report_counters(rollup.GROUP, "day", self.day, end):
            rollup.merge(seeded.setdefault(doc["key"], {}), rollup.flatten(doc.get("c", {})))
        for group, counters in self.today.items():  # folded while the read ran
            rollup.merge(seeded.setdefault(group, {}), counters)
        self.today = seeded

    def _roll_day(self, now: datetime) -> None:
        day = rollup.bucket_start(now, "day", self.tz)
        if day != self.day:
            self.day, self.today, self._counted = day, {}, set()

    def _changed(self, coll: str, doc: Doc, foreign: bool) -> None:
        if coll in ("operators", "calls", "rebuild"):
            self.changed.set()
        if coll != "calls" or doc.get("state") != "ended":
            return
        call_id = str(doc["_id"])
        call = ended_call(doc)
        if call is None or call_id in self._counted or call.ended_at < self._since:
            return
        self._roll_day(self.clock())
        if call.created_at < self.day:
            return
        self._counted.add(call_id)
        s = self.settings.config.supervision
        counters = rollup.call_counters(call, s.service_level_s, s.short_abandon_s)
        rollup.merge(self.today.setdefault(call.group, {}), counters)

    # -- the floor -------------------------------------------------------------------

    def _call_brief(self, call_id: str | None) -> dict[str, Any] | None:
        doc = self.feed.call_doc(call_id) if call_id else None
        if doc is None:
            return None
        return {
            "call_id": doc["_id"],
            "state": doc.get("state"),
            "group": doc.get("group"),
            "media": doc.get("media"),
            "caller": doc.get("caller"),
            "display_name": doc.get("display_name"),
            "connected_at": iso(doc.get("connected_at")),
            "parties": [
                {k: (iso(v) if isinstance(v, datetime) else v) for k, v in p.items()}
                for p in doc.get("parties") or []
                if isinstance(p, dict)
            ],
        }

    def operators(self) -> list[dict[str, Any]]:
        out = []
        for login, doc in sorted(self.feed.operator_docs.items()):
            if doc.get("absence") and (doc["absence"] or {}).get("reason") == "dismissed":
                continue
            since = max(doc["presence_since"], doc["activity_since"])
            out.append(
                {
                    "login": login,
                    "name": doc.get("name", ""),
                    "role": doc.get("role", "operator"),
                    "presence": doc["presence"],
                    "reason": doc.get("reason"),
                    "activity": doc["activity"],
                    "since": iso(since),
                    "presence_since": iso(doc["presence_since"]),
                    "activity_since": iso(doc["activity_since"]),
                    "call_id": doc.get("call_id"),
                    "call": self._call_brief(doc.get("call_id")),
                    "groups": doc.get("groups", []),
                    "absence": {
                        "reason": doc["absence"].get("reason"),
                        "until": iso(doc["absence"].get("until")),
                    }
                    if doc.get("absence")
                    else None,
                }
            )
        return out

    def waiting(self, now: datetime) -> list[dict[str, Any]]:
        view = self.feed.view
        calls = sorted(
            (c for c in view.calls.values() if c.waiting),
            key=lambda c: (-c.priority, c.enqueued_at, c.call_id),
        )
        out = []
        for call in calls:
            doc = self.feed.call_doc(call.call_id) or {}
            out.append(
                {
                    "call_id": call.call_id,
                    "group": call.group,
                    "priority": call.priority,
                    "media": call.media.value,
                    "caller": doc.get("caller"),
                    "enqueued_at": call.enqueued_at.isoformat(),
                    "wait_s": round((now - call.enqueued_at).total_seconds(), 1),
                    "position": view.position(call),
                    "preferred": call.waits_for(now),
                }
            )
        return out

    def groups(self, now: datetime, waiting: list[dict[str, Any]]) -> list[dict[str, Any]]:
        s = self.settings.config.supervision
        self._roll_day(now)
        view = self.feed.view
        longest: dict[str, float] = {}
        count: Counter[str] = Counter()
        for c in waiting:
            count[c["group"]] += 1
            longest[c["group"]] = max(longest.get(c["group"], 0.0), c["wait_s"])
        out = []
        for g in self.settings.group_names:
            members = view.members(g)
            presence = Counter(op.presence.value for op in members)
            today = rollup.figures(self.today.get(g, {}))
            wait_level = level(
                longest.get(g), s.longest_wait_amber_s, s.longest_wait_red_s, higher_is_worse=True
            )
            sl_level = level(
                today["service_level"],
                s.service_level_amber,
                s.service_level_red,
                higher_is_worse=False,
            )
            out.append(
                {
                    "group": g,
                    "waiting": count[g],
                    "longest_wait_s": longest.get(g, 0.0),
                    "ready": presence.get("ready", 0),
                    "not_ready": presence.get("not_ready", 0),
                    "offline": presence.get("offline", 0),
                    "routable": view.routable_count(g),
                    "today": {
                        k: today[k]
                        for k in (
                            "calls",
                            "answered",
                            "abandoned",
                            "abandoned_short",
                            "overflowed",
                            "service_level",
                            "asa_s",
                        )
                    },
                    "wait_level": wait_level,
                    "service_level_level": sl_level,
                    "level": max(wait_level, sl_level, key=_WORST.__getitem__),
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        s = self.settings.config.supervision
        waiting = self.waiting(now)
        return {
            "type": "floor",
            "now": now.isoformat(),
            "timezone": self.settings.config.center.timezone,
            "thresholds": {
                "longest_wait_amber_s": s.longest_wait_amber_s,
                "longest_wait_red_s": s.longest_wait_red_s,
                "service_level_amber": s.service_level_amber,
                "service_level_red": s.service_level_red,
                "service_level_s": s.service_level_s,
            },
            "operators": self.operators(),
            "waiting": waiting,
            "groups": self.groups(now, waiting),
        }
