"""A supervisor on a connected call: listen, whisper to the operators, barge in.

A supervisor's leg is a `CallParty` of kind `supervisor` with a `mode`; the scenario routes
its media by that mode (listen: the supervisor hears the call and nobody hears them; whisper:
only the operators hear them; barge: everyone does). It is not a party for the other rules
(domain/parties.py leaves it out of `active`, `dialing` and `on_line`): it never keeps a call
going, never counts against `max_parties`, never blocks a party being added and never owns
the call. It leaves when the call ends or goes back to the queue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from backend.domain import parties as party_rules
from backend.domain.actions import (
    Action,
    Refused,
    SendAddParty,
    SendPartyMode,
    SendRemoveParty,
    Step,
)
from backend.domain.model import (
    Address,
    Call,
    CallParty,
    CallState,
    PartyKind,
    PartyState,
    SuperviseMode,
)
from backend.domain.policy import RoutingPolicy

# The outcome of a supervisor's party that left because the call left its operators.
CALL_MOVED = "call_moved"


def supervisors(call: Call) -> list[CallParty]:
    """Supervisors on the call or ringing for it."""
    return [p for p in call.parties if p.supervisor and p.active]


def of(call: Call, login: str | None) -> CallParty | None:
    """This supervisor's own party on the call, if they are on it or it rings for them."""
    return next((p for p in supervisors(call) if p.login == login), None)


def new_party(
    party_id: str,
    login: str,
    address: Address,
    mode: SuperviseMode,
    now: datetime,
    policy: RoutingPolicy,
) -> CallParty:
    return CallParty(
        party_id=party_id,
        kind=PartyKind.SUPERVISOR,
        address=address,
        state=PartyState.DIALING,
        created_at=now,
        login=login,
        requested_by=login,
        expires_at=now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s),
        mode=mode,
    )


def check_can_join(call: Call, login: str | None) -> None:
    """Refused unless this supervisor may join this call now."""
    if call.state is not CallState.CONNECTED:
        raise Refused(
            party_rules.NOT_CONNECTED, f"call {call.call_id} is {call.state.value}, not connected"
        )
    if of(call, login) is not None:
        raise Refused("already_supervising", f"{login} supervises this call already")
    if login in party_rules.logins(call):
        raise Refused("already_on_call", f"{login} is an operator on this call")


def join(call: Call, party: CallParty, now: datetime, policy: RoutingPolicy) -> Step[Call]:
    """The supervisor's leg rings (their browser answers it by itself); its mode routes it."""
    check_can_join(call, party.login)
    new = replace(call, parties=(*call.parties, party))
    new = replace(new, deadline=party_rules.connected_deadline(new, now, policy))
    send = SendAddParty(
        call.call_id, party.party_id, party.address, policy.ring_timeout_s, mode=party.mode
    )
    return Step(new, (send,))


def set_mode(call: Call, party_id: str, mode: SuperviseMode) -> Step[Call]:
    """The supervisor switches between listen, whisper and barge on the same leg."""
    p = call.party(party_id)
    if p is None or not p.supervisor:
        raise Refused("not_supervisor", f"party {party_id} is not a supervisor's")
    if not p.active or call.ended:
        raise Refused("party_left", f"party {party_id} is not on the call")
    if p.mode is mode:
        return Step(None)  # nothing changes: nothing is written or sent
    new = replace(call, parties=tuple(replace(x, mode=mode) if x is p else x for x in call.parties))
    return Step(new, (SendPartyMode(call.call_id, party_id, mode),))


def all_leave(call: Call, now: datetime, actions: list[Action]) -> Call:
    """Every supervisor leaves (the call goes back to the queue or away from its operators):
    their legs are hung up, the actions for that appended to `actions`."""
    gone = supervisors(call)
    if not gone:
        return call
    ids = {p.party_id for p in gone}
    parties = tuple(
        replace(p, state=PartyState.LEFT, left_at=now, outcome=CALL_MOVED)
        if p.party_id in ids
        else p
        for p in call.parties
    )
    actions.extend(SendRemoveParty(call.call_id, p.party_id) for p in gone)
    return replace(call, parties=parties)
