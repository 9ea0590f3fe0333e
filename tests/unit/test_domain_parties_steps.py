"""backend/domain/parties.py step by step: whole steps compared, refusals with their messages."""

from __future__ import annotations

from dataclasses import replace

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
    CallParty,
    CallState,
    Media,
    Operator,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    PartyState,
    Presence,
    Skill,
    Strategy,
    TargetType,
)
from backend.domain.operators import new_operator, set_presence
from tests.unit.party_calls import NUMBER, POLICY, T0, at, connected, moved

BOB = Address(TargetType.USER, "bob")


def owner(call: Call) -> CallParty:
    p = call.party("o1")
    assert p is not None
    return p


def bob_party(t: float = 10, role: PartyRole = PartyRole.HELP) -> CallParty:
    return parties.new_party(
        "p1", PartyKind.OPERATOR, BOB, at(t), POLICY, role=role, login="bob", requested_by="ann"
    )


def number_party(t: float = 10, role: PartyRole = PartyRole.HELP) -> CallParty:
    return parties.new_party("x1", PartyKind.EXTERNAL, NUMBER, at(t), POLICY, role=role)


def with_party(call: Call, party: CallParty) -> Call:
    return replace(call, parties=(*call.parties, party))


def test_new_party_is_a_dialing_leg_with_its_ring_deadline() -> None:
    assert parties.new_party(
        "p1",
        PartyKind.OPERATOR,
        BOB,
        at(10),
        POLICY,
        role=PartyRole.TRANSFER,
        login="bob",
        requested_by="ann",
        reason="why",
    ) == CallParty(
        party_id="p1",
        kind=PartyKind.OPERATOR,
        address=BOB,
        state=PartyState.DIALING,
        created_at=at(10),
        role=PartyRole.TRANSFER,
        login="bob",
        requested_by="ann",
        expires_at=at(35),
        reason="why",
    )
    plain = parties.new_party("x", PartyKind.EXTERNAL, NUMBER, at(0), POLICY)
    assert (plain.role, plain.login, plain.requested_by, plain.reason) == (
        PartyRole.HELP,
        None,
        None,
        None,
    )


def test_who_is_on_the_call() -> None:
    call = connected()
    assert parties.operator_on_line(call, "ann") == owner(call)
    assert parties.operator_on_line(call, "bob") is None
    gone = replace(owner(call), state=PartyState.LEFT)
    assert parties.operator_on_line(replace(call, parties=(gone,)), "ann") is None
    held = replace(owner(call), state=PartyState.HELD)
    assert parties.operator_on_line(replace(call, parties=(held,)), "ann") == held
    odd = replace(owner(call), kind=PartyKind.EXTERNAL)
    assert parties.operator_on_line(replace(call, parties=(odd,)), "ann") is None
    assert parties.on_call(call, "ann") and not parties.on_call(call, "bob")
    # The owner with no party recorded (connected before parties existed) is on the call.
    assert parties.on_call(replace(call, parties=()), "ann")
    assert not parties.on_call(replace(call, parties=(), state=CallState.QUEUED), "ann")
    assert not parties.on_call(replace(call, state=CallState.ENDED), "ann")
    helper = moved(parties.party_connected(with_party(call, bob_party()), "p1", at(12), POLICY))
    assert parties.on_call(helper, "bob")
    assert parties.logins(with_party(call, bob_party())) == {"ann", "bob"}
    assert parties.logins(replace(call, parties=(), operator=None)) == set()
    assert parties.size(with_party(call, bob_party())) == 3
    assert parties.size(replace(call, parties=(gone,))) == 1


def test_refusals_name_the_state() -> None:
    queued = moved(calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY))
    for fn in (
        lambda: parties.hold(queued, at(1)),
        lambda: parties.unhold(queued, at(1)),
        lambda: parties.check_can_add(queued, 6),
        lambda: parties.blind_to_queue(queued, "ann", at(1), POLICY),
    ):
        with pytest.raises(Refused) as e:
            fn()
        assert (e.value.code, e.value.message) == (
            "not_connected",
            "call c1 is queued, not connected",
        )
    with pytest.raises(Refused) as e:
        parties.check_can_add(with_party(connected(), bob_party()), 6)
    assert (e.value.code, e.value.message) == (
        "party_dialing",
        "party p1 is still ringing: one party at a time",
    )
    with pytest.raises(Refused) as e:
        parties.check_can_add(connected(), 2)
    assert (e.value.code, e.value.message) == (
        "too_many_parties",
        "the call has 2 parties: at most 2",
    )
    parties.check_can_add(connected(), 3)  # the caller, ann and one more


