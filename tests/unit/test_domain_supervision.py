"""backend/domain/supervision.py, and what a supervisor's party changes in the party rules:
whole steps compared, refusals with their codes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.domain import calls, parties, supervision
from backend.domain.actions import (
    Action,
    CallFinished,
    DispatchCall,
    OfferMissed,
    Refused,
    SendAddParty,
    SendHangup,
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
    PartyRole,
    PartyState,
    SuperviseMode,
    TargetType,
)
from tests.unit.party_calls import NUMBER, POLICY, at, connected, moved
from tests.unit.test_domain_parties_steps import bob_party, owner, with_party

SUE = Address(TargetType.USER, "sue")
LISTEN, WHISPER, BARGE = SuperviseMode.LISTEN, SuperviseMode.WHISPER, SuperviseMode.BARGE


def sue_party(t: float = 10, mode: SuperviseMode = LISTEN, party_id: str = "s1") -> CallParty:
    return supervision.new_party(party_id, "sue", SUE, mode, at(t), POLICY)


def listening(t: float = 10) -> Call:
    """Ann's call with sue on the line, listening."""
    call = moved(supervision.join(connected(), sue_party(t), at(t), POLICY))
    return moved(parties.party_connected(call, "s1", at(t + 2), POLICY))


def test_new_party_is_a_ringing_supervisor_leg() -> None:
    assert sue_party(10, WHISPER) == CallParty(
        party_id="s1",
        kind=PartyKind.SUPERVISOR,
        address=SUE,
        state=PartyState.DIALING,
        created_at=at(10),
        role=PartyRole.HELP,
        login="sue",
        requested_by="sue",
        expires_at=at(35),
        mode=WHISPER,
    )
    assert sue_party().supervisor and not bob_party().supervisor


def test_join_whole_step() -> None:
    call = connected()
    step = supervision.join(call, sue_party(10, BARGE), at(10), POLICY)
    # The ring deadline of the supervisor's leg is the call's next look.
    assert step == Step(
        replace(call, parties=(owner(call), sue_party(10, BARGE)), deadline=at(35)),
        (SendAddParty("c1", "s1", SUE, 20, mode=BARGE),),
    )


def test_join_refusals() -> None:
    queued = moved(calls.new_call("q1", "default", 50, connected().media, at(0), POLICY))
    with pytest.raises(Refused) as e:
        supervision.join(queued, sue_party(), at(10), POLICY)
    assert (e.value.code, e.value.message) == ("not_connected", "call q1 is queued, not connected")
    with pytest.raises(Refused) as e:
        supervision.join(listening(), sue_party(20, BARGE, "s2"), at(20), POLICY)
    assert (e.value.code, e.value.message) == (
        "already_supervising",
        "sue supervises this call already",
    )
    # Ringing for sue counts as on it too.
    ringing = moved(supervision.join(connected(), sue_party(), at(10), POLICY))
    with pytest.raises(Refused, match="sue supervises this call already"):
        supervision.join(ringing, sue_party(11, LISTEN, "s2"), at(11), POLICY)
    # An operator on the call cannot also supervise it.
    ann = supervision.new_party("s3", "ann", SUE, LISTEN, at(10), POLICY)
    with pytest.raises(Refused) as e:
        supervision.join(connected(), ann, at(10), POLICY)
    assert (e.value.code, e.value.message) == ("already_on_call", "ann is an operator on this call")
    # After leaving, the same supervisor may join again.
    left = moved(parties.party_left(listening(), "s1", at(20), POLICY, requested=True))
    assert supervision.of(left, "sue") is None
    assert moved(supervision.join(left, sue_party(21, LISTEN, "s2"), at(21), POLICY))


