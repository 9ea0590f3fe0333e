"""Call state transitions: queued → offering → connected → ended, with the operator side-effects."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from backend.domain.actions import (
    Action,
    Announce,
    CallFinished,
    CheckSession,
    DialNumber,
    DispatchCall,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    ReleaseSpare,
    SendCancel,
    SendHangup,
    Step,
    TryOverflow,
)
from backend.domain.fallback import ActionType, Resolution
from backend.domain.model import (
    Call,
    CallParty,
    CallState,
    Media,
    Offer,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    PartyState,
    SpareAttempt,
)
from backend.domain.policy import RoutingPolicy

# SIP codes that mean "the operator did not take it" (no answer, offline, busy, cancelled,
# declined). Anything else (404 bad address, 402 money, 5xx) is not the operator's fault.
OPERATOR_FAULT_CODES = frozenset({408, 480, 486, 487, 603})
TIMEOUT_CODE = 408

# `end_reason` of a call whose caller hung up while a leg rang for it (an operator's or a spare
# number's): abandoned, but not a no-answer. The operator is released without a miss.
ABANDONED_WHILE_RINGING = "abandoned_while_ringing"
# Why an offer ended without the operator's fault (the operator's `offered` interval records
# it, so the desk's "not answered" leaves it out).
CALLER_LEFT = "caller_left"  # the caller hung up while it rang
CALL_ENDED = "call_ended"  # the call ended otherwise (session gone, a supervisor's hang-up)
UNDELIVERED = "undelivered"  # the connect never reached the scenario
NUMBER_FAILED = "number_failed"  # a group's number:<E.164> action did not answer


def new_call(
    call_id: str,
    group: str,
    priority: int,
    media: Media,
    now: datetime,
    policy: RoutingPolicy,
    preferred: str | None = None,
    invite_id: str | None = None,
    max_wait_s: int | None = None,
) -> Step[Call]:
    """A call enters its group's queue; with a manager (or, for a video call from an
    invitation, the inviting operator) it waits for them first, up to a limit."""
    wait_s = policy.video_wait_s if invite_id is not None else policy.manager_wait_s
    call = Call(
        call_id=call_id,
        group=group,
        priority=priority,
        media=media,
        state=CallState.QUEUED,
        created_at=now,
        enqueued_at=now,
        preferred=preferred,
        preferred_until=now + timedelta(seconds=wait_s) if preferred else None,
        invite_id=invite_id,
        max_wait_at=now + timedelta(seconds=max_wait_s) if max_wait_s else None,
    )
    call = replace(call, deadline=queued_deadline(call, now, policy))
    return Step(call, (DispatchCall(call_id),))


def refused_call(
    call_id: str, group: str, priority: int, media: Media, now: datetime, reason: str
) -> Call:
    """A call its group's goodbye ends at once (closed, nobody to take it): never queued."""
    return Call(
        call_id=call_id,
        group=group,
        priority=priority,
        media=media,
        state=CallState.ENDED,
        created_at=now,
        enqueued_at=now,
        ended_at=now,
        outcome=Outcome.REJECTED,
        hung_up_by=Party.SYSTEM,
        end_reason=reason,
    )


# How long past the longest message a call may stay in `voicemail` without a report.
VOICEMAIL_MARGIN_S = 60
TASK_PRIORITY = 1  # a voicemail waits behind every caller on the line
VOICEMAIL = "voicemail"


def start_voicemail(call: Call, now: datetime, policy: RoutingPolicy) -> Call:
    """The caller leaves a message: not routed meanwhile; the deadline is the backstop."""
    limit = policy.voicemail_max_s + VOICEMAIL_MARGIN_S
    return replace(
        call,
        state=CallState.VOICEMAIL,
        max_wait_at=None,
        preferred=None,
        preferred_until=None,
        deadline=now + timedelta(seconds=limit),
    )


