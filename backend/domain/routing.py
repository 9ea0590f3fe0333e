"""The routing decision: from the read view, who takes what, and the claim's two steps.

The shell (services/engine.py) and the queueing simulation (tests/simulation/sim.py) both call
these, so what the simulation proves is what the engine does. The guard of every write is the
revision the decision was read at (`Operator.rev`, `Call.rev`); the shell writes it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain.actions import Step
from backend.domain.model import Call, Offer, Operator, Strategy
from backend.domain.policy import RoutingPolicy
from backend.domain.selection import choose_call, choose_operator
from backend.domain.view import ReadView

# How many candidates one decision looks at: enough to survive a few lost races.
CANDIDATES = 8


def operators_for(view: ReadView, call: Call, now: datetime) -> list[Operator]:
    """The operators who may take this call now, best first (at most CANDIDATES)."""
    if (manager := call.waits_for(now)) is not None:
        # Waiting for its manager: nobody else may take it until the limit.
        found = view.operator(manager)
        return [found] if found is not None and found.takes(call) else []
    return view.routable(call.group, CANDIDATES)


def calls_for(view: ReadView, op: Operator) -> list[Call]:
    """The calls this operator may take now: waiting for them by name, then their groups'."""
    return view.waiting_for(op.login, CANDIDATES) + view.queued(op.group_names, CANDIDATES)


def propose_operator(
    view: ReadView,
    call: Call,
    strategy: Strategy,
    now: datetime,
    exclude: Collection[str] = (),
) -> Operator | None:
    """The operator to offer this waiting call to, or None: the call waits."""
    if not call.waiting:
        return None
    candidates = [op for op in operators_for(view, call, now) if op.login not in exclude]
    return choose_operator(call, candidates, strategy, now=now)


def propose_call(
    view: ReadView, op: Operator, now: datetime, exclude: Collection[str] = ()
) -> Call | None:
    """The call a routable operator takes (or one in Video Reserved: their video call), or None."""
    if not op.routable and not op.video_reserved:
        return None
    found = calls_for(view, op) if op.routable else view.waiting_for(op.login, CANDIDATES)
    candidates = [c for c in found if c.call_id not in exclude]
    return choose_call(op, candidates, now)


@dataclass(frozen=True, slots=True)
class Claim:
    """An offer as two steps: the operator's reservation first, then the call's."""

    offer: Offer
    operator: Step[Operator]
    call: Step[Call]


# Starting the callback session and dialling the caller, on top of two ring timeouts.
CALLBACK_SETUP_S = 15


def claim(call: Call, op: Operator, offer_id: str, now: datetime, policy: RoutingPolicy) -> Claim:
    expires = now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
    the_offer = Offer(offer_id, op.login, op.address, now, expires)
    if call.task is not None:
        # A task is offered on the desk, not dialled: it is delivered (and its ring timeout
        # counts as a miss) from the moment it is offered. A callback rings the caller first,
        # then the operator: twice the time.
        if call.task == call_rules.CALLBACK:
            expires = expires + timedelta(seconds=policy.ring_timeout_s + CALLBACK_SETUP_S)
        the_offer = replace(the_offer, sent_at=now, expires_at=expires)
    return Claim(
        the_offer,
        op_rules.offer(op, call.call_id, offer_id, the_offer.expires_at, now, call.invite_id),
        call_rules.offer(call, the_offer),
    )
