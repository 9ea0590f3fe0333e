"""Call transitions of the pure core: queued → offering → connected → ended, on a virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import calls
from backend.domain.actions import (
    CallFinished,
    CheckSession,
    DispatchCall,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    SendCancel,
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
    TargetType,
)
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(queued_check_s=60, in_call_check_s=600)
ANN = Address(TargetType.USER, "ann")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def moved(step: Step[Call]) -> Call:
    assert step.state is not None, "expected a change"
    return step.state


def queued(now: datetime = T0) -> Call:
    return moved(calls.new_call("c1", "default", 50, Media.VOICE, now, POLICY))


def offering(
    call: Call | None = None, offer_id: str = "o1", t: float = 10, sent: bool = True
) -> Call:
    call = call or queued()
    now = at(t)
    the_offer = Offer(offer_id, "ann", ANN, now, now + timedelta(seconds=30))
    new = moved(calls.offer(call, the_offer))
    return moved(calls.offer_sent(new, offer_id, now)) if sent else new


def connected() -> Call:
    return moved(calls.offer_connected(offering(), "o1", at(14), POLICY))


def test_new_call_is_queued_and_asks_for_dispatch() -> None:
    step = calls.new_call("c1", "sales", 60, Media.VIDEO, T0, POLICY)
    call = moved(step)
    assert (call.state, call.group, call.priority, call.media) == (
        CallState.QUEUED,
        "sales",
        60,
        Media.VIDEO,
    )
    assert call.enqueued_at == call.created_at == T0
    assert call.deadline == at(60)
    assert step.actions == (DispatchCall("c1"),)


def test_offer_moves_a_queued_call_to_offering() -> None:
    call = offering(sent=False)
    assert call.state is CallState.OFFERING and call.attempts == 1
    assert call.offer is not None and call.deadline == call.offer.expires_at == at(40)
    # Only a queued call can be offered: a second offer never makes it ring twice.
    other = Offer("o2", "bob", ANN, at(11), at(41))
    assert calls.offer(call, other) == Step(None)


def test_offer_sent_is_recorded_once() -> None:
    call = offering(sent=False)
    sent = moved(calls.offer_sent(call, "o1", at(11)))
    assert sent.offer is not None and sent.offer.sent_at == at(11)
    assert calls.offer_sent(sent, "o1", at(12)) == Step(None)
    assert calls.offer_sent(call, "stale", at(12)) == Step(None)


def test_answer_connects_the_call_and_reports_the_answer_time() -> None:
    step = calls.offer_connected(offering(), "o1", at(14), POLICY)
    call = moved(step)
    assert (call.state, call.operator, call.connected_at) == (CallState.CONNECTED, "ann", at(14))
    assert call.deadline == at(14 + 600)
    assert step.actions == (OfferAnswered("ann", "o1", "c1", 4.0),)
    assert calls.offer_connected(call, "o1", at(15), POLICY) == Step(None)


def test_answer_time_counts_from_creation_when_the_send_was_not_recorded() -> None:
    step = calls.offer_connected(offering(sent=False), "o1", at(16), POLICY)
    assert step.actions == (OfferAnswered("ann", "o1", "c1", 6.0),)


def test_failed_offer_requeues_keeping_enqueued_at() -> None:
    step = calls.offer_failed(offering(), "o1", 486, at(20), POLICY)
    call = moved(step)
    assert (call.state, call.offer, call.enqueued_at) == (CallState.QUEUED, None, T0)
    assert call.deadline == at(80)
    assert step.actions == (OfferMissed("ann", "o1", 486), DispatchCall("c1"))


def test_expired_offer_that_never_reached_the_scenario_releases_the_operator() -> None:
    step = calls.offer_expired(offering(sent=False), "o1", at(40), POLICY)
    assert step.actions == (
        SendCancel("c1", "o1"),
        OfferReleased("ann", "o1", calls.UNDELIVERED),
        DispatchCall("c1"),
    )


def test_failure_reported_before_the_connect_reply_was_recorded_is_still_a_miss() -> None:
    # The scenario reports only on offers it received, so its report proves delivery even
    # when the backend has not yet saved the connect reply (engine.commands.connect records
    # the reply, then applies offer_sent: a fast 486/480 from the scenario can come first).
    # Released instead, the busy operator keeps their place and is offered the call again.
    step = calls.offer_failed(offering(sent=False), "o1", 486, at(11), POLICY)
    assert step.actions == (OfferMissed("ann", "o1", 486), DispatchCall("c1"))


def test_undeliverable_offer_releases_and_requeues() -> None:
    step = calls.offer_undeliverable(offering(), "o1", at(12), POLICY)
    assert moved(step).state is CallState.QUEUED
    assert step.actions == (OfferReleased("ann", "o1", calls.UNDELIVERED), DispatchCall("c1"))


def test_stale_offer_ids_are_ignored_after_a_requeue() -> None:
    call = moved(calls.offer_failed(offering(), "o1", 480, at(20), POLICY))
    call = offering(call, "o2", 21)
    assert call.attempts == 2 and call.enqueued_at == T0
    assert calls.offer_connected(call, "o1", at(22), POLICY) == Step(None)
    assert calls.offer_failed(call, "o1", 486, at(22), POLICY) == Step(None)
    assert calls.offer_undeliverable(call, "o1", at(22), POLICY) == Step(None)
    assert calls.offer_expired(call, "o1", at(99), POLICY) == Step(None)
    assert moved(calls.offer_connected(call, "o2", at(23), POLICY)).operator == "ann"


def test_offer_expires_only_after_expires_at_and_cancels_the_ringing() -> None:
    call = offering()
    assert calls.offer_expired(call, "o1", at(39), POLICY) == Step(None)
    step = calls.offer_expired(call, "o1", at(40), POLICY)
    assert moved(step).state is CallState.QUEUED and moved(step).enqueued_at == T0
    assert step.actions == (
        SendCancel("c1", "o1"),
        OfferMissed("ann", "o1", calls.TIMEOUT_CODE),
        DispatchCall("c1"),
    )
    assert calls.offer_expired(moved(step), "o1", at(41), POLICY) == Step(None)


def test_deadline_of_an_offering_call_expires_the_offer() -> None:
    call = offering()
    assert calls.deadline_reached(call, at(39), POLICY) == Step(None)
    assert calls.deadline_reached(call, at(40), POLICY) == calls.offer_expired(
        call, "o1", at(40), POLICY
    )


def test_deadline_of_a_queued_call_checks_the_session_and_dispatches() -> None:
    step = calls.deadline_reached(queued(), at(60), POLICY)
    assert moved(step).deadline == at(120)
    assert step.actions == (CheckSession("c1"), DispatchCall("c1"))


def test_deadline_of_a_connected_call_checks_the_session() -> None:
    step = calls.deadline_reached(connected(), at(614), POLICY)
    assert moved(step).deadline == at(1214)
    assert step.actions == (CheckSession("c1"),)


def test_deadline_of_an_ended_call_changes_nothing() -> None:
    call = moved(calls.caller_hung_up(queued(), at(5)))
    assert calls.deadline_reached(call, at(9999), POLICY) == Step(None)


# -- endings -------------------------------------------------------------------------------

Ending = Callable[[Call, datetime], Step[Call]]
Start = Callable[[], Call]


@pytest.mark.parametrize(
    ("start", "end", "outcome", "party", "reason"),
    [
        ("queued", calls.caller_hung_up, Outcome.ABANDONED, Party.CALLER, None),
        (
            "offering",
            calls.caller_hung_up,
            Outcome.ABANDONED,
            Party.CALLER,
            calls.ABANDONED_WHILE_RINGING,
        ),
        ("connected", calls.caller_hung_up, Outcome.ANSWERED, Party.CALLER, None),
        ("connected", calls.operator_hung_up, Outcome.ANSWERED, Party.OPERATOR, None),
        ("queued", calls.session_ended, Outcome.ABANDONED, Party.CALLER, "session_ended"),
        ("offering", calls.session_ended, Outcome.ABANDONED, Party.CALLER, "session_ended"),
        ("connected", calls.session_ended, Outcome.ANSWERED, Party.SYSTEM, "session_ended"),
        (
            "queued",
            lambda c, t: calls.session_gone(c, t, "gone"),
            Outcome.FAILED,
            Party.SYSTEM,
            "gone",
        ),
        (
            "offering",
            lambda c, t: calls.session_gone(c, t, "gone"),
            Outcome.FAILED,
            Party.SYSTEM,
            "gone",
        ),
        (
            "connected",
            lambda c, t: calls.session_gone(c, t, "gone"),
            Outcome.ANSWERED,
            Party.SYSTEM,
            "gone",
        ),
        (
            "queued",
            lambda c, t: calls.hangup_requested(c, Party.OPERATOR, "spam", t),
            Outcome.REJECTED,
            Party.OPERATOR,
            "spam",
        ),
        (
            "connected",
            lambda c, t: calls.hangup_requested(c, Party.OPERATOR, "done", t),
            Outcome.ANSWERED,
            Party.OPERATOR,
            "done",
        ),
    ],
)
def test_endings(
    start: str, end: Ending, outcome: Outcome, party: Party, reason: str | None
) -> None:
    starts: dict[str, Start] = {"queued": queued, "offering": offering, "connected": connected}
    call = starts[start]()
    step = end(call, at(74))
    ended = moved(step)
    assert (ended.state, ended.outcome, ended.hung_up_by, ended.end_reason) == (
        CallState.ENDED,
        outcome,
        party,
        reason,
    )
    assert (ended.ended_at, ended.deadline) == (at(74), None)
    # An offer ringing at the end stays on the call as the record of whom it rang.
    assert ended.offer == (call.offer if start == "offering" else None)
    # What the operator side hears: a released offer (saying why), a finished call, or nothing.
    why = calls.CALLER_LEFT if reason == calls.ABANDONED_WHILE_RINGING else calls.CALL_ENDED
    expected = {
        "queued": (),
        "offering": (OfferReleased("ann", "o1", why),),
        "connected": (CallFinished("ann", "c1", 60.0, "default"),),
    }[start]
    assert step.actions == expected
    # Ending is final: a repeated or late report changes nothing.
    assert end(ended, at(75)) == Step(None)


@pytest.mark.parametrize("start", ["queued", "offering"])
def test_operator_hang_up_before_connection_is_ignored(start: str) -> None:
    starts: dict[str, Start] = {"queued": queued, "offering": offering}
    call = starts[start]()
    assert calls.operator_hung_up(call, at(20)) == Step(None)


def test_requeued_call_keeps_its_place_over_several_attempts() -> None:
    call = queued()
    for attempt in range(1, 4):
        call = offering(call, f"o{attempt}", 10 * attempt)
        assert call.attempts == attempt
        call = moved(calls.offer_expired(call, f"o{attempt}", at(10 * attempt + 30), POLICY))
        assert call.enqueued_at == T0 and call.waiting
