"""'Your manager': a caller's own operator first, a fallback when they are away."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from backend.domain.model import Activity, Operator, Presence


class ManagerState(StrEnum):
    ROUTABLE = "routable"  # offer at once
    BUSY = "busy"  # offered, in a call, wrap-up, a short pause: wait for them (up to a limit)
    AWAY = "away"  # not ready, offline, banned, absent, or no longer an operator: go on at once


def manager_state(op: Operator | None, now: datetime) -> ManagerState:
    if op is None:
        return ManagerState.AWAY
    if op.absence is not None and op.absence.active(now):
        return ManagerState.AWAY
    if op.presence is not Presence.READY or op.activity is Activity.BANNED:
        return ManagerState.AWAY
    if op.activity is Activity.IDLE:
        return ManagerState.ROUTABLE
    return ManagerState.BUSY


def away_text(
    op: Operator | None, name: str, now: datetime, absent_template: str, away_template: str
) -> str:
    """What the caller hears when their manager cannot take the call today."""
    if op is not None and op.absence is not None and op.absence.active(now):
        until = op.absence.until.strftime("%B %-d") if op.absence.until else ""
        return absent_template.format(
            name=name, reason=op.absence.reason.value.replace("_", " "), until=until
        ).replace("  ", " ")
    return away_template.format(name=name)
