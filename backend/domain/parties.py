"""Calls with more than two parties: hold, help (three-party, conference), leave, transfer.

Pure, like the rest of the core: each function takes the call, the event and `now`, and returns
a Step (or raises Refused when the request is not allowed now). The caller is not a stored
party: the call itself is the caller's leg (`held_since` is the caller's hold). Every other
leg is a `CallParty`; an operator's party is an offer like any other while it rings (its
`party_id` is the offer id on the operator's document).

Rules (architecture §8, seed 002): when one party of three leaves, the other two keep talking;
the call ends when the caller leaves or when nobody but the caller is left; a party that fails
to answer is recorded on the call and the call goes on, except when nobody else is on it (a
transfer whose target did not answer): then the call goes back to the head of its group's
queue, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from backend.domain import calls as call_rules
from backend.domain import supervision
from backend.domain.actions import (
    Action,
    CallFinished,
    DispatchCall,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    Refused,
    SendAddParty,
    SendHangup,
    SendHold,
    SendRemoveParty,
    Step,
)
from backend.domain.model import (
    Address,
    Call,
    CallParty,
    CallState,
    Operator,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    PartyState,
    Strategy,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.selection import choose_operator

# Outcomes of a party (`CallParty.outcome`).
NO_ANSWER = "no_answer"  # rang out, busy, declined
FAILED = "failed"  # could not be placed (bad address, no money ...)
CANCELLED = "cancelled"  # taken back while it rang
LEFT = "left"  # left with DELETE …/parties/{id}
HUNG_UP = "hung_up"  # hung up on their side
TRANSFERRED = "transferred"  # the owner handed the call over (blind)
CALL_ENDED = "call_ended"  # on the line when the call ended

# `end_reason` of a call that ended because nobody but the caller was left.
PARTIES_LEFT = "parties_left"
# What a refusal names.
NOT_CONNECTED = "not_connected"


# A supervisor's leg (domain/supervision.py) is none of these: it never keeps a call going,
# never counts against max_parties and never blocks a party from being added.


def active(call: Call) -> list[CallParty]:
    return [p for p in call.parties if p.active and not p.supervisor]


def dialing(call: Call) -> CallParty | None:
    return next(
        (p for p in call.parties if p.state is PartyState.DIALING and not p.supervisor), None
    )


def on_line(call: Call) -> list[CallParty]:
    return [p for p in call.parties if p.on_line and not p.supervisor]


def next_ring(call: Call) -> CallParty | None:
    """The leg ringing that runs out first, a supervisor's included."""
    ringing = [p for p in call.parties if p.state is PartyState.DIALING and p.expires_at]
    return min(ringing, key=lambda p: p.expires_at or p.created_at, default=None)


def operator_on_line(call: Call, login: str) -> CallParty | None:
    """The operator's own party on this call, connected (or held), if any."""
    for p in call.parties:
        if p.kind is PartyKind.OPERATOR and p.login == login and p.on_line:
            return p
    return None


def on_call(call: Call, login: str) -> bool:
    """Whether the operator talks on this call (its owner, or a helper who answered)."""
    if call.ended:
        return False
    if call.operator == login and call.state is CallState.CONNECTED:
        return True
    return operator_on_line(call, login) is not None


def logins(call: Call) -> set[str]:
    """Operators on this call or ringing for it: none of them may be asked in again."""
    out = {p.login for p in active(call) if p.login}
    if call.operator:
        out.add(call.operator)
    return out


def size(call: Call) -> int:
    """The caller and every party on the line or ringing."""
    return 1 + len(active(call))


def connected_deadline(call: Call, now: datetime, policy: RoutingPolicy) -> datetime:
    """The next look at a connected call: the periodic check, or a party's ring deadline."""
    moments = [now + timedelta(seconds=policy.in_call_check_s)]
    ring = next_ring(call)
    if ring is not None and ring.expires_at is not None:
        moments.append(ring.expires_at)
    return min(moments)