def test_hold_and_unhold_whole_steps() -> None:
    call = connected()
    assert parties.hold(call, at(10)) == Step(
        replace(call, held_since=at(10)), (SendHold("c1", True),)
    )
    held = replace(call, held_since=at(10), hold_s=2.0)
    with pytest.raises(Refused) as e:
        parties.hold(held, at(11))
    assert (e.value.code, e.value.message) == ("already_held", "the caller is on hold already")
    assert parties.unhold(held, at(13)) == Step(
        replace(call, held_since=None, hold_s=5.0), (SendHold("c1", False),)
    )
    # A clock that went back never gives a negative hold.
    assert moved(parties.unhold(held, at(9))).hold_s == 2.0
    with pytest.raises(Refused) as e:
        parties.unhold(call, at(13))
    assert (e.value.code, e.value.message) == ("not_held", "the caller is not on hold")
    assert parties.hold_closed(call, at(20)) is call
    assert parties.hold_closed(held, at(14)) == replace(call, held_since=None, hold_s=6.0)
    assert parties.hold_closed(held, at(5)) == replace(call, held_since=None, hold_s=2.0)


def test_add_whole_step() -> None:
    call = connected()
    step = parties.add(call, bob_party(), at(10), POLICY, 6)
    assert step == Step(
        replace(call, parties=(*call.parties, bob_party()), deadline=at(35)),
        (SendAddParty("c1", "p1", BOB, 20),),
    )
    assert parties.connected_deadline(call, at(10), POLICY) == at(610)
    far = replace(bob_party(), expires_at=at(900))
    assert parties.connected_deadline(with_party(call, far), at(10), POLICY) == at(610)


def test_party_connected_whole_steps() -> None:
    call = with_party(connected(), bob_party())
    step = parties.party_connected(call, "p1", at(14), POLICY)
    joined = replace(bob_party(), state=PartyState.CONNECTED, connected_at=at(14), expires_at=None)
    assert step == Step(
        replace(call, parties=(owner(call), joined), deadline=at(614)),
        (OfferAnswered("bob", "p1", "c1", 4.0),),
    )
    # Nobody owned it (the owner left while it rang): the helper owns it now.
    orphan = replace(call, operator=None)
    assert moved(parties.party_connected(orphan, "p1", at(14), POLICY)).operator == "bob"
    # An external number joins: no operator action, no owner change.
    ext = with_party(connected(), number_party())
    step = parties.party_connected(ext, "x1", at(14), POLICY)
    assert step.actions == () and moved(step).operator == "ann"
    assert moved(step).party("x1") == replace(
        number_party(), state=PartyState.CONNECTED, connected_at=at(14), expires_at=None
    )
    assert (
        moved(parties.party_connected(replace(ext, operator=None), "x1", at(14), POLICY)).operator
        is None
    )
    # Not ringing, unknown, or the call no longer connected: nothing.
    assert parties.party_connected(moved(step), "x1", at(15), POLICY) == Step(None)
    assert parties.party_connected(call, "nope", at(15), POLICY) == Step(None)
    ended = replace(call, state=CallState.ENDED)
    assert parties.party_connected(ended, "p1", at(15), POLICY) == Step(None)


def test_party_failed_whole_steps() -> None:
    call = with_party(connected(), bob_party())
    step = parties.party_failed(call, "p1", 486, at(12), POLICY)
    gone = replace(
        bob_party(), state=PartyState.LEFT, left_at=at(12), outcome="no_answer", code=486
    )
    assert step == Step(
        replace(call, parties=(owner(call), gone), deadline=at(612)),
        (OfferMissed("bob", "p1", 486),),
    )
    other = moved(parties.party_failed(call, "p1", 404, at(12), POLICY)).party("p1")
    assert other is not None and (other.outcome, other.code) == ("failed", 404)
    assert parties.party_failed(call, "p1", 408, at(34), POLICY, expired=True) == Step(None)
    step = parties.party_expired(call, "p1", at(35), POLICY)
    assert step.actions == (SendRemoveParty("c1", "p1"), OfferMissed("bob", "p1", 408))
    assert parties.party_failed(moved(step), "p1", 408, at(36), POLICY) == Step(None)
    no_deadline = with_party(connected(), replace(bob_party(), expires_at=None))
    assert parties.party_expired(no_deadline, "p1", at(99), POLICY) == Step(None)
    ext = with_party(connected(), number_party())
    assert parties.party_failed(ext, "x1", 486, at(12), POLICY).actions == ()
    # On a call that is not connected the party is recorded and the call left as it is.
    queued = replace(call, state=CallState.QUEUED)
    step = parties.party_failed(queued, "p1", 486, at(12), POLICY)
    assert moved(step).state is CallState.QUEUED and moved(step).deadline == queued.deadline


