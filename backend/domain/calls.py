"""Call state transitions: queued → offering → connected → ended, with the operator side-effects."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from backend.domain.actions import (
    Action,
    CallFinished,
    CheckSession,
    DispatchCall,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    SendCancel,
    Step,
)
from backend.domain.model import Call, CallState, Media, Offer, Outcome, Party
from backend.domain.policy import RoutingPolicy

# SIP codes that mean "the operator did not take it" (no answer, offline, busy, cancelled,
# declined). Anything else (404 bad address, 402 money, 5xx) is not the operator's fault.
OPERATOR_FAULT_CODES = frozenset({408, 480, 486, 487, 603})
TIMEOUT_CODE = 408


def new_call(
    call_id: str, group: str, priority: int, media: Media, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    call = Call(
        call_id=call_id,
        group=group,
        priority=priority,
        media=media,
        state=CallState.QUEUED,
        created_at=now,
        enqueued_at=now,
        deadline=now + timedelta(seconds=policy.queued_check_s),
    )
    return Step(call, (DispatchCall(call_id),))


def offer(call: Call, the_offer: Offer) -> Step[Call]:
    if call.state is not CallState.QUEUED:
        return Step(None)
    new = replace(
        call,
        state=CallState.OFFERING,
        offer=the_offer,
        attempts=call.attempts + 1,
        deadline=the_offer.expires_at,
    )
    return Step(new)


def _current(call: Call, offer_id: str) -> Offer | None:
    if call.state is CallState.OFFERING and call.offer and call.offer.offer_id == offer_id:
        return call.offer
    return None


def offer_sent(call: Call, offer_id: str, now: datetime) -> Step[Call]:
    current = _current(call, offer_id)
    if current is None or current.sent_at is not None:
        return Step(None)
    return Step(replace(call, offer=replace(current, sent_at=now)))


def offer_connected(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    current = _current(call, offer_id)
    if current is None:
        return Step(None)
    new = replace(
        call,
        state=CallState.CONNECTED,
        operator=current.operator,
        connected_at=now,
        deadline=now + timedelta(seconds=policy.in_call_check_s),
    )
    answer_s = max(0.0, (now - (current.sent_at or current.created_at)).total_seconds())
    return Step(new, (OfferAnswered(current.operator, offer_id, call.call_id, answer_s),))


def _requeue(call: Call, now: datetime, policy: RoutingPolicy) -> Call:
    # Back to the head of its queue: the original enqueued_at is kept.
    return replace(
        call,
        state=CallState.QUEUED,
        offer=None,
        deadline=now + timedelta(seconds=policy.queued_check_s),
    )


def offer_failed(
    call: Call, offer_id: str, code: int, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The scenario reports the operator leg failed; the call goes back to the queue.

    The scenario reports only on offers it received, so the report itself proves delivery,
    even before the backend has saved the connect reply. A failure the operator did not
    cause (bad address, no money) still pauses them, so a misconfigured operator is not
    offered the same call again and again; only no-answer, busy, decline and cancel count
    as misses (the shell decides that from the code).
    """
    current = _current(call, offer_id)
    if current is None:
        return Step(None)
    missed = OfferMissed(current.operator, offer_id, code)
    return Step(_requeue(call, now, policy), (missed, DispatchCall(call.call_id)))


def offer_undeliverable(
    call: Call, offer_id: str, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The connect command never reached a live scenario handler: not the operator's fault."""
    current = _current(call, offer_id)
    if current is None:
        return Step(None)
    release = OfferReleased(current.operator, offer_id)
    return Step(_requeue(call, now, policy), (release, DispatchCall(call.call_id)))


def offer_expired(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """Nobody reported on the offer in time: no answer if the phone rang, else no fault."""
    current = _current(call, offer_id)
    if current is None or current.expires_at > now:
        return Step(None)
    operator_action: Action
    if current.sent_at is not None:
        operator_action = OfferMissed(current.operator, offer_id, TIMEOUT_CODE)
    else:
        # The connect never got through (the process that sent it died): nobody's fault.
        operator_action = OfferReleased(current.operator, offer_id)
    return Step(
        _requeue(call, now, policy),
        (SendCancel(call.call_id, offer_id), operator_action, DispatchCall(call.call_id)),
    )


def _end(
    call: Call, outcome: Outcome, party: Party, reason: str | None, now: datetime
) -> Step[Call]:
    actions: list[Action] = []
    if call.state is CallState.OFFERING and call.offer is not None:
        actions.append(OfferReleased(call.offer.operator, call.offer.offer_id))
    elif call.state is CallState.CONNECTED and call.operator and call.connected_at:
        talk_s = max(0.0, (now - call.connected_at).total_seconds())
        actions.append(CallFinished(call.operator, call.call_id, talk_s, call.group))
    new = replace(
        call,
        state=CallState.ENDED,
        outcome=outcome,
        hung_up_by=party,
        end_reason=reason,
        ended_at=now,
        offer=None,
        deadline=None,
    )
    return Step(new, tuple(actions))


def caller_hung_up(call: Call, now: datetime) -> Step[Call]:
    if call.ended:
        return Step(None)
    if call.state is CallState.CONNECTED:
        return _end(call, Outcome.ANSWERED, Party.CALLER, None, now)
    return _end(call, Outcome.ABANDONED, Party.CALLER, None, now)


def operator_hung_up(call: Call, now: datetime) -> Step[Call]:
    if call.state is not CallState.CONNECTED:
        return Step(None)
    return _end(call, Outcome.ANSWERED, Party.OPERATOR, None, now)


def session_ended(call: Call, now: datetime) -> Step[Call]:
    """The scenario is ending; anything not yet settled is settled now."""
    if call.ended:
        return Step(None)
    if call.state is CallState.CONNECTED:
        return _end(call, Outcome.ANSWERED, Party.SYSTEM, "session_ended", now)
    return _end(call, Outcome.ABANDONED, Party.CALLER, "session_ended", now)


def session_gone(call: Call, now: datetime, reason: str) -> Step[Call]:
    """The access URL answered 404/410 or never answered: the session no longer exists."""
    if call.ended:
        return Step(None)
    outcome = Outcome.ANSWERED if call.state is CallState.CONNECTED else Outcome.FAILED
    return _end(call, outcome, Party.SYSTEM, reason, now)


def hangup_requested(call: Call, party: Party, reason: str, now: datetime) -> Step[Call]:
    """An operator or administrator ends the call from the backend side."""
    if call.ended:
        return Step(None)
    outcome = Outcome.ANSWERED if call.state is CallState.CONNECTED else Outcome.REJECTED
    return _end(call, outcome, party, reason, now)


def deadline_reached(call: Call, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """Offer expiry, or the periodic look at a waiting or talking call."""
    if call.deadline is None or call.deadline > now or call.ended:
        return Step(None)
    if call.state is CallState.OFFERING and call.offer is not None:
        return offer_expired(call, call.offer.offer_id, now, policy)
    if call.state is CallState.QUEUED:
        new = replace(call, deadline=now + timedelta(seconds=policy.queued_check_s))
        return Step(new, (CheckSession(call.call_id), DispatchCall(call.call_id)))
    new = replace(call, deadline=now + timedelta(seconds=policy.in_call_check_s))
    return Step(new, (CheckSession(call.call_id),))