def _with(call: Call, party: CallParty) -> Call:
    parties = tuple(party if p.party_id == party.party_id else p for p in call.parties)
    return replace(call, parties=parties)


def _require_connected(call: Call) -> None:
    if call.state is not CallState.CONNECTED:
        raise Refused(NOT_CONNECTED, f"call {call.call_id} is {call.state.value}, not connected")


# -- hold --------------------------------------------------------------------------------


def hold(call: Call, now: datetime) -> Step[Call]:
    """The caller hears music; nobody hears the caller. The time held is kept on the call."""
    _require_connected(call)
    if call.held_since is not None:
        raise Refused("already_held", "the caller is on hold already")
    return Step(replace(call, held_since=now), (SendHold(call.call_id, True),))


def unhold(call: Call, now: datetime) -> Step[Call]:
    _require_connected(call)
    if call.held_since is None:
        raise Refused("not_held", "the caller is not on hold")
    held = max(0.0, (now - call.held_since).total_seconds())
    new = replace(call, held_since=None, hold_s=call.hold_s + held)
    return Step(new, (SendHold(call.call_id, False),))


def hold_closed(call: Call, now: datetime) -> Call:
    """The call with its current hold (if any) counted in, for a call that ends or moves."""
    if call.held_since is None:
        return call
    held = max(0.0, (now - call.held_since).total_seconds())
    return replace(call, held_since=None, hold_s=call.hold_s + held)


# -- adding a party ----------------------------------------------------------------------


def check_can_add(call: Call, max_parties: int) -> None:
    """Refused unless one more party may be dialled into this call now."""
    _require_connected(call)
    if (ringing := dialing(call)) is not None:
        raise Refused(
            "party_dialing", f"party {ringing.party_id} is still ringing: one party at a time"
        )
    if size(call) >= max_parties:
        raise Refused(
            "too_many_parties", f"the call has {size(call)} parties: at most {max_parties}"
        )


def help_candidates(
    call: Call,
    group: str,
    routable: Iterable[Operator],
    strategy: Strategy,
    now: datetime,
    exclude: Iterable[str] = (),
) -> Operator | None:
    """The best routable operator of `group` by its strategy, not already on this call."""
    skip = logins(call) | set(exclude)
    probe = replace(call, group=group, preferred=None, preferred_until=None, state=CallState.QUEUED)
    return choose_operator(probe, routable, strategy, exclude=tuple(skip), now=now)


def new_party(
    party_id: str,
    kind: PartyKind,
    address: Address,
    now: datetime,
    policy: RoutingPolicy,
    *,
    role: PartyRole = PartyRole.HELP,
    login: str | None = None,
    requested_by: str | None = None,
    reason: str | None = None,
) -> CallParty:
    expires = now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
    return CallParty(
        party_id=party_id,
        kind=kind,
        address=address,
        state=PartyState.DIALING,
        created_at=now,
        role=role,
        login=login,
        requested_by=requested_by,
        expires_at=expires,
        reason=reason,
    )


def add(
    call: Call, party: CallParty, now: datetime, policy: RoutingPolicy, max_parties: int
) -> Step[Call]:
    """One more leg rings for the call; when it answers, everyone hears everyone."""
    check_can_add(call, max_parties)
    new = replace(call, parties=(*call.parties, party))
    new = replace(new, deadline=connected_deadline(new, now, policy))
    send = SendAddParty(call.call_id, party.party_id, party.address, policy.ring_timeout_s)
    return Step(new, (send,))