def test_nobody_but_the_caller_left_after_a_failure_goes_back_to_the_queue() -> None:
    base = connected()
    gone_owner = replace(owner(base), state=PartyState.LEFT, outcome="transferred")
    call = replace(
        base,
        parties=(gone_owner, number_party(role=PartyRole.TRANSFER)),
        operator=None,
        held_since=at(5),
        hold_s=1.0,
    )
    step = parties.party_failed(call, "x1", 486, at(40), POLICY)
    back = moved(step)
    gone = replace(
        number_party(role=PartyRole.TRANSFER),
        state=PartyState.LEFT,
        left_at=at(40),
        outcome="no_answer",
        code=486,
    )
    assert back == replace(
        call,
        parties=(gone_owner, gone),
        state=CallState.QUEUED,
        offer=None,
        operator=None,
        spare=None,
        held_since=None,
        hold_s=36.0,
        deadline=at(100),
    )
    assert step.actions == (DispatchCall("c1"),)


def test_party_left_whole_steps() -> None:
    call = moved(
        parties.party_connected(with_party(connected(), bob_party()), "p1", at(12), POLICY)
    )
    # Bob hangs up on his side: reported, so nothing is sent.
    step = parties.party_left(call, "p1", at(30), POLICY, requested=False)
    bob = call.party("p1")
    assert bob is not None
    gone = replace(bob, state=PartyState.LEFT, left_at=at(30), outcome="hung_up")
    assert step == Step(
        replace(call, parties=(owner(call), gone), deadline=at(630)),
        (CallFinished("bob", "c1", 18.0, "default"),),
    )
    # Ann (the owner) leaves by request: bob owns the call.
    step = parties.party_left(call, "o1", at(30), POLICY, requested=True)
    left = replace(owner(call), state=PartyState.LEFT, left_at=at(30), outcome="left")
    assert step == Step(
        replace(call, parties=(left, bob), operator="bob", deadline=at(630)),
        (SendRemoveParty("c1", "o1"), CallFinished("ann", "c1", 28.0, "default")),
    )
    # A ringing party taken back.
    ringing = with_party(connected(), bob_party())
    step = parties.party_left(ringing, "p1", at(11), POLICY, requested=True)
    cancelled = replace(bob_party(), state=PartyState.LEFT, left_at=at(11), outcome="cancelled")
    assert step == Step(
        replace(ringing, parties=(owner(ringing), cancelled), deadline=at(611)),
        (SendRemoveParty("c1", "p1"), OfferReleased("bob", "p1", "cancelled")),
    )
    # The owner leaves while the only other party still rings: the call waits for it.
    step = parties.party_left(ringing, "o1", at(11), POLICY, requested=True)
    assert moved(step).operator is None and moved(step).state is CallState.CONNECTED
    assert moved(step).deadline == at(35)
    # An external party: no operator action.
    ext = moved(
        parties.party_connected(with_party(connected(), number_party()), "x1", at(12), POLICY)
    )
    assert parties.party_left(ext, "x1", at(20), POLICY, requested=False).actions == ()
    ext_ringing = with_party(connected(), number_party())
    assert parties.party_left(ext_ringing, "x1", at(20), POLICY, requested=False).actions == ()
    # Unknown, already gone, or the call over: nothing.
    assert parties.party_left(call, "nope", at(30), POLICY, requested=True) == Step(None)
    assert parties.party_left(moved(step), "o1", at(31), POLICY, requested=True) == Step(None)
    ended = replace(call, state=CallState.ENDED)
    assert parties.party_left(ended, "p1", at(31), POLICY, requested=True) == Step(None)


def test_the_last_party_leaving_ends_the_call() -> None:
    call = connected()
    step = parties.party_left(call, "o1", at(30), POLICY, requested=False)
    ended = moved(step)
    assert (ended.state, ended.outcome, ended.hung_up_by, ended.end_reason) == (
        CallState.ENDED,
        Outcome.ANSWERED,
        Party.OPERATOR,
        "parties_left",
    )
    assert step.actions == (CallFinished("ann", "c1", 28.0, "default"),)
    step = parties.party_left(call, "o1", at(30), POLICY, requested=True)
    assert step.actions == (
        SendRemoveParty("c1", "o1"),
        CallFinished("ann", "c1", 28.0, "default"),
        SendHangup("c1", "parties_left"),
    )


