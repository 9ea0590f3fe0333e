"""Seed 002 in the core: the caller hangs up, the others talk on, the call ends when one party
is left (backend/domain/parties.py: caller_hung_up, party_left after the caller left)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.domain import calls, parties
from backend.domain.actions import (
    CallFinished,
    OfferReleased,
    Refused,
    SendHangup,
    SendRemoveParty,
    Step,
)
from backend.domain.model import (
    Address,
    Call,
    CallParty,
    CallState,
    Outcome,
    Party,
    PartyKind,
    PartyState,
    TargetType,
)
from tests.unit.party_calls import POLICY, at, connected, joined, moved
from tests.unit.party_calls import external as number


def operator(party_id: str, login: str, t: float = 10) -> CallParty:
    address = Address(TargetType.USER, login)
    return parties.new_party(party_id, PartyKind.OPERATOR, address, at(t), POLICY, login=login)


def three() -> Call:
    """The caller, ann (the owner, since 2 s) and bob (asked in, on the line since 12 s)."""
    return joined(connected(), operator("p1", "bob"))


def left_by_caller(call: Call, t: float = 30) -> Call:
    return moved(parties.caller_hung_up(call, at(t), POLICY, others_stay=True))


def test_talk_on_needs_two_on_the_line_and_an_operator_among_them() -> None:
    ann, bob, x1, x2 = operator("a", "ann"), operator("b", "bob"), number("x1"), number("x2")
    assert parties.talk_on([ann, bob])
    assert parties.talk_on([x1, ann])
    assert not parties.talk_on([x1, x2])
    assert not parties.talk_on([ann])
    assert not parties.talk_on([])


def test_the_caller_leaves_three_and_the_other_two_talk_on() -> None:
    call = three()
    step = parties.caller_hung_up(call, at(30), POLICY, others_stay=True)
    assert step == Step(replace(call, caller_left_at=at(30), deadline=at(630)), ())
    # A repeated report changes nothing (it would otherwise end the call).
    assert parties.caller_hung_up(moved(step), at(31), POLICY, others_stay=True) == Step(None)
    assert parties.caller_hung_up(moved(step), at(31), POLICY, others_stay=False) == Step(None)


def test_the_callers_hold_is_closed_and_a_ringing_party_taken_back_without_a_miss() -> None:
    call = replace(three(), held_since=at(20))
    carl = operator("p2", "carl", t=25)
    call = moved(parties.add(call, carl, at(25), POLICY, 6))
    step = parties.caller_hung_up(call, at(30), POLICY, others_stay=True)
    cancelled = replace(carl, state=PartyState.LEFT, left_at=at(30), outcome="cancelled")
    assert step == Step(
        replace(
            call,
            parties=(*call.parties[:2], cancelled),
            caller_left_at=at(30),
            held_since=None,
            hold_s=10.0,
            deadline=at(630),
        ),
        (OfferReleased("carl", "p2", "cancelled"),),
    )
    # A number still ringing: taken back, nobody's offer to release.
    ringing = moved(parties.add(three(), number("x0001", 25), at(25), POLICY, 6))
    step = parties.caller_hung_up(ringing, at(30), POLICY, others_stay=True)
    assert step.actions == ()
    assert [(p.state, p.outcome) for p in moved(step).parties][-1] == (
        PartyState.LEFT,
        "cancelled",
    )


def test_without_two_others_on_the_line_the_call_ends_as_before() -> None:
    # Only the owner with the caller, though the scenario kept the leg: it ends, and the
    # scenario is told to hang the leg up.
    call = connected()
    before = calls.caller_hung_up(call, at(30))
    assert before.state is not None and before.state.state is CallState.ENDED
    step = parties.caller_hung_up(call, at(30), POLICY, others_stay=True)
    assert step == Step(before.state, (*before.actions, SendHangup("c1", "caller_gone")))
    # The scenario did not keep the legs: the call ends, nothing to hang up.
    assert parties.caller_hung_up(three(), at(30), POLICY, others_stay=False) == (
        calls.caller_hung_up(three(), at(30))
    )
    assert moved(parties.caller_hung_up(three(), at(30), POLICY, others_stay=False)).ended
    # Kept, but the call is not connected (the owner's answer had not come through).
    offering = replace(three(), state=CallState.OFFERING)
    ended = calls.caller_hung_up(offering, at(30))
    assert parties.caller_hung_up(offering, at(30), POLICY, others_stay=True) == Step(
        ended.state, (*ended.actions, SendHangup("c1", "caller_gone"))
    )
    # An ended call: nothing at all.
    over = moved(calls.caller_hung_up(call, at(30)))
    assert parties.caller_hung_up(over, at(31), POLICY, others_stay=True) == Step(None)


def test_after_the_caller_left_the_call_ends_when_one_party_is_left() -> None:
    call = left_by_caller(three())
    # Bob hangs up on his side: ann is alone, the scenario ends the session by itself.
    step = parties.party_left(call, "p1", at(40), POLICY, requested=False)
    ended = moved(step)
    assert (ended.state, ended.outcome, ended.hung_up_by, ended.end_reason, ended.ended_at) == (
        CallState.ENDED,
        Outcome.ANSWERED,
        Party.CALLER,
        "parties_left",
        at(40),
    )
    assert [(p.login, p.outcome) for p in ended.parties] == [
        ("ann", "call_ended"),
        ("bob", "hung_up"),
    ]
    assert ended.caller_left_at == at(30)
    assert step.actions == (
        CallFinished("bob", "c1", 28.0, "default"),
        CallFinished("ann", "c1", 38.0, "default"),
    )
    # Ann (the owner) leaves on request: bob is alone; the scenario is told to hang up.
    step = parties.party_left(call, "o1", at(40), POLICY, requested=True)
    assert moved(step).ended and moved(step).operator == "bob"
    assert step.actions == (
        SendRemoveParty("c1", "o1"),
        CallFinished("ann", "c1", 38.0, "default"),
        CallFinished("bob", "c1", 28.0, "default"),
        SendHangup("c1", "parties_left"),
    )


def test_after_the_caller_left_three_others_talk_on_when_one_goes() -> None:
    call = left_by_caller(joined(three(), number("x0001"), t=20))
    step = parties.party_left(call, "p1", at(40), POLICY, requested=False)
    bob = call.party("p1")
    assert bob is not None
    gone = replace(bob, state=PartyState.LEFT, left_at=at(40), outcome="hung_up")
    assert step == Step(
        replace(call, parties=(call.parties[0], gone, call.parties[2]), deadline=at(640)),
        (CallFinished("bob", "c1", 28.0, "default"),),
    )
    # The owner leaves: bob owns what is left of the call.
    step = parties.party_left(call, "o1", at(40), POLICY, requested=True)
    assert (moved(step).state, moved(step).operator) == (CallState.CONNECTED, "bob")


def test_after_the_caller_left_two_numbers_without_an_operator_are_hung_up() -> None:
    call = left_by_caller(joined(joined(connected(), number("x0001")), number("x0002"), t=20))
    step = parties.party_left(call, "o1", at(40), POLICY, requested=False)
    ended = moved(step)
    assert ended.ended and ended.operator is None
    assert [p.outcome for p in ended.parties] == ["hung_up", "call_ended", "call_ended"]
    # The scenario would let the two talk on: the backend says hang up.
    assert step.actions == (
        CallFinished("ann", "c1", 38.0, "default"),
        SendHangup("c1", "parties_left"),
    )


def test_nothing_more_is_done_for_the_caller_once_they_left() -> None:
    call = left_by_caller(three())
    for rule in (
        lambda: parties.hold(call, at(40)),
        lambda: parties.check_can_add(call, 6),
        lambda: parties.blind_to_queue(call, "ann", at(40), POLICY),
        lambda: parties.blind_to_number(call, "ann", number("x0003", 40), at(40), POLICY),
    ):
        with pytest.raises(Refused) as e:
            rule()
        assert (e.value.code, e.value.message) == ("caller_left", "the caller has left this call")
    # Refused for not being connected first, when both hold.
    with pytest.raises(Refused) as e:
        parties.hold(replace(call, state=CallState.QUEUED), at(40))
    assert e.value.code == "not_connected"
