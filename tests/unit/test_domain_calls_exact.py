"""Call transitions compared whole: every field of the resulting call and every action.

The scenario tests elsewhere check what a reader of the call notices; these pin each field a
transition sets or keeps, so that a changed constant, a dropped field or a swapped condition in
backend/domain/calls.py fails here (mutation testing, docs/testing.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backend.domain import calls
from backend.domain.actions import (
    Announce,
    CallFinished,
    CheckSession,
    DialNumber,
    DispatchCall,
    OfferMissed,
    OfferReleased,
    ReleaseSpare,
    SendCancel,
    SendHangup,
)
from backend.domain.fallback import ActionType, FallbackAction, Resolution, Why
from backend.domain.model import (
    Address,
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
    TargetType,
)
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = RoutingPolicy(queued_check_s=60, in_call_check_s=600, overflow_retry_s=30)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def queued(**kw: object) -> Call:
    base = Call(
        call_id="c1",
        group="sales",
        priority=50,
        media=Media.VOICE,
        state=CallState.QUEUED,
        created_at=T0,
        enqueued_at=T0,
        deadline=T0 + s(60),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def offered(call: Call, *, sent: bool = True, op: str = "ann") -> Call:
    offer = Offer(
        "o1", op, Address(TargetType.USER, op), T0, T0 + s(20), sent_at=T0 + s(1) if sent else None
    )
    return replace(call, state=CallState.OFFERING, offer=offer, deadline=offer.expires_at)


# -- refused and fallback ---------------------------------------------------------------


def test_a_refused_call_is_ended_rejected_by_the_system_and_never_queued() -> None:
    call = calls.refused_call("c9", "support", 70, Media.VIDEO, T0, "closed")
    assert call == Call(
        call_id="c9",
        group="support",
        priority=70,
        media=Media.VIDEO,
        state=CallState.ENDED,
        created_at=T0,
        enqueued_at=T0,
        ended_at=T0,
        outcome=Outcome.REJECTED,
        hung_up_by=Party.SYSTEM,
        end_reason="closed",
    )


def _res(group: str, action: FallbackAction | None, why: Why | None = Why.MAX_WAIT) -> Resolution:
    return Resolution(group=group, action=action, why=why, path=("sales", group))


def test_a_move_within_the_same_group_keeps_the_manager_and_drops_the_max_wait() -> None:
    now = T0 + s(10)
    call = queued(preferred="bob", preferred_until=T0 + s(30), max_wait_at=T0 + s(10))
    step = calls.fallback(call, _res("sales", None, None), now, POLICY, 99)
    expected = replace(call, max_wait_at=None, deadline=T0 + s(30))  # the manager's limit
    assert step.state == expected
    assert step.actions == (Announce("c1", "group", "fallback"), DispatchCall("c1"))


def test_a_move_to_another_group_drops_the_manager_and_starts_its_max_wait() -> None:
    now = T0 + s(10)
    call = queued(preferred="bob", preferred_until=T0 + s(30), max_wait_at=T0 + s(10))
    step = calls.fallback(call, _res("support", None, Why.NO_AGENTS), now, POLICY, 20)
    assert step.state == replace(
        call,
        group="support",
        preferred=None,
        preferred_until=None,
        max_wait_at=now + s(20),
        deadline=now + s(20),
    )
    assert step.actions == (Announce("c1", "group", "no_agents"), DispatchCall("c1"))
    # Without a max wait of its own the other group sets none.
    plain = calls.fallback(call, _res("support", None), now, POLICY, None).state
    assert plain is not None and plain.max_wait_at is None and plain.deadline == now + s(60)


def test_goodbye_is_ended_by_the_system_at_that_moment() -> None:
    now = T0 + s(40)
    step = calls.fallback(
        queued(), _res("sales", FallbackAction(ActionType.GOODBYE)), now, POLICY, 0
    )
    assert step.state == replace(
        queued(),
        state=CallState.ENDED,
        outcome=Outcome.REJECTED,
        hung_up_by=Party.SYSTEM,
        end_reason="max_wait",
        ended_at=now,
        deadline=None,
    )
    assert step.actions == (SendHangup("c1", "max_wait", say=True),)


def test_a_callback_action_asks_the_caller_and_keeps_the_call_waiting() -> None:
    now = T0 + s(5)
    call = queued()
    step = calls.fallback(call, _res("sales", FallbackAction(ActionType.CALLBACK)), now, POLICY, 0)
    assert step.state == replace(call, deadline=now + s(60))
    assert step.actions == (Announce("c1", "callback", "max_wait"),)


def test_a_voicemail_action_starts_the_recording_with_its_backstop() -> None:
    now = T0 + s(5)
    call = queued(preferred="bob", preferred_until=T0 + s(30))
    res = _res("sales", FallbackAction(ActionType.VOICEMAIL), Why.CLOSED)
    step = calls.fallback(call, res, now, POLICY, 0)
    assert step.state == replace(
        call,
        state=CallState.VOICEMAIL,
        preferred=None,
        preferred_until=None,
        max_wait_at=None,
        deadline=now + s(POLICY.voicemail_max_s + calls.VOICEMAIL_MARGIN_S),
    )
    assert step.actions == (Announce("c1", "voicemail", "closed"),)


def test_a_number_action_dials_and_one_without_a_number_does_nothing() -> None:
    now = T0 + s(5)
    dial = calls.fallback(
        queued(), _res("sales", FallbackAction(ActionType.NUMBER, "+15550001")), now, POLICY, 0
    )
    assert dial.state == replace(queued(), deadline=now + s(60))
    assert dial.actions == (Announce("c1", "number", "max_wait"), DialNumber("c1", "+15550001"))
    bare = calls.fallback(
        queued(), _res("sales", FallbackAction(ActionType.NUMBER)), now, POLICY, 0
    )
    assert bare.state is None and bare.actions == ()


def test_fallback_applies_to_waiting_calls_only() -> None:
    res = _res("sales", FallbackAction(ActionType.GOODBYE))
    assert calls.fallback(offered(queued()), res, T0, POLICY, 0).state is None


def test_max_wait_due_needs_a_waiting_call_with_a_limit_reached() -> None:
    due = queued(max_wait_at=T0 + s(30))
    assert calls.max_wait_due(due, T0 + s(30))
    assert not calls.max_wait_due(due, T0 + s(29))
    assert not calls.max_wait_due(queued(), T0 + s(999))
    assert not calls.max_wait_due(offered(due), T0 + s(30))


# -- voicemail and callback tasks -------------------------------------------------------


def test_voicemail_recorded_makes_a_task_with_the_message() -> None:
    now = T0 + s(50)
    recording = calls.start_voicemail(queued(max_wait_at=T0 + s(40)), T0 + s(10), POLICY)
    step = calls.voicemail_recorded(recording, "https://rec/1.mp3", 12.5, now, POLICY)
    assert step.state == replace(
        recording,
        state=CallState.QUEUED,
        task="voicemail",
        voicemail_url="https://rec/1.mp3",
        voicemail_s=12.5,
        priority=calls.TASK_PRIORITY,
        deadline=now + s(60),
    )
    assert step.actions == (DispatchCall("c1"),)


def _talking_task(task: str) -> Call:
    return replace(offered(queued(task=task)), state=CallState.CONNECTED, operator="ann")


def test_closing_a_task_ends_it_by_the_operator() -> None:
    now = T0 + s(100)
    vm = calls.task_closed(_talking_task("voicemail"), "ann", now)
    assert vm.state is not None
    assert (vm.state.outcome, vm.state.hung_up_by, vm.state.end_reason, vm.state.ended_at) == (
        Outcome.VOICEMAIL,
        Party.OPERATOR,
        "handled",
        now,
    )
    cb = calls.task_closed(_talking_task("callback_failed"), "ann", now)
    assert cb.state is not None
    assert (cb.state.outcome, cb.state.hung_up_by, cb.state.end_reason, cb.state.ended_at) == (
        Outcome.CALLBACK,
        Party.OPERATOR,
        "callback_failed",
        now,
    )
    # Only a connected task, and only by its operator.
    assert (
        calls.task_closed(replace(_talking_task("voicemail"), task=None), "ann", now).state is None
    )
    waiting = replace(_talking_task("voicemail"), state=CallState.QUEUED)
    assert calls.task_closed(waiting, "ann", now).state is None


def test_a_callback_request_keeps_the_place_and_drops_the_manager_and_max_wait() -> None:
    now = T0 + s(20)
    call = queued(preferred="bob", preferred_until=T0 + s(30), max_wait_at=T0 + s(90))
    step = calls.callback_requested(call, "+15557770001", now, POLICY)
    assert step.state == replace(
        call,
        task="callback",
        callback_number="+15557770001",
        callback_attempts=0,
        preferred=None,
        preferred_until=None,
        max_wait_at=None,
        deadline=now + s(60),
    )
    assert step.actions == (DispatchCall("c1"),)


def test_an_unanswered_callback_waits_then_becomes_a_desk_task() -> None:
    policy = RoutingPolicy(queued_check_s=60, callback_retry_s=300, callback_max_attempts=2)
    now = T0 + s(40)
    ringing = offered(queued(task="callback", callback_number="+1555"))
    first = calls.callback_not_answered(ringing, "o1", now, policy)
    assert first.state == replace(
        ringing,
        state=CallState.CALLBACK_WAIT,
        offer=None,
        callback_attempts=1,
        deadline=now + s(300),
    )
    last = calls.callback_not_answered(replace(ringing, callback_attempts=1), "o1", now, policy)
    assert last.state == replace(
        ringing,
        state=CallState.QUEUED,
        offer=None,
        task="callback_failed",
        callback_attempts=2,
        priority=calls.TASK_PRIORITY,
        deadline=now + s(60),
    )
    assert last.actions == (OfferReleased("ann", "o1", calls.CALLER_LEFT), DispatchCall("c1"))
    # Not a callback, or another offer: nothing.
    assert calls.callback_not_answered(offered(queued()), "o1", now, policy).state is None
    assert calls.callback_not_answered(ringing, "o2", now, policy).state is None


def test_an_expired_callback_offer_is_an_attempt_not_a_miss() -> None:
    ringing = offered(queued(task="callback", callback_number="+1555"))
    now = T0 + s(20)
    step = calls.offer_expired(ringing, "o1", now, POLICY)
    assert step == calls.callback_not_answered(ringing, "o1", now, POLICY)
    assert step.state is not None and step.state.state is CallState.CALLBACK_WAIT


def test_an_expired_desk_task_goes_back_without_a_cancel() -> None:
    task = offered(queued(task="voicemail"))
    now = T0 + s(20)
    step = calls.offer_expired(task, "o1", now, POLICY)
    assert step.state == replace(task, state=CallState.QUEUED, offer=None, deadline=now + s(60))
    assert step.actions == (OfferMissed("ann", "o1", 408), DispatchCall("c1"))


# -- connect and end ----------------------------------------------------------------------


def test_the_owner_party_records_the_offer() -> None:
    call = offered(queued())
    now = T0 + s(3)
    step = calls.offer_connected(call, "o1", now, POLICY)
    assert step.state is not None
    assert step.state.parties == (
        CallParty(
            party_id="o1",
            kind=PartyKind.OPERATOR,
            address=Address(TargetType.USER, "ann"),
            state=PartyState.CONNECTED,
            created_at=T0,
            role=PartyRole.OWNER,
            login="ann",
            connected_at=now,
        ),
    )


def test_ending_a_call_connected_before_parties_reports_the_talk_time() -> None:
    call = replace(queued(), state=CallState.CONNECTED, operator="ann", connected_at=T0 + s(10))
    now = T0 + s(70)
    step = calls.end(call, Outcome.ANSWERED, Party.OPERATOR, None, now)
    assert step.actions == (CallFinished("ann", "c1", 60.0, "sales"),)
    assert step.state is not None and step.state.ended_at == now
    # A clock that ran back yields no negative talk time.
    back = calls.end(call, Outcome.ANSWERED, Party.OPERATOR, None, T0)
    assert back.actions == (CallFinished("ann", "c1", 0.0, "sales"),)
    # Not connected (a queued call with stale fields): nothing finished.
    stale = replace(call, state=CallState.QUEUED)
    assert calls.end(stale, Outcome.ABANDONED, Party.CALLER, None, now).actions == ()


def test_ending_settles_every_party_and_the_hold_time() -> None:
    now = T0 + s(100)
    owner = CallParty(
        "o1",
        PartyKind.OPERATOR,
        Address(TargetType.USER, "ann"),
        PartyState.CONNECTED,
        T0,
        role=PartyRole.OWNER,
        login="ann",
        connected_at=T0 + s(10),
    )
    helper = CallParty(
        "p2",
        PartyKind.OPERATOR,
        Address(TargetType.USER, "bob"),
        PartyState.DIALING,
        T0 + s(50),
        login="bob",
    )
    number = CallParty(
        "p3",
        PartyKind.EXTERNAL,
        Address(TargetType.PSTN, "+1555"),
        PartyState.CONNECTED,
        T0,
        connected_at=T0 + s(20),
    )
    gone = CallParty(
        "p4",
        PartyKind.OPERATOR,
        Address(TargetType.USER, "cy"),
        PartyState.LEFT,
        T0,
        login="cy",
        outcome="hung_up",
    )
    call = replace(
        queued(),
        state=CallState.CONNECTED,
        operator="ann",
        connected_at=T0 + s(10),
        parties=(owner, helper, number, gone),
        held_since=T0 + s(90),
        hold_s=5.0,
    )
    step = calls.end(call, Outcome.ANSWERED, Party.CALLER, None, now)
    assert step.actions == (
        CallFinished("ann", "c1", 90.0, "sales"),
        OfferReleased("bob", "p2", calls.CALLER_LEFT),
    )
    assert step.state is not None
    assert step.state.parties == (
        replace(owner, state=PartyState.LEFT, left_at=now, outcome="call_ended"),
        replace(helper, state=PartyState.LEFT, left_at=now, outcome="cancelled"),
        replace(number, state=PartyState.LEFT, left_at=now, outcome="call_ended"),
        gone,
    )
    assert step.state.hold_s == 15.0 and step.state.held_since is None
    # Ended by anyone else, the ringing helper is released as "call ended".
    by_system = calls.end(call, Outcome.ANSWERED, Party.SYSTEM, "x", now)
    assert OfferReleased("bob", "p2", calls.CALL_ENDED) in by_system.actions
    # A hold that started "after" now adds nothing.
    early = calls.end(call, Outcome.ANSWERED, Party.CALLER, None, T0 + s(80))
    assert early.state is not None and early.state.hold_s == 5.0


def test_an_external_party_without_a_login_is_never_finished_as_an_operator() -> None:
    now = T0 + s(30)
    number = CallParty(
        "p3",
        PartyKind.EXTERNAL,
        Address(TargetType.PSTN, "+1555"),
        PartyState.CONNECTED,
        T0,
        login="+1555",
    )
    call = replace(queued(), state=CallState.CONNECTED, parties=(number,))
    step = calls.end(call, Outcome.ANSWERED, Party.CALLER, None, now)
    assert step.actions == ()


def test_a_queued_call_with_a_stale_spare_releases_nothing() -> None:
    spare = SpareAttempt("s1", "+1555", T0, T0 + s(20))
    call = queued(spare=spare)
    step = calls.end(call, Outcome.ABANDONED, Party.CALLER, None, T0 + s(5))
    assert step.actions == ()


def test_a_spare_call_that_connected_ends_as_overflowed() -> None:
    spare = SpareAttempt("s1", "+1555", T0, T0 + s(20), sent_at=T0)
    call = queued(state=CallState.OVERFLOW_CONNECTED, spare=spare, connected_at=T0 + s(3))
    step = calls.end(call, Outcome.ANSWERED, Party.CALLER, None, T0 + s(9))
    assert step.state is not None and step.state.outcome is Outcome.OVERFLOWED
    assert step.actions == (ReleaseSpare("+1555", "c1"),)


# -- deadlines --------------------------------------------------------------------------------


def test_the_next_callback_attempt_goes_back_in_line_with_a_fresh_deadline() -> None:
    waiting = queued(state=CallState.CALLBACK_WAIT, task="callback", deadline=T0 + s(300))
    now = T0 + s(300)
    step = calls.deadline_reached(waiting, now, POLICY)
    assert step.state == replace(waiting, state=CallState.QUEUED, deadline=now + s(60))
    assert step.actions == (DispatchCall("c1"),)


def test_a_voicemail_that_never_came_is_abandoned_by_the_caller() -> None:
    rec = queued(state=CallState.VOICEMAIL, deadline=T0 + s(180))
    now = T0 + s(180)
    step = calls.deadline_reached(rec, now, POLICY)
    assert step.state is not None
    assert (
        step.state.outcome,
        step.state.hung_up_by,
        step.state.end_reason,
        step.state.ended_at,
    ) == (
        Outcome.ABANDONED,
        Party.CALLER,
        "no_voicemail",
        now,
    )


def test_the_periodic_look_at_a_connected_call_asks_the_session_but_not_for_a_task() -> None:
    now = T0 + s(600)
    talking = replace(queued(), state=CallState.CONNECTED, operator="ann", deadline=now)
    step = calls.deadline_reached(talking, now, POLICY)
    assert step.state == replace(talking, deadline=now + s(600))
    assert step.actions == (CheckSession("c1"),)
    task = replace(talking, task="voicemail")
    assert calls.deadline_reached(task, now, POLICY).actions == ()
    # A call with parties that is not connected (on a spare) is not looked at as one.
    spare = SpareAttempt("s1", "+1555", T0, T0 + s(20), sent_at=T0)
    on_spare = replace(
        talking,
        state=CallState.OVERFLOW_CONNECTED,
        spare=spare,
        parties=(
            CallParty(
                "p3", PartyKind.EXTERNAL, Address(TargetType.PSTN, "+1"), PartyState.CONNECTED, T0
            ),
        ),
    )
    assert calls.deadline_reached(on_spare, now, POLICY).state == replace(
        on_spare, deadline=now + s(600)
    )


# -- overflow ---------------------------------------------------------------------------------


def test_the_next_overflow_round_may_not_come_before_the_threshold() -> None:
    policy = RoutingPolicy(overflow_after_s=30)
    assert calls.overflow_due_at(queued(next_overflow_at=T0 + s(30)), policy) == T0 + s(30)
    assert calls.overflow_due_at(queued(next_overflow_at=T0 + s(31)), policy) == T0 + s(31)
    assert calls.overflow_due_at(queued(next_overflow_at=T0 + s(5)), policy) == T0 + s(30)


def test_a_groups_own_number_that_fails_ends_the_call_and_keeps_the_attempt() -> None:
    attempt = SpareAttempt("s1", "+1555", T0, T0 + s(30), sent_at=T0, fallback=True)
    call = queued(state=CallState.OVERFLOW_OFFERING, spare=attempt, deadline=T0 + s(30))
    now = T0 + s(8)
    step = calls.spare_failed(call, "s1", now, POLICY)
    assert step.state == replace(
        call,
        state=CallState.ENDED,
        outcome=Outcome.FAILED,
        hung_up_by=Party.SYSTEM,
        end_reason=calls.NUMBER_FAILED,
        ended_at=now,
        deadline=None,
        spare=attempt,
    )
    assert step.actions == (SendHangup("c1", calls.NUMBER_FAILED, say=True),)
    # Expired, the same plus the cancel of the ringing leg.
    late = calls.spare_expired(call, "s1", T0 + s(30), POLICY)
    assert late.actions == (
        SendCancel("c1", "s1"),
        SendHangup("c1", calls.NUMBER_FAILED, say=True),
    )
