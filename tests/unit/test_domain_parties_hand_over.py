"""Blind transfer with others on the call (backend/domain/parties.py blind_with_parties): the
owner leaves at once, the target rings as a party, the others stay; an operator among them
holds the call, and the target owns it once it answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.domain import parties
from backend.domain.actions import (
    CallFinished,
    OfferAnswered,
    OfferMissed,
    Refused,
    SendAddParty,
    SendRemoveParty,
    Step,
)
from backend.domain.model import (
    Address,
    Call,
    CallParty,
    CallState,
    PartyKind,
    PartyRole,
    PartyState,
    TargetType,
)
from tests.unit.party_calls import NUMBER, POLICY, at, connected, joined, moved


def operator(
    party_id: str, login: str, t: float = 10, role: PartyRole = PartyRole.HELP, by: str = "ann"
) -> CallParty:
    address = Address(TargetType.USER, login)
    return parties.new_party(
        party_id,
        PartyKind.OPERATOR,
        address,
        at(t),
        POLICY,
        role=role,
        login=login,
        requested_by=by,
    )


def with_bob() -> Call:
    """The caller, ann (the owner) and bob (a helper on the line since 12 s)."""
    return joined(connected(), operator("p1", "bob"))


def carl(t: float = 40) -> CallParty:
    return operator("p2", "carl", t, PartyRole.TRANSFER)


def test_others_present() -> None:
    call = connected()
    assert not parties.others_present(call, "ann")
    assert parties.others_present(with_bob(), "ann")
    assert parties.others_present(with_bob(), "bob")
    ringing = moved(parties.add(call, operator("p1", "bob"), at(10), POLICY, 6))
    assert parties.others_present(ringing, "ann")
    ext = moved(
        parties.add(
            call,
            parties.new_party("x1", PartyKind.EXTERNAL, NUMBER, at(10), POLICY),
            at(10),
            POLICY,
            6,
        )
    )
    assert parties.others_present(ext, "ann")
    gone = moved(parties.party_failed(ext, "x1", 486, at(11), POLICY))
    assert not parties.others_present(gone, "ann")


def test_the_owner_leaves_at_once_and_the_target_rings_while_the_helper_holds_the_call() -> None:
    call = with_bob()
    step = parties.blind_with_parties(call, "ann", carl(), at(40), POLICY)
    ann = replace(call.parties[0], state=PartyState.LEFT, left_at=at(40), outcome="transferred")
    assert step == Step(
        replace(call, parties=(ann, call.parties[1], carl()), operator="bob", deadline=at(65)),
        (
            CallFinished("ann", "c1", 38.0, "default"),
            SendRemoveParty("c1", "o1"),
            SendAddParty("c1", "p2", Address(TargetType.USER, "carl"), 20),
        ),
    )
    # Carl answers: the call is his (bob stays on the line as a helper).
    answered = parties.party_connected(moved(step), "p2", at(45), POLICY)
    assert moved(answered).operator == "carl"
    assert answered.actions == (OfferAnswered("carl", "p2", "c1", 5.0),)
    # Carl does not answer: recorded, and the call stays with bob.
    failed = parties.party_failed(moved(step), "p2", 486, at(45), POLICY)
    assert (moved(failed).state, moved(failed).operator) == (CallState.CONNECTED, "bob")
    assert failed.actions == (OfferMissed("carl", "p2", 486),)


def test_only_a_blind_transfers_target_takes_the_call_over() -> None:
    # A consult target answering while the owner is still on: the owner keeps the call.
    call = joined(with_bob(), operator("p2", "carl", 30, PartyRole.TRANSFER), t=32)
    assert call.operator == "ann"
    # A helper answering after the owner handed over to someone else: no takeover.
    handed = moved(parties.blind_with_parties(with_bob(), "ann", carl(), at(40), POLICY))
    dave = operator("p3", "dave", 41)
    assert not parties.handed_over_to(handed, dave)
    # The target of someone who never transferred: no takeover either.
    assert not parties.handed_over_to(handed, operator("p4", "erin", 41, PartyRole.TRANSFER, "bob"))
    assert parties.handed_over_to(handed, carl())
    number = parties.new_party(
        "x1",
        PartyKind.EXTERNAL,
        NUMBER,
        at(40),
        POLICY,
        role=PartyRole.TRANSFER,
        requested_by="ann",
    )
    assert not parties.handed_over_to(handed, number)


def test_handing_over_is_refused_with_its_reason() -> None:
    call = with_bob()
    cases = [
        (replace(call, state=CallState.QUEUED), "ann", "not_connected"),
        (call, "zed", "not_connected"),
        (call, "bob", "not_owner"),
        (
            moved(parties.add(call, operator("p3", "dave", 30), at(30), POLICY, 6)),
            "ann",
            "party_dialing",
        ),
    ]
    for state, by, code in cases:
        with pytest.raises(Refused) as e:
            parties.blind_with_parties(state, by, carl(), at(40), POLICY)
        assert e.value.code == code
    with pytest.raises(Refused) as e:
        parties.blind_with_parties(call, "bob", carl(), at(40), POLICY)
    assert e.value.message == "only the call's owner (ann) hands it over"
    with pytest.raises(Refused) as e:
        parties.blind_with_parties(cases[3][0], "ann", carl(), at(40), POLICY)
    assert e.value.message == "party p3 is still ringing: one party at a time"
    with pytest.raises(Refused) as e:
        parties.blind_with_parties(call, "zed", carl(), at(40), POLICY)
    assert e.value.message == "zed is not on call c1"
    # Only an outside number would stay with the caller: refused, consult instead.
    ext = parties.new_party("x1", PartyKind.EXTERNAL, NUMBER, at(10), POLICY)
    with pytest.raises(Refused) as e:
        parties.blind_with_parties(joined(connected(), ext), "ann", carl(), at(40), POLICY)
    assert (e.value.code, e.value.message) == (
        "no_operator_stays",
        "only outside numbers would stay with the caller: consult, or they leave first",
    )
    # A number among the helpers is fine while an operator stays.
    both = joined(
        with_bob(), parties.new_party("x1", PartyKind.EXTERNAL, NUMBER, at(20), POLICY), t=22
    )
    assert moved(parties.blind_with_parties(both, "ann", carl(), at(40), POLICY)).operator == "bob"


def test_the_owners_talk_time_is_counted_to_the_fraction() -> None:
    call = replace(
        with_bob(),
        parties=(replace(with_bob().parties[0], connected_at=at(39.5)), with_bob().parties[1]),
    )
    step = parties.blind_with_parties(call, "ann", carl(), at(40), POLICY)
    assert step.actions[0] == CallFinished("ann", "c1", 0.5, "default")