def party_connected(call: Call, party_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    p = call.party(party_id)
    if p is None or p.state is not PartyState.DIALING or call.state is not CallState.CONNECTED:
        return Step(None)
    joined = replace(p, state=PartyState.CONNECTED, connected_at=now, expires_at=None)
    new = _with(call, joined)
    if new.operator is None and p.kind is PartyKind.OPERATOR:
        new = replace(new, operator=p.login)  # nobody owned it (the owner left meanwhile)
    new = replace(new, deadline=connected_deadline(new, now, policy))
    actions: list[Action] = []
    if p.kind is PartyKind.OPERATOR and p.login:
        answer_s = max(0.0, (now - p.created_at).total_seconds())
        actions.append(OfferAnswered(p.login, party_id, call.call_id, answer_s))
    return Step(new, tuple(actions))


def _nobody_left(call: Call, now: datetime, policy: RoutingPolicy, actions: list[Action]) -> Call:
    """After a party went: with nobody but the caller on the line or ringing, the call goes
    back to the head of its group's queue (its enqueued_at is kept)."""
    if on_line(call) or dialing(call) is not None:
        return call
    back = hold_closed(supervision.all_leave(call, now, actions), now)
    back = replace(back, state=CallState.QUEUED, offer=None, operator=None, spare=None)
    back = replace(back, deadline=call_rules.queued_deadline(back, now, policy))
    actions.append(DispatchCall(call.call_id))
    return back


def party_failed(
    call: Call,
    party_id: str,
    code: int,
    now: datetime,
    policy: RoutingPolicy,
    *,
    expired: bool = False,
) -> Step[Call]:
    """The party did not answer (or could not be reached): recorded, and the call goes on."""
    p = call.party(party_id)
    if p is None or p.state is not PartyState.DIALING:
        return Step(None)
    if expired and (p.expires_at is None or p.expires_at > now):
        return Step(None)
    outcome = NO_ANSWER if code in call_rules.OPERATOR_FAULT_CODES else FAILED
    gone = replace(p, state=PartyState.LEFT, left_at=now, outcome=outcome, code=code)
    actions: list[Action] = []
    if expired:
        actions.append(SendRemoveParty(call.call_id, party_id))
    if p.kind is PartyKind.OPERATOR and p.login:
        actions.append(OfferMissed(p.login, party_id, code))
    new = _with(call, gone)
    if new.state is CallState.CONNECTED:
        if not p.supervisor:  # a supervisor who did not answer changes nothing else
            new = _nobody_left(new, now, policy, actions)
        if new.state is CallState.CONNECTED:
            new = replace(new, deadline=connected_deadline(new, now, policy))
    return Step(new, tuple(actions))


def party_expired(call: Call, party_id: str, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """Nobody reported on the party's leg in time: a no-answer; its leg is hung up."""
    return party_failed(call, party_id, call_rules.TIMEOUT_CODE, now, policy, expired=True)


def _next_owner(call: Call) -> str | None:
    for p in call.parties:
        if p.kind is PartyKind.OPERATOR and p.on_line and p.login:
            return p.login
    return None


def party_left(
    call: Call,
    party_id: str,
    now: datetime,
    policy: RoutingPolicy,
    *,
    requested: bool,
) -> Step[Call]:
    """A party leaves (DELETE, `requested`) or hung up (reported by the scenario).

    The others keep talking; the owner's place goes to the next operator on the line. A party
    still ringing is taken back without a miss. Nobody but the caller left: the call ends.
    """
    p = call.party(party_id)
    if p is None or not p.active or call.ended:
        return Step(None)
    actions: list[Action] = []
    if requested:
        actions.append(SendRemoveParty(call.call_id, party_id))
    if p.state is PartyState.DIALING:
        gone = replace(p, state=PartyState.LEFT, left_at=now, outcome=CANCELLED)
        if p.kind is PartyKind.OPERATOR and p.login:
            actions.append(OfferReleased(p.login, party_id, CANCELLED))
    else:
        gone = replace(
            p, state=PartyState.LEFT, left_at=now, outcome=LEFT if requested else HUNG_UP
        )
        if p.kind is PartyKind.OPERATOR and p.login:
            talk_s = max(0.0, (now - (p.connected_at or now)).total_seconds())
            actions.append(CallFinished(p.login, call.call_id, talk_s, call.group))
    new = _with(call, gone)
    if p.login is not None and p.login == new.operator:
        new = replace(new, operator=_next_owner(new))
    if on_line(new) or dialing(new) is not None or p.supervisor:
        # A supervisor leaving never ends the call.
        return Step(replace(new, deadline=connected_deadline(new, now, policy)), tuple(actions))
    ended = call_rules.end(new, Outcome.ANSWERED, Party.OPERATOR, PARTIES_LEFT, now)
    assert ended.state is not None
    # Left by request: the scenario says goodbye to the caller (a leg that hung up by itself
    # was the last one, and the scenario has said it already).
    bye = (SendHangup(call.call_id, PARTIES_LEFT),) if requested else ()
    return Step(ended.state, (*actions, *ended.actions, *bye))


# -- transfer ----------------------------------------------------------------------------


def transfer_note(by: str, to: str, reason: str) -> str:
    """The note the system writes on the call by itself."""
    return f"transferred by {by} to {to}: {reason}"


def blind_to_queue(
    call: Call,
    by: str,
    now: datetime,
    policy: RoutingPolicy,
    *,
    group: str | None = None,
    operator: str | None = None,
) -> Step[Call]:
    """Blind transfer to an operator or a group: the transferring operator goes into wrap-up at
    once, and the caller waits at the head of the queue (for the named operator first)."""
    _require_connected(call)
    own = operator_on_line(call, by)
    others = [p for p in active(call) if p.party_id != (own.party_id if own else None)]
    if others:
        raise Refused(
            "parties_present", "other parties are on the call: they leave first, or consult"
        )
    actions: list[Action] = []
    parties = call.parties
    if own is not None:
        gone = replace(own, state=PartyState.LEFT, left_at=now, outcome=TRANSFERRED)
        parties = tuple(gone if p.party_id == own.party_id else p for p in parties)
        talk_s = max(0.0, (now - (own.connected_at or now)).total_seconds())
        actions += [
            CallFinished(by, call.call_id, talk_s, call.group),
            SendRemoveParty(call.call_id, own.party_id),
        ]
    elif call.operator and call.offer is not None:
        # A call connected before parties were recorded: its owner's leg is its offer's.
        talk_s = max(0.0, (now - (call.connected_at or now)).total_seconds())
        actions += [
            CallFinished(call.operator, call.call_id, talk_s, call.group),
            SendRemoveParty(call.call_id, call.offer.offer_id),
        ]
    back = hold_closed(replace(call, parties=parties), now)
    back = supervision.all_leave(back, now, actions)
    back = replace(
        back,
        state=CallState.QUEUED,
        offer=None,
        operator=None,
        group=group or call.group,
        preferred=operator,
        preferred_until=(
            now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
            if operator
            else None
        ),
    )
    back = replace(back, deadline=call_rules.queued_deadline(back, now, policy))
    actions.append(DispatchCall(call.call_id))
    return Step(back, tuple(actions))


def blind_to_number(
    call: Call, by: str, party: CallParty, now: datetime, policy: RoutingPolicy
) -> Step[Call]:
    """Blind transfer to an external number: the operator leaves at once, the number rings;
    if it does not answer, the call goes back to the head of its group's queue."""
    _require_connected(call)
    own = operator_on_line(call, by)
    if own is None:
        raise Refused(NOT_CONNECTED, f"{by} is not on call {call.call_id}")
    if [p for p in active(call) if p.party_id != own.party_id]:
        raise Refused(
            "parties_present", "other parties are on the call: they leave first, or consult"
        )
    gone = replace(own, state=PartyState.LEFT, left_at=now, outcome=TRANSFERRED)
    talk_s = max(0.0, (now - (own.connected_at or now)).total_seconds())
    new = replace(_with(call, gone), operator=None, parties=(*_with(call, gone).parties, party))
    actions: list[Action] = [
        CallFinished(by, call.call_id, talk_s, call.group),
        SendRemoveParty(call.call_id, own.party_id),
        SendAddParty(call.call_id, party.party_id, party.address, policy.ring_timeout_s),
    ]
    new = supervision.all_leave(new, now, actions)  # nobody of ours is left to supervise
    new = replace(new, deadline=connected_deadline(new, now, policy))
    return Step(new, tuple(actions))
