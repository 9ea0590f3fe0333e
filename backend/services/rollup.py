"""Report buckets kept up to date as status rows and ended calls arrive (see domain/rollup.py).

The counters gather in memory and go out with the status history's batch: one upsert with
`$inc` per bucket touched, whatever the number of rows behind it. Each ended call is counted
by the process whose guarded write ended it, so once across processes. A process killed
between its write and the next batch (0.2 s) loses those counters, as it loses the rows.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.documents import Doc
from backend.domain import rollup
from backend.domain.actions import StatusInterval
from backend.settings import Settings


def ended_call(doc: Doc) -> rollup.EndedCall | None:
    """The report's view of an ended call document (None when it has not ended)."""
    if doc.get("state") != "ended" or not doc.get("ended_at") or not doc.get("outcome"):
        return None
    transfers = doc.get("transfers") or 0
    parties = doc.get("parties") or []
    helpers = [
        p
        for p in parties
        if isinstance(p, dict)
        and p.get("kind") in ("operator", "external")
        and p.get("login") != doc.get("operator")
    ]
    return rollup.EndedCall(
        group=doc["group"],
        created_at=doc["created_at"],
        enqueued_at=doc.get("enqueued_at") or doc["created_at"],
        ended_at=doc["ended_at"],
        outcome=str(doc["outcome"]),
        operator=doc.get("operator"),
        connected_at=doc.get("connected_at"),
        hold_s=float(doc.get("hold_s") or 0.0),
        transfers=len(transfers) if isinstance(transfers, list) else int(transfers),
        help_requests=int(doc.get("help_requests") or 0) or len(helpers),
    )


class Rollup:
    def __init__(self, settings: Settings, feed: ChangeFeed) -> None:
        self.settings = settings
        self.feed = feed
        self.tz = ZoneInfo(settings.config.center.timezone)
        self.pending: rollup.Increments = {}
        # The group of the call each operator was last offered or on: their time on it
        # (offered, in call, wrap-up) counts in that group.
        self.call_group: dict[str, str] = {}
        feed.listeners.append(self._changed)

    def _changed(self, coll: str, doc: Doc, foreign: bool) -> None:
        if coll != "calls":
            return
        offer = doc.get("offer") or {}
        for login in (doc.get("operator"), offer.get("operator")):
            if login and doc.get("group"):
                self.call_group[str(login)] = str(doc["group"])

    def groups_for(self, interval: StatusInterval) -> tuple[str, ...]:
        handling = interval.field == "activity" and interval.value in rollup.HANDLING
        if handling and (g := self.call_group.get(interval.operator)) is not None:
            return (g,)
        op = self.feed.view.operator(interval.operator)
        return op.group_names if op is not None else ()

    def intervals(self, items: list[StatusInterval]) -> None:
        for i in items:
            rollup.add_interval(
                self.pending,
                i.operator,
                self.groups_for(i),
                i.field,
                i.value,
                i.start,
                i.end,
                self.tz,
            )

    def call_ended(self, doc: Doc) -> None:
        call = ended_call(doc)
        if call is not None:
            s = self.settings.config.supervision
            rollup.add_call(self.pending, call, self.tz, s.service_level_s, s.short_abandon_s)

    def take(self) -> rollup.Increments:
        out, self.pending = self.pending, {}
        return out

    def put_back(self, incs: rollup.Increments) -> None:
        for key, counters in incs.items():
            rollup.merge(self.pending.setdefault(key, {}), counters)


def open_intervals(incs: rollup.Increments, feed: ChangeFeed, rolls: Rollup, now: datetime) -> None:
    """The stretches operators are in right now (not in the history until they end)."""
    for login, doc in feed.operator_docs.items():
        op = feed.view.operator(login)
        groups = op.group_names if op is not None else ()
        for field in ("presence", "activity"):
            since, value = doc.get(f"{field}_since"), doc.get(field)
            if since is None or value is None:
                continue
            gs = groups
            if field == "activity" and value in rollup.HANDLING and doc.get("call_id"):
                call = feed.call_doc(doc["call_id"])
                if call is not None:
                    gs = (call["group"],)
            rollup.add_interval(incs, login, gs, field, str(value), since, now, rolls.tz)
