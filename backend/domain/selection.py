"""Who takes what: the operator for a call, and the call for an operator."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from backend.domain.model import Call, Operator, Strategy


def operator_order(strategy: Strategy, group: str) -> Any:
    """Sort key for candidates; skill level in the group breaks ties."""

    def key(op: Operator) -> tuple[Any, ...]:
        tie = (-op.level_in(group), op.login)
        if strategy is Strategy.FEWEST_CALLS:
            return (op.stats.answers, op.idle_since, *tie)
        if strategy is Strategy.BEST_SCORE:
            return (-op.score, op.idle_since, *tie)
        return (op.idle_since, *tie)

    return key


def choose_operator(
    call: Call,
    candidates: Iterable[Operator],
    strategy: Strategy,
    exclude: Sequence[str] = (),
    now: datetime | None = None,
) -> Operator | None:
    """The best routable operator for the call, or None: the call waits.

    A call waiting for its manager (at `now`) goes to the manager only, in whatever group.
    """
    reserved = call.waits_for(now) if now is not None else None
    if reserved is not None:
        return next((op for op in candidates if op.login == reserved and op.takes(call)), None)
    fitting = [
        op
        for op in candidates
        if op.routable and call.group in op.group_names and op.login not in exclude
    ]
    if not fitting:
        return None
    return min(fitting, key=operator_order(strategy, call.group))


def call_order(call: Call) -> tuple[Any, ...]:
    """Highest priority first, then the longest wait."""
    return (-call.priority, call.enqueued_at, call.call_id)


def choose_call(
    op: Operator, candidates: Iterable[Call], now: datetime | None = None
) -> Call | None:
    """The call a newly routable operator takes, or None.

    Calls waiting for this operator by name come first; calls reserved for someone else
    are left to them.
    """
    waiting = [c for c in candidates if c.waiting]
    if now is not None:
        mine = [c for c in waiting if c.waits_for(now) == op.login and op.takes(c)]
        if mine:
            return min(mine, key=call_order)
        waiting = [c for c in waiting if c.waits_for(now) is None]
    if not op.routable:
        return None  # reserved for a video call that is not among these
    groups = set(op.group_names)
    fitting = [c for c in waiting if c.group in groups]
    if not fitting:
        return None
    return min(fitting, key=call_order)


def wait_seconds(call: Call, now: datetime) -> float:
    return max(0.0, (now - call.enqueued_at).total_seconds())