def test_set_mode_whole_steps() -> None:
    call = listening()
    step = supervision.set_mode(call, "s1", WHISPER)
    sue = call.party("s1")
    assert sue is not None
    assert step == Step(
        replace(call, parties=(owner(call), replace(sue, mode=WHISPER))),
        (SendPartyMode("c1", "s1", WHISPER),),
    )
    # The same mode: nothing written, nothing sent.
    assert supervision.set_mode(call, "s1", LISTEN) == Step(None)
    # While it still rings, the mode is recorded and sent (the scenario keeps it).
    ringing = moved(supervision.join(connected(), sue_party(), at(10), POLICY))
    assert supervision.set_mode(ringing, "s1", BARGE).actions == (SendPartyMode("c1", "s1", BARGE),)
    for party_id, code in (("o1", "not_supervisor"), ("nope", "not_supervisor")):
        with pytest.raises(Refused) as e:
            supervision.set_mode(call, party_id, BARGE)
        assert (e.value.code, e.value.message) == (code, f"party {party_id} is not a supervisor's")
    left = moved(parties.party_left(call, "s1", at(20), POLICY, requested=True))
    with pytest.raises(Refused) as e:
        supervision.set_mode(left, "s1", BARGE)
    assert (e.value.code, e.value.message) == ("party_left", "party s1 is not on the call")
    with pytest.raises(Refused, match="not on the call"):
        supervision.set_mode(replace(call, state=CallState.ENDED), "s1", BARGE)


def test_a_supervisor_is_not_a_party_for_the_party_rules() -> None:
    call = listening()
    assert parties.active(call) == [owner(call)]
    assert parties.on_line(call) == [owner(call)]
    assert parties.size(call) == 2
    assert parties.logins(call) == {"ann"}
    assert supervision.supervisors(call) == [call.party("s1")]
    assert supervision.of(call, "sue") == call.party("s1")
    assert supervision.of(call, "ann") is None
    # A ringing supervisor blocks no helper, and a supervisor counts against no limit.
    ringing = moved(supervision.join(connected(), sue_party(), at(10), POLICY))
    assert parties.dialing(ringing) is None
    parties.check_can_add(ringing, max_parties=3)
    added = moved(parties.add(ringing, bob_party(11), at(11), POLICY, max_parties=3))
    assert parties.dialing(added) == bob_party(11)
    # The ring that runs out first, the supervisor's included, is the call's next look.
    assert parties.next_ring(added) == sue_party()
    assert added.deadline == at(35)
    assert parties.next_ring(listening()) is None
    # The first to run out, not the first dialled.
    later = replace(
        added,
        parties=tuple(replace(p, expires_at=at(90)) if p.supervisor else p for p in added.parties),
    )
    assert parties.next_ring(later) == bob_party(11)
    # A supervisor answering is no operator's answered offer.
    assert parties.party_connected(ringing, "s1", at(12), POLICY).actions == ()


def test_a_supervisors_ring_expires_and_changes_nothing_else() -> None:
    call = moved(supervision.join(connected(), sue_party(), at(10), POLICY))
    step = calls.deadline_reached(call, at(35), POLICY)
    gone = replace(
        sue_party(), state=PartyState.LEFT, left_at=at(35), outcome="no_answer", code=408
    )
    assert step == Step(
        replace(call, parties=(owner(call), gone), deadline=at(635)),
        (SendRemoveParty("c1", "s1"),),
    )
    # Not yet due: the periodic look only.
    assert calls.deadline_reached(call, at(34), POLICY) == Step(None)
    # A leg that failed: recorded, the call goes on with ann.
    step = parties.party_failed(call, "s1", 486, at(12), POLICY)
    assert moved(step).state is CallState.CONNECTED and moved(step).operator == "ann"
    assert step.actions == ()
    assert moved(step).deadline == at(612)