def voicemail_recorded(
    call: Call, url: str, duration_s: float, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The message is stored: the call waits as a task for a Ready operator of its group."""
    if call.state is not CallState.VOICEMAIL:
        return Step(None)
    task = replace(
        call,
        state=CallState.QUEUED,
        task=VOICEMAIL,
        voicemail_url=url,
        voicemail_s=duration_s,
        priority=TASK_PRIORITY,
    )
    task = replace(task, deadline=queued_deadline(task, now, policy))
    return Step(task, (DispatchCall(call.call_id),))


def task_closed(call: Call, login: str, now: datetime) -> Step[Call]:
    """The operator has dealt with the task (listened, called back ...): it ends."""
    if call.task is None or call.state is not CallState.CONNECTED or call.operator != login:
        return Step(None)
    if call.task == CALLBACK_FAILED:
        return _end(call, Outcome.CALLBACK, Party.OPERATOR, CALLBACK_FAILED, now)
    return _end(call, Outcome.VOICEMAIL, Party.OPERATOR, "handled", now)


# -- queued callback --------------------------------------------------------------------

CALLBACK = "callback"
CALLBACK_FAILED = "callback_failed"
DESK_TASKS = (VOICEMAIL, CALLBACK_FAILED)  # offered on the desk, nothing is dialled


def callback_requested(call: Call, number: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """The caller would rather be called back: the call keeps its place (enqueue time and
    priority) as a task; when an operator is reserved for it, the backend starts the call."""
    if call.state is not CallState.QUEUED or call.task is not None:
        return Step(None)
    task = replace(
        call,
        task=CALLBACK,
        callback_number=number,
        callback_attempts=0,
        preferred=None,
        preferred_until=None,
        max_wait_at=None,
    )
    task = replace(task, deadline=queued_deadline(task, now, policy))
    return Step(task, (DispatchCall(call.call_id),))


def callback_not_answered(
    call: Call, offer_id: str, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The caller did not answer (or the session could not be started): the reserved operator
    is freed without a miss; the next attempt waits callback_retry_s, and after the last one
    the callback becomes a task for an operator of the group, like a voicemail."""
    current = _current(call, offer_id)
    if current is None or call.task != CALLBACK:
        return Step(None)
    release = OfferReleased(current.operator, offer_id, CALLER_LEFT)
    attempts = call.callback_attempts + 1
    if attempts >= policy.callback_max_attempts:
        failed = replace(
            call,
            state=CallState.QUEUED,
            offer=None,
            task=CALLBACK_FAILED,
            callback_attempts=attempts,
            priority=TASK_PRIORITY,
        )
        failed = replace(failed, deadline=queued_deadline(failed, now, policy))
        return Step(failed, (release, DispatchCall(call.call_id)))
    waiting = replace(
        call,
        state=CallState.CALLBACK_WAIT,
        offer=None,
        callback_attempts=attempts,
        deadline=now + timedelta(seconds=policy.callback_retry_s),
    )
    return Step(waiting, (release,))


def max_wait_due(call: Call, now: datetime) -> bool:
    return (
        call.state is CallState.QUEUED and call.max_wait_at is not None and call.max_wait_at <= now
    )


def fallback(
    call: Call, res: Resolution, now: datetime, policy: RoutingPolicy, max_wait_s: int | None
) -> Step[Call]:
    """A waiting call takes its group's action (`res`, from domain.fallback.resolve).

    Another group: the call moves, keeping its enqueue time (its place by seniority), and that
    group's own maximum wait starts now. Goodbye: the call ends, the caller is told why. A
    number: the call is put through to it. `policy` and `max_wait_s` are the final group's.
    """
    if call.state is not CallState.QUEUED:
        return Step(None)
    why = res.why.value if res.why else "fallback"
    moved = replace(
        call,
        group=res.group,
        preferred=None if res.group != call.group else call.preferred,
        preferred_until=None if res.group != call.group else call.preferred_until,
        max_wait_at=(now + timedelta(seconds=max_wait_s) if max_wait_s else None)
        if res.group != call.group
        else None,
    )
    moved = replace(moved, deadline=queued_deadline(moved, now, policy))
    if res.action is None:
        return Step(
            moved, (Announce(call.call_id, ActionType.GROUP.value, why), DispatchCall(call.call_id))
        )
    if res.action.type is ActionType.GOODBYE:
        ended = _end(moved, Outcome.REJECTED, Party.SYSTEM, why, now)
        assert ended.state is not None
        return Step(ended.state, (*ended.actions, SendHangup(call.call_id, why, say=True)))
    if res.action.type is ActionType.CALLBACK:
        # The caller is asked for the number (or to confirm theirs); the call waits meanwhile.
        return Step(moved, (Announce(call.call_id, ActionType.CALLBACK.value, why),))
    if res.action.type is ActionType.VOICEMAIL:
        recording = start_voicemail(moved, now, policy)
        return Step(recording, (Announce(call.call_id, ActionType.VOICEMAIL.value, why),))
    if res.action.type is ActionType.NUMBER and res.action.target:
        return Step(
            moved,
            (
                Announce(call.call_id, ActionType.NUMBER.value, why),
                DialNumber(call.call_id, res.action.target),
            ),
        )
    return Step(None)


def overflow_due_at(call: Call, policy: RoutingPolicy) -> datetime | None:
    if policy.overflow_after_s is None:
        return None
    due = call.enqueued_at + timedelta(seconds=policy.overflow_after_s)
    if call.next_overflow_at is not None and call.next_overflow_at > due:
        due = call.next_overflow_at
    return due


def queued_deadline(
    call: Call, now: datetime, policy: RoutingPolicy, *, overflow_now: bool = False
) -> datetime:
    """The next moment a waiting call needs a look: a check, its manager's limit, overflow.

    `overflow_now`: the step itself tries the overflow (TryOverflow). Its due moment, already
    past, must not make the deadline `now` again: the timer would fire at once, write the call
    and try again, over and over, while the attempt in flight loses every write to it (seen as
    a busy spare's call never reaching the next spare). The attempt puts the call through or
    moves the next round on (`no_spare`); a look after the retry pause is the safety net.
    """
    moments = [now + timedelta(seconds=policy.queued_check_s)]
    if call.preferred_until is not None and call.preferred_until > now:
        moments.append(call.preferred_until)
    if call.max_wait_at is not None:
        moments.append(max(call.max_wait_at, now))
    if overflow_now:
        moments.append(now + timedelta(seconds=policy.overflow_retry_s))
    elif (due := overflow_due_at(call, policy)) is not None:
        moments.append(max(due, now))
    return min(moments)


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
    # The owner is a party like the others from now on: its party_id is the offer's id.
    owner = CallParty(
        party_id=offer_id,
        kind=PartyKind.OPERATOR,
        address=current.target,
        state=PartyState.CONNECTED,
        created_at=current.created_at,
        role=PartyRole.OWNER,
        login=current.operator,
        connected_at=now,
    )
    new = replace(
        call,
        state=CallState.CONNECTED,
        operator=current.operator,
        connected_at=now,
        deadline=now + timedelta(seconds=policy.in_call_check_s),
        parties=(*call.parties, owner),
    )
    answer_s = max(0.0, (now - (current.sent_at or current.created_at)).total_seconds())
    return Step(new, (OfferAnswered(current.operator, offer_id, call.call_id, answer_s),))


def _requeue(
    call: Call, now: datetime, policy: RoutingPolicy, *, keep_preference: bool = True
) -> Call:
    # Back to the head of its queue: the original enqueued_at is kept.
    back = replace(call, state=CallState.QUEUED, offer=None, spare=None)
    if not keep_preference:
        back = replace(back, preferred=None, preferred_until=None)
    return replace(back, deadline=queued_deadline(back, now, policy))


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
    # A manager who did not take their caller's call is not waited for again.
    back = _requeue(call, now, policy, keep_preference=current.operator != call.preferred)
    return Step(back, (missed, DispatchCall(call.call_id)))


def offer_undeliverable(
    call: Call, offer_id: str, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The connect command never reached a live scenario handler: not the operator's fault."""
    current = _current(call, offer_id)
    if current is None:
        return Step(None)
    release = OfferReleased(current.operator, offer_id, UNDELIVERED)
    return Step(_requeue(call, now, policy), (release, DispatchCall(call.call_id)))


def offer_expired(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """Nobody reported on the offer in time: no answer if the phone rang, else no fault."""
    current = _current(call, offer_id)
    if current is None or current.expires_at > now:
        return Step(None)
    operator_action: Action
    if call.task == CALLBACK:
        # The platform never reported on the callback session: an attempt, nobody's miss.
        return callback_not_answered(call, offer_id, now, policy)
    if current.sent_at is not None:
        operator_action = OfferMissed(current.operator, offer_id, TIMEOUT_CODE)
    else:
        # The connect never got through (the process that sent it died): nobody's fault.
        operator_action = OfferReleased(current.operator, offer_id, UNDELIVERED)
    back = _requeue(call, now, policy, keep_preference=current.operator != call.preferred)
    if call.task is not None:  # offered on the desk: nothing rings to be stopped
        return Step(back, (operator_action, DispatchCall(call.call_id)))
    return Step(
        back, (SendCancel(call.call_id, offer_id), operator_action, DispatchCall(call.call_id))
    )


def _end(
    call: Call, outcome: Outcome, party: Party, reason: str | None, now: datetime
) -> Step[Call]:
    actions: list[Action] = []
    # The offer ringing when the call ended stays on it as a record of whom it rang (the
    # desk of that operator is told through it); a connected call's is cleared as before.
    last_offer = None
    why = CALLER_LEFT if party is Party.CALLER else CALL_ENDED
    if call.state is CallState.OFFERING and call.offer is not None:
        last_offer = call.offer
        why = CALLER_LEFT if reason == ABANDONED_WHILE_RINGING else CALL_ENDED
        actions.append(OfferReleased(call.offer.operator, call.offer.offer_id, why))
    elif call.state is CallState.CONNECTED and call.operator and call.connected_at:
        if not call.parties:  # connected before parties were recorded
            talk_s = max(0.0, (now - call.connected_at).total_seconds())
            actions.append(CallFinished(call.operator, call.call_id, talk_s, call.group))
    elif call.state in _ON_SPARE and call.spare is not None:
        if not call.spare.fallback:  # a group's own number holds no slot of the pool
            actions.append(ReleaseSpare(call.spare.number, call.call_id))
        if call.state is CallState.OVERFLOW_CONNECTED:
            outcome = Outcome.OVERFLOWED
    # Every party still on the line or ringing ends with the call: an operator talking goes
    # into wrap-up, one still ringing for it is freed without a miss.
    parties = []
    for p in call.parties:
        if p.state is PartyState.LEFT:
            parties.append(p)
            continue
        if p.kind is PartyKind.OPERATOR and p.login:
            if p.state is PartyState.DIALING:
                actions.append(OfferReleased(p.login, p.party_id, why))
            else:
                talk_s = max(0.0, (now - (p.connected_at or now)).total_seconds())
                actions.append(CallFinished(p.login, call.call_id, talk_s, call.group))
        ringing = p.state is PartyState.DIALING
        parties.append(
            replace(
                p,
                state=PartyState.LEFT,
                left_at=now,
                outcome="cancelled" if ringing else "call_ended",
            )
        )
    held = call.hold_s
    if call.held_since is not None:
        held += max(0.0, (now - call.held_since).total_seconds())
    if call.task == CALLBACK and outcome is Outcome.ANSWERED:
        outcome = Outcome.CALLBACK  # the callback reached the caller and an operator
    new = replace(
        call,
        state=CallState.ENDED,
        outcome=outcome,
        hung_up_by=party,
        end_reason=reason,
        ended_at=now,
        offer=last_offer,
        deadline=None,
        parties=tuple(parties),
        held_since=None,
        hold_s=held,
    )
    return Step(new, tuple(actions))


def end(
    call: Call, outcome: Outcome, party: Party, reason: str | None, now: datetime
) -> Step[Call]:
    """End the call now, settling every party (domain/parties.py ends calls through this)."""
    return _end(call, outcome, party, reason, now)


_ON_SPARE = (CallState.OVERFLOW_OFFERING, CallState.OVERFLOW_CONNECTED)


def caller_hung_up(call: Call, now: datetime) -> Step[Call]:
    if call.ended:
        return Step(None)
    if call.state in (CallState.CONNECTED, CallState.OVERFLOW_CONNECTED):
        return _end(call, Outcome.ANSWERED, Party.CALLER, None, now)
    ringing = call.state in (CallState.OFFERING, CallState.OVERFLOW_OFFERING)
    reason = ABANDONED_WHILE_RINGING if ringing else None
    return _end(call, Outcome.ABANDONED, Party.CALLER, reason, now)


def operator_hung_up(call: Call, now: datetime) -> Step[Call]:
    """The operator (or the spare number's person) hung up a connected call."""
    if call.state not in (CallState.CONNECTED, CallState.OVERFLOW_CONNECTED):
        return Step(None)
    return _end(call, Outcome.ANSWERED, Party.OPERATOR, None, now)


def session_ended(call: Call, now: datetime) -> Step[Call]:
    """The scenario is ending; anything not yet settled is settled now."""
    if call.ended:
        return Step(None)
    if call.state in (CallState.CONNECTED, CallState.OVERFLOW_CONNECTED):
        return _end(call, Outcome.ANSWERED, Party.SYSTEM, "session_ended", now)
    return _end(call, Outcome.ABANDONED, Party.CALLER, "session_ended", now)


def session_gone(call: Call, now: datetime, reason: str) -> Step[Call]:
    """The access URL answered 404/410 or never answered: the session no longer exists."""
    if call.ended:
        return Step(None)
    connected = call.state in (CallState.CONNECTED, CallState.OVERFLOW_CONNECTED)
    outcome = Outcome.ANSWERED if connected else Outcome.FAILED
    return _end(call, outcome, Party.SYSTEM, reason, now)


def hangup_requested(call: Call, party: Party, reason: str, now: datetime) -> Step[Call]:
    """An operator or administrator ends the call from the backend side."""
    if call.ended:
        return Step(None)
    outcome = Outcome.ANSWERED if call.state is CallState.CONNECTED else Outcome.REJECTED
    return _end(call, outcome, party, reason, now)


def deadline_reached(call: Call, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """Offer expiry, a manager's limit, overflow, or the periodic look at a call."""
    if call.deadline is None or call.deadline > now or call.ended:
        return Step(None)
    if call.state is CallState.OFFERING and call.offer is not None:
        return offer_expired(call, call.offer.offer_id, now, policy)
    if call.state is CallState.OVERFLOW_OFFERING and call.spare is not None:
        return spare_expired(call, call.spare.offer_id, now, policy)
    if call.state is CallState.CONNECTED and call.parties:
        from backend.domain import parties as party_rules  # parties builds on this module

        ring = party_rules.next_ring(call)
        if ring is not None and ring.expires_at is not None and ring.expires_at <= now:
            return party_rules.party_expired(call, ring.party_id, now, policy)
        new = replace(call, deadline=party_rules.connected_deadline(call, now, policy))
        return Step(new, (CheckSession(call.call_id),))
    if call.state is CallState.CALLBACK_WAIT:
        # Time for the next attempt: back in line, at its original place.
        again = replace(call, state=CallState.QUEUED)
        again = replace(again, deadline=queued_deadline(again, now, policy))
        return Step(again, (DispatchCall(call.call_id),))
    if call.state is CallState.VOICEMAIL:
        # No message came (the session died before the recorder stopped).
        return _end(call, Outcome.ABANDONED, Party.CALLER, "no_voicemail", now)
    if call.state is CallState.QUEUED:
        new = call
        if call.preferred is not None and call.waits_for(now) is None:
            new = replace(new, preferred=None, preferred_until=None)  # waited long enough
        actions: list[Action] = [DispatchCall(call.call_id)]
        if call.task is None:  # a task has no session to look at
            actions.insert(0, CheckSession(call.call_id))
        due = overflow_due_at(new, policy)
        overflow_now = due is not None and due <= now
        if overflow_now:
            actions.append(TryOverflow(call.call_id))
        new = replace(new, deadline=queued_deadline(new, now, policy, overflow_now=overflow_now))
        return Step(new, tuple(actions))
    new = replace(call, deadline=now + timedelta(seconds=policy.in_call_check_s))
    return Step(new, () if call.task else (CheckSession(call.call_id),))


def preference_dropped(
    call: Call, operator: str, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """The manager this call waits for went away: the group takes it at once."""
    if call.state is not CallState.QUEUED or call.preferred != operator:
        return Step(None)
    new = replace(call, preferred=None, preferred_until=None)
    new = replace(new, deadline=queued_deadline(new, now, policy))
    return Step(new, (DispatchCall(call.call_id),))


# -- overflow to spare numbers ----------------------------------------------------------


def spare_offer(call: Call, attempt: SpareAttempt) -> Step[Call]:
    if call.state is not CallState.QUEUED:
        return Step(None)
    new = replace(
        call,
        state=CallState.OVERFLOW_OFFERING,
        spare=attempt,
        spares_tried=(*call.spares_tried, attempt.number),
        deadline=attempt.expires_at,
    )
    return Step(new)


def _current_spare(call: Call, offer_id: str) -> SpareAttempt | None:
    if (
        call.state is CallState.OVERFLOW_OFFERING
        and call.spare is not None
        and call.spare.offer_id == offer_id
    ):
        return call.spare
    return None


def spare_sent(call: Call, offer_id: str, now: datetime) -> Step[Call]:
    current = _current_spare(call, offer_id)
    if current is None or current.sent_at is not None:
        return Step(None)
    return Step(replace(call, spare=replace(current, sent_at=now)))


def spare_connected(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    current = _current_spare(call, offer_id)
    if current is None:
        return Step(None)
    new = replace(
        call,
        state=CallState.OVERFLOW_CONNECTED,
        connected_at=now,
        preferred=None,
        preferred_until=None,
        deadline=now + timedelta(seconds=policy.in_call_check_s),
    )
    return Step(new)


def spare_failed(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """The spare did not take it: free the slot; an operator or the next spare may take the call."""
    current = _current_spare(call, offer_id)
    if current is None:
        return Step(None)
    if current.fallback:
        # The group's own number did not take the call: nobody else will, so say so.
        ended = _end(call, Outcome.FAILED, Party.SYSTEM, NUMBER_FAILED, now)
        assert ended.state is not None
        return Step(
            replace(ended.state, spare=current),
            (*ended.actions, SendHangup(call.call_id, NUMBER_FAILED, say=True)),
        )
    back = _requeue(call, now, policy)
    back = replace(back, deadline=queued_deadline(back, now, policy, overflow_now=True))
    actions = (
        ReleaseSpare(current.number, call.call_id),
        DispatchCall(call.call_id),
        TryOverflow(call.call_id),
    )
    return Step(back, actions)


def spare_expired(call: Call, offer_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    current = _current_spare(call, offer_id)
    if current is None or current.expires_at > now:
        return Step(None)
    step = spare_failed(call, offer_id, now, policy)
    return Step(step.state, (SendCancel(call.call_id, offer_id), *step.actions))


def no_spare(call: Call, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """No spare qualifies now: the call keeps its place; the next round waits a while."""
    if call.state is not CallState.QUEUED:
        return Step(None)
    new = replace(
        call, spares_tried=(), next_overflow_at=now + timedelta(seconds=policy.overflow_retry_s)
    )
    return Step(replace(new, deadline=queued_deadline(new, now, policy)))


def overflow_due(call: Call, now: datetime, policy: RoutingPolicy) -> bool:
    due = overflow_due_at(call, policy)
    return call.state is CallState.QUEUED and due is not None and due <= now
