"""A call put through to a spare number: offered, sent, connected, failed, expired, ended."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import calls
from backend.domain.actions import (
    CheckSession,
    DispatchCall,
    ReleaseSpare,
    SendCancel,
    Step,
    TryOverflow,
)
from backend.domain.model import (
    Address,
    Call,
    CallState,
    Media,
    Offer,
    Outcome,
    Party,
    SpareAttempt,
    TargetType,
)
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(
    queued_check_s=60, in_call_check_s=600, overflow_after_s=120, overflow_retry_s=45
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def moved(step: Step[Call]) -> Call:
    assert step.state is not None, "expected a change"
    return step.state


def queued() -> Call:
    return moved(calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY))


def attempt(offer_id: str = "s1", number: str = "+100", t: float = 130) -> SpareAttempt:
    return SpareAttempt(offer_id, number, at(t), at(t + 30))


def on_spare(call: Call | None = None, sent: bool = True) -> Call:
    new = moved(calls.spare_offer(call or queued(), attempt()))
    return moved(calls.spare_sent(new, "s1", at(131))) if sent else new


def spare_talking() -> Call:
    return moved(calls.spare_connected(on_spare(), "s1", at(135), POLICY))


def test_a_spare_offer_rings_the_number_until_the_attempt_expires() -> None:
    call = queued()
    step = calls.spare_offer(call, attempt())
    assert step == Step(
        replace(
            call,
            state=CallState.OVERFLOW_OFFERING,
            spare=attempt(),
            spares_tried=("+100",),
            deadline=at(160),
        )
    )


def test_each_spare_offered_is_remembered_for_the_round() -> None:
    first = on_spare()
    back = moved(calls.spare_failed(first, "s1", at(140), POLICY))
    second = moved(calls.spare_offer(back, attempt("s2", "+200", 141)))
    assert second.spares_tried == ("+100", "+200")


@pytest.mark.parametrize("state", ["offering", "spare", "ended"])
def test_only_a_queued_call_is_offered_to_a_spare(state: str) -> None:
    call = {
        "offering": replace(
            queued(),
            state=CallState.OFFERING,
            offer=Offer("o1", "ann", Address(TargetType.USER, "ann"), at(1), at(31)),
        ),
        "spare": on_spare(),
        "ended": moved(calls.caller_hung_up(queued(), at(5))),
    }[state]
    assert calls.spare_offer(call, attempt("s9", "+900")) == Step(None)


def test_spare_sent_is_recorded_once_and_only_for_the_current_attempt() -> None:
    call = on_spare(sent=False)
    sent = moved(calls.spare_sent(call, "s1", at(131)))
    assert sent == replace(call, spare=replace(attempt(), sent_at=at(131)))
    assert calls.spare_sent(sent, "s1", at(132)) == Step(None)
    assert calls.spare_sent(call, "stale", at(132)) == Step(None)
    # An operator's offer with the same id is not a spare attempt.
    assert calls.spare_sent(queued(), "s1", at(132)) == Step(None)


def test_a_spare_answer_connects_the_call_and_drops_the_managers_claim() -> None:
    call = replace(on_spare(), preferred="ann", preferred_until=at(200))
    step = calls.spare_connected(call, "s1", at(135), POLICY)
    assert step == Step(
        replace(
            call,
            state=CallState.OVERFLOW_CONNECTED,
            connected_at=at(135),
            preferred=None,
            preferred_until=None,
            deadline=at(135 + 600),
        )
    )


def test_a_stale_or_connected_spare_report_changes_nothing() -> None:
    assert calls.spare_connected(on_spare(), "other", at(135), POLICY) == Step(None)
    assert calls.spare_connected(spare_talking(), "s1", at(136), POLICY) == Step(None)
    assert calls.spare_failed(on_spare(), "other", at(135), POLICY) == Step(None)
    assert calls.spare_failed(spare_talking(), "s1", at(136), POLICY) == Step(None)
    assert calls.spare_expired(spare_talking(), "s1", at(500), POLICY) == Step(None)


def test_a_failed_spare_frees_its_line_and_the_call_waits_again_in_its_place() -> None:
    call = on_spare()
    step = calls.spare_failed(call, "s1", at(140), POLICY)
    back = moved(step)
    assert back.state is CallState.QUEUED
    assert (back.spare, back.offer) == (None, None)
    assert back.enqueued_at == T0 and back.spares_tried == ("+100",)
    # Past its overflow threshold, and this step tries the next spare itself (TryOverflow): the
    # next look is after the retry pause, not the past threshold (which would be "now" again).
    assert back.deadline == at(140 + 45)
    assert step.actions == (
        ReleaseSpare("+100", "c1"),
        DispatchCall("c1"),
        TryOverflow("c1"),
    )
    # So its timer does not fire again at once (and again, writing the call each time).
    assert calls.deadline_reached(back, at(140), POLICY) == Step(None)


def test_a_call_due_to_overflow_is_tried_once_then_looked_at_after_the_retry_pause() -> None:
    """The deadline that finds the overflow due tries it; the next deadline is not "now" again
    (a timer firing back to back, each time writing the call, starved the attempt in flight)."""
    waiting = replace(
        moved(calls.spare_failed(on_spare(), "s1", at(140), POLICY)), deadline=at(150)
    )
    step = calls.deadline_reached(waiting, at(150), POLICY)
    again = moved(step)
    assert TryOverflow("c1") in step.actions
    assert again.deadline == at(150 + 45)  # the retry pause, before the periodic check (60)
    assert calls.deadline_reached(again, at(150), POLICY) == Step(None)


def test_a_spare_attempt_expires_only_at_its_limit_and_cancels_the_ringing() -> None:
    call = on_spare()
    assert calls.spare_expired(call, "s1", at(159), POLICY) == Step(None)
    assert calls.spare_expired(call, "other", at(161), POLICY) == Step(None)
    step = calls.spare_expired(call, "s1", at(160), POLICY)
    assert step.state == moved(calls.spare_failed(call, "s1", at(160), POLICY))
    assert step.actions == (
        SendCancel("c1", "s1"),
        ReleaseSpare("+100", "c1"),
        DispatchCall("c1"),
        TryOverflow("c1"),
    )


def test_the_deadline_of_a_ringing_spare_expires_the_attempt() -> None:
    call = on_spare()
    assert calls.deadline_reached(call, at(159), POLICY) == Step(None)
    assert calls.deadline_reached(call, at(160), POLICY) == calls.spare_expired(
        call, "s1", at(160), POLICY
    )


def test_the_deadline_of_a_spare_call_in_progress_checks_the_session() -> None:
    call = spare_talking()
    step = calls.deadline_reached(call, at(735), POLICY)
    assert step == Step(replace(call, deadline=at(735 + 600)), (CheckSession("c1"),))


def test_a_caller_leaving_while_the_spare_rings_frees_the_line() -> None:
    step = calls.caller_hung_up(on_spare(), at(140))
    ended = moved(step)
    assert (ended.state, ended.outcome, ended.hung_up_by, ended.end_reason) == (
        CallState.ENDED,
        Outcome.ABANDONED,
        Party.CALLER,
        calls.ABANDONED_WHILE_RINGING,
    )
    assert (ended.ended_at, ended.deadline, ended.offer) == (at(140), None, None)
    assert step.actions == (ReleaseSpare("+100", "c1"),)


@pytest.mark.parametrize(
    "end",
    [
        lambda c: calls.caller_hung_up(c, at(300)),
        lambda c: calls.operator_hung_up(c, at(300)),
        lambda c: calls.session_ended(c, at(300)),
    ],
    ids=["caller", "spare", "session"],
)
def test_a_call_answered_by_a_spare_ends_as_overflowed(end: Callable[[Call], Step[Call]]) -> None:
    step = end(spare_talking())
    ended = moved(step)
    assert (ended.state, ended.outcome, ended.ended_at) == (
        CallState.ENDED,
        Outcome.OVERFLOWED,
        at(300),
    )
    assert step.actions == (ReleaseSpare("+100", "c1"),)


def test_no_spare_now_keeps_the_place_and_starts_a_new_round_later() -> None:
    call = replace(queued(), spares_tried=("+100", "+200"))
    new = moved(calls.no_spare(call, at(130), POLICY))
    assert new.spares_tried == ()
    assert new.next_overflow_at == at(175)
    assert new.enqueued_at == T0 and new.state is CallState.QUEUED
    # The retry comes before the periodic check (at 190), so it is the next look.
    assert new.deadline == at(175)
    assert calls.no_spare(on_spare(), at(130), POLICY) == Step(None)


def test_the_next_overflow_round_waits_for_the_retry_pause() -> None:
    call = moved(calls.no_spare(queued(), at(130), POLICY))
    assert calls.overflow_due_at(call, POLICY) == at(175)
    assert not calls.overflow_due(call, at(174), POLICY)
    assert calls.overflow_due(call, at(175), POLICY)
    # The threshold itself still counts when it is later than the retry.
    early = replace(queued(), next_overflow_at=at(10))
    assert calls.overflow_due_at(early, POLICY) == at(120)
    assert not calls.overflow_due(early, at(119), POLICY)
    assert calls.overflow_due(early, at(120), POLICY)
    assert calls.overflow_due_at(queued(), RoutingPolicy()) is None
    assert not calls.overflow_due(queued(), at(10_000), RoutingPolicy())
    assert not calls.overflow_due(on_spare(), at(10_000), POLICY)


def test_a_queued_call_past_its_threshold_tries_overflow_at_its_deadline() -> None:
    call = replace(queued(), deadline=at(120))
    step = calls.deadline_reached(call, at(120), POLICY)
    assert step.actions == (CheckSession("c1"), DispatchCall("c1"), TryOverflow("c1"))
    # The attempt runs now; the next look is after the retry pause. "At once" made the timer
    # fire back to back, each time writing the call, and the attempt in flight lost every write.
    assert moved(step).deadline == at(120 + 45)
    before = calls.deadline_reached(replace(call, deadline=at(60)), at(60), POLICY)
    assert before.actions == (CheckSession("c1"), DispatchCall("c1"))
    assert moved(before).deadline == at(120)