def test_blind_to_queue_whole_steps() -> None:
    call = replace(connected(), held_since=at(20))
    step = parties.blind_to_queue(call, "ann", at(40), POLICY, operator="bob")
    left = replace(owner(call), state=PartyState.LEFT, left_at=at(40), outcome="transferred")
    assert step == Step(
        replace(
            call,
            parties=(left,),
            state=CallState.QUEUED,
            offer=None,
            operator=None,
            preferred="bob",
            preferred_until=at(65),
            held_since=None,
            hold_s=20.0,
            deadline=at(65),
        ),
        (
            CallFinished("ann", "c1", 38.0, "default"),
            SendRemoveParty("c1", "o1"),
            DispatchCall("c1"),
        ),
    )
    to_group = moved(parties.blind_to_queue(connected(), "ann", at(40), POLICY, group="sales"))
    assert (to_group.group, to_group.preferred, to_group.preferred_until, to_group.deadline) == (
        "sales",
        None,
        None,
        at(100),
    )
    # A call connected before parties were recorded: its owner's leg is its offer's.
    legacy = replace(connected(), parties=())
    assert parties.blind_to_queue(legacy, "ann", at(40), POLICY).actions == (
        CallFinished("ann", "c1", 38.0, "default"),
        SendRemoveParty("c1", "o1"),
        DispatchCall("c1"),
    )
    nobody = replace(legacy, operator=None)
    assert parties.blind_to_queue(nobody, "ann", at(40), POLICY).actions == (DispatchCall("c1"),)
    with pytest.raises(Refused) as e:
        parties.blind_to_queue(with_party(connected(), bob_party()), "ann", at(40), POLICY)
    assert (e.value.code, e.value.message) == (
        "parties_present",
        "other parties are on the call: they leave first, or consult",
    )
    with pytest.raises(Refused) as e:
        parties.blind_to_queue(with_party(legacy, bob_party()), "zed", at(40), POLICY)
    assert e.value.code == "parties_present"


def test_blind_to_number_whole_step() -> None:
    call = connected()
    party = number_party(40, PartyRole.TRANSFER)
    step = parties.blind_to_number(call, "ann", party, at(40), POLICY)
    left = replace(owner(call), state=PartyState.LEFT, left_at=at(40), outcome="transferred")
    assert step == Step(
        replace(call, parties=(left, party), operator=None, deadline=at(65)),
        (
            CallFinished("ann", "c1", 38.0, "default"),
            SendRemoveParty("c1", "o1"),
            SendAddParty("c1", "x1", NUMBER, 20),
        ),
    )
    with pytest.raises(Refused) as e:
        parties.blind_to_number(call, "zed", party, at(40), POLICY)
    assert (e.value.code, e.value.message) == ("not_connected", "zed is not on call c1")
    with pytest.raises(Refused) as e:
        parties.blind_to_number(with_party(call, bob_party()), "ann", party, at(40), POLICY)
    assert (e.value.code, e.value.message) == (
        "parties_present",
        "other parties are on the call: they leave first, or consult",
    )


def _ready(login: str, idle_s: float, groups: tuple[Skill, ...]) -> Operator:
    op = new_operator(login, Address(TargetType.USER, login), groups, at(idle_s))
    step = set_presence(op, Presence.READY, None, at(idle_s))
    assert step.state is not None
    return step.state


def test_help_candidates_pick_the_groups_best_not_on_the_call() -> None:
    sales = (Skill("sales", 1),)
    ops = [_ready("ann", 0, sales), _ready("cid", 1, sales), _ready("dee", 2, sales)]
    call = connected()  # ann owns it
    pick = parties.help_candidates(call, "sales", ops, Strategy.LONGEST_IDLE, at(50))
    assert pick is not None and pick.login == "cid"
    again = parties.help_candidates(
        call, "sales", ops, Strategy.LONGEST_IDLE, at(50), exclude=["cid"]
    )
    assert again is not None and again.login == "dee"
    # A call waiting for its manager does not narrow whom one asks for help.
    waiting = replace(call, preferred="zed", preferred_until=at(999))
    assert parties.help_candidates(waiting, "sales", ops, Strategy.LONGEST_IDLE, at(50)) == pick
    assert parties.help_candidates(call, "support", ops, Strategy.LONGEST_IDLE, at(50)) is None
