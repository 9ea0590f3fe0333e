"""Calls with more than two parties in the pure core (backend/domain/parties.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import calls, parties
from backend.domain.actions import (
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
    CallState,
    Media,
    Offer,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    PartyState,
    TargetType,
)
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(ring_timeout_s=20, offer_grace_s=5, in_call_check_s=600)
ANN = Address(TargetType.USER, "ann")
BOB = Address(TargetType.USER, "bob")
NUMBER = Address(TargetType.PSTN, "+15550001234")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def moved(step: Step[Call]) -> Call:
    assert step.state is not None, "expected a change"
    return step.state


def connected() -> Call:
    call = moved(calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY))
    call = moved(calls.offer(call, Offer("o1", "ann", ANN, at(1), at(31))))
    return moved(calls.offer_connected(call, "o1", at(2), POLICY))


def with_bob(t: float = 10, role: PartyRole = PartyRole.HELP) -> Call:
    party = parties.new_party(
        "p1", PartyKind.OPERATOR, BOB, at(t), POLICY, role=role, login="bob", requested_by="ann"
    )
    step = parties.add(connected(), party, at(t), POLICY, max_parties=3)
    assert step.actions == (SendAddParty("c1", "p1", BOB, 20),)
    return moved(step)


def test_the_owner_is_a_party_once_connected() -> None:
    [owner] = connected().parties
    assert (owner.party_id, owner.login, owner.role, owner.state) == (
        "o1",
        "ann",
        PartyRole.OWNER,
        PartyState.CONNECTED,
    )


def test_a_ringing_party_sets_the_calls_deadline_and_expires_as_a_miss() -> None:
    call = with_bob()
    assert call.deadline == at(10 + 25)
    assert calls.deadline_reached(call, at(34), POLICY).state is None
    step = calls.deadline_reached(call, at(35), POLICY)
    gone = moved(step).party("p1")
    assert gone is not None and (gone.state, gone.outcome, gone.code) == (
        PartyState.LEFT,
        parties.NO_ANSWER,
        408,
    )
    assert step.actions == (SendRemoveParty("c1", "p1"), OfferMissed("bob", "p1", 408))
    assert moved(step).state is CallState.CONNECTED  # ann and the caller go on


def test_one_party_at_a_time_and_the_limit() -> None:
    call = with_bob()
    extra = parties.new_party("p2", PartyKind.EXTERNAL, NUMBER, at(11), POLICY)
    with pytest.raises(Refused) as e:
        parties.add(call, extra, at(11), POLICY, max_parties=6)
    assert e.value.code == "party_dialing"
    call = moved(parties.party_connected(call, "p1", at(12), POLICY))
    with pytest.raises(Refused) as e:
        parties.add(call, extra, at(13), POLICY, max_parties=3)
    assert e.value.code == "too_many_parties"
    assert moved(parties.add(call, extra, at(13), POLICY, max_parties=4)).party("p2")


def test_answered_help_then_the_owner_leaves_and_the_helper_owns_the_call() -> None:
    call = with_bob()
    step = parties.party_connected(call, "p1", at(14), POLICY)
    assert step.actions == (OfferAnswered("bob", "p1", "c1", 4.0),)
    call = moved(step)
    step = parties.party_left(call, "o1", at(74), POLICY, requested=True)
    call = moved(step)
    assert call.operator == "bob" and call.state is CallState.CONNECTED
    assert step.actions == (
        SendRemoveParty("c1", "o1"),
        CallFinished("ann", "c1", 72.0, "default"),
    )
    # The caller hangs up: bob's part ends too, every party with an outcome.
    step = calls.caller_hung_up(call, at(100))
    ended = moved(step)
    assert step.actions == (CallFinished("bob", "c1", 86.0, "default"),)
    assert [p.outcome for p in ended.parties] == [parties.LEFT, parties.CALL_ENDED]


def test_the_last_party_leaving_ends_the_call_and_hangs_up() -> None:
    call = connected()
    step = parties.party_left(call, "o1", at(30), POLICY, requested=True)
    ended = moved(step)
    assert ended.state is CallState.ENDED and ended.end_reason == parties.PARTIES_LEFT
    assert SendHangup("c1", parties.PARTIES_LEFT) in step.actions


def test_a_ringing_party_taken_back_or_abandoned_is_no_miss() -> None:
    step = parties.party_left(with_bob(), "p1", at(12), POLICY, requested=True)
    assert step.actions == (SendRemoveParty("c1", "p1"), OfferReleased("bob", "p1", "cancelled"))
    step = calls.caller_hung_up(with_bob(), at(12))
    assert OfferReleased("bob", "p1", calls.CALLER_LEFT) in step.actions
    assert not [a for a in step.actions if isinstance(a, OfferMissed)]
    assert moved(step).outcome is Outcome.ANSWERED and moved(step).hung_up_by is Party.CALLER


def test_hold_is_timed_and_counted_when_the_call_ends() -> None:
    call = connected()
    step = parties.hold(call, at(10))
    assert step.actions == (SendHold("c1", True),)
    call = moved(step)
    with pytest.raises(Refused):
        parties.hold(call, at(11))
    call = moved(parties.unhold(call, at(15)))
    assert call.hold_s == 5.0 and call.held_since is None
    call = moved(parties.hold(call, at(20)))
    ended = moved(calls.operator_hung_up(call, at(23)))
    assert ended.hold_s == 8.0 and ended.held_since is None


def test_blind_transfer_to_a_queue_frees_the_owner_and_keeps_the_place() -> None:
    call = connected()
    step = parties.blind_to_queue(call, "ann", at(40), POLICY, operator="bob")
    back = moved(step)
    assert back.state is CallState.QUEUED and back.enqueued_at == T0
    assert back.waits_for(at(41)) == "bob" and back.operator is None
    assert step.actions == (
        CallFinished("ann", "c1", 38.0, "default"),
        SendRemoveParty("c1", "o1"),
        DispatchCall("c1"),
    )
    with pytest.raises(Refused) as e:
        parties.blind_to_queue(with_bob(), "ann", at(40), POLICY, group="sales")
    assert e.value.code == "parties_present"


def test_blind_transfer_to_a_number_that_fails_goes_back_to_the_head_of_the_queue() -> None:
    party = parties.new_party(
        "x1", PartyKind.EXTERNAL, NUMBER, at(40), POLICY, role=PartyRole.TRANSFER
    )
    step = parties.blind_to_number(connected(), "ann", party, at(40), POLICY)
    call = moved(step)
    assert call.operator is None and call.state is CallState.CONNECTED
    step = parties.party_failed(call, "x1", 486, at(45), POLICY)
    back = moved(step)
    assert back.state is CallState.QUEUED and back.enqueued_at == T0
    assert step.actions == (DispatchCall("c1"),)