def test_a_supervisor_never_keeps_a_call_going() -> None:
    call = listening()
    # The supervisor leaves (or hangs up): the call goes on, ann owns it still.
    for requested, outcome, actions in (
        (True, "left", (SendRemoveParty("c1", "s1"),)),
        (False, "hung_up", ()),
    ):
        step = parties.party_left(call, "s1", at(20), POLICY, requested=requested)
        sue = call.party("s1")
        assert sue is not None
        gone = replace(sue, state=PartyState.LEFT, left_at=at(20), outcome=outcome)
        assert step == Step(replace(call, parties=(owner(call), gone), deadline=at(620)), actions)
    # Taken back while it still rings: no operator's offer to release, no miss.
    ringing = moved(supervision.join(connected(), sue_party(), at(10), POLICY))
    step = parties.party_left(ringing, "s1", at(11), POLICY, requested=True)
    cancelled = replace(sue_party(), state=PartyState.LEFT, left_at=at(11), outcome="cancelled")
    assert step == Step(
        replace(ringing, parties=(owner(ringing), cancelled), deadline=at(611)),
        (SendRemoveParty("c1", "s1"),),
    )
    # Ann leaves: nobody but the caller and a supervisor, so the call ends; sue's leg too.
    step = parties.party_left(call, "o1", at(30), POLICY, requested=True)
    ended = moved(step)
    assert ended.state is CallState.ENDED and ended.end_reason == "parties_left"
    assert all(p.state is PartyState.LEFT for p in ended.parties)
    assert step.actions == (
        SendRemoveParty("c1", "o1"),
        CallFinished("ann", "c1", 28.0, "default"),
        SendHangup("c1", "parties_left"),
    )


def test_supervisors_leave_when_the_call_goes_back_to_the_queue() -> None:
    call = listening()
    # Blind transfer to a group: the call waits again, the supervisor is taken off it.
    step = parties.blind_to_queue(call, "ann", at(40), POLICY, group="sales")
    back = moved(step)
    sue = back.party("s1")
    assert back.state is CallState.QUEUED and sue is not None
    assert (sue.state, sue.left_at, sue.outcome) == (PartyState.LEFT, at(40), "call_moved")
    assert step.actions == (
        CallFinished("ann", "c1", 38.0, "default"),
        SendRemoveParty("c1", "o1"),
        SendRemoveParty("c1", "s1"),
        DispatchCall("c1"),
    )
    # Blind to a number: ann leaves, so does the supervisor; the number rings.
    ext = parties.new_party("x1", PartyKind.EXTERNAL, NUMBER, at(40), POLICY)
    step = parties.blind_to_number(call, "ann", ext, at(40), POLICY)
    assert SendRemoveParty("c1", "s1") in step.actions
    sue = moved(step).party("s1")
    assert sue is not None and (sue.left_at, sue.outcome) == (at(40), "call_moved")
    assert moved(step).deadline == at(65)
    assert [p.state for p in moved(step).parties] == [
        PartyState.LEFT,
        PartyState.LEFT,
        PartyState.DIALING,
    ]
    # The only other party fails while ann is gone: back to the queue, the supervisor too.
    ringing = moved(
        parties.party_left(with_party(call, bob_party(41)), "o1", at(42), POLICY, requested=True)
    )
    step = parties.party_failed(ringing, "p1", 486, at(43), POLICY)
    assert moved(step).state is CallState.QUEUED
    sue = moved(step).party("s1")
    assert sue is not None and (sue.state, sue.left_at, sue.outcome) == (
        PartyState.LEFT,
        at(43),
        "call_moved",
    )
    assert step.actions == (
        OfferMissed("bob", "p1", 486),
        SendRemoveParty("c1", "s1"),
        DispatchCall("c1"),
    )
    # Nothing to do without supervisors.
    actions: list[Action] = []
    plain = connected()
    assert supervision.all_leave(plain, at(50), actions) is plain
    assert actions == []


def test_the_call_ending_settles_a_supervisor_without_operator_actions() -> None:
    call = listening()
    step = calls.caller_hung_up(call, at(50))
    ended = moved(step)
    sue = ended.party("s1")
    assert sue is not None and (sue.state, sue.outcome) == (PartyState.LEFT, "call_ended")
    assert step.actions == (CallFinished("ann", "c1", 48.0, "default"),)
