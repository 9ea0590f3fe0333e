"""'Your manager' rules in the core: who counts as away, waiting, and preferences on calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.domain import calls, operators
from backend.domain.actions import DispatchCall, ManagerAway, Refused, TryOverflow
from backend.domain.manager import ManagerState, away_text, manager_state
from backend.domain.model import (
    Absence,
    AbsenceReason,
    Activity,
    Address,
    Call,
    Media,
    Offer,
    Operator,
    Presence,
    Skill,
    Strategy,
    TargetType,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.selection import choose_call, choose_operator

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = RoutingPolicy(manager_wait_s=30, queued_check_s=60)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def op(login: str = "manny", **kw: Any) -> Operator:
    base = operators.new_operator(login, Address(TargetType.USER, login), (Skill("default"),), T0)
    return replace(base, **{"presence": Presence.READY, **kw})


def test_manager_state() -> None:
    assert manager_state(op(), T0) is ManagerState.ROUTABLE
    assert manager_state(op(activity=Activity.IN_CALL), T0) is ManagerState.BUSY
    assert manager_state(op(activity=Activity.WRAP_UP), T0) is ManagerState.BUSY
    assert manager_state(op(activity=Activity.BANNED), T0) is ManagerState.AWAY
    assert manager_state(op(presence=Presence.NOT_READY), T0) is ManagerState.AWAY
    assert manager_state(None, T0) is ManagerState.AWAY
    away = op(absence=Absence(AbsenceReason.VACATION, at(3600)))
    assert manager_state(away, T0) is ManagerState.AWAY
    assert manager_state(away, at(3601)) is ManagerState.ROUTABLE  # the absence has ended


def test_away_text_names_the_manager_and_the_date() -> None:
    away = op(absence=Absence(AbsenceReason.VACATION, datetime(2026, 12, 3, tzinfo=UTC)))
    text = away_text(away, "Manny", T0, "{name} is on {reason} until {until}.", "{name} is out.")
    assert text == "Manny is on vacation until December 3."
    assert away_text(op(presence=Presence.OFFLINE), "Manny", T0, "x", "{name} is out.") == (
        "Manny is out."
    )


def test_absence_takes_a_ready_operator_out_and_refuses_ready() -> None:
    step = operators.set_absence(op(), Absence(AbsenceReason.SICK_LEAVE), T0)
    assert step.state is not None and step.state.presence is Presence.NOT_READY
    assert step.state.reason == "absent"
    assert ManagerAway("manny") in step.actions
    with pytest.raises(Refused) as refused:
        operators.set_presence(step.state, Presence.READY, None, at(1))
    assert refused.value.code == "absent"


def test_going_not_ready_tells_the_shell_the_manager_is_away() -> None:
    step = operators.set_presence(op(), Presence.NOT_READY, "lunch", T0)
    assert ManagerAway("manny") in step.actions
    busy = op(activity=Activity.IN_CALL)
    step = operators.set_presence(busy, Presence.NOT_READY, "lunch", T0)
    assert ManagerAway("manny") in step.actions


def _waiting_call(preferred: str | None = "manny") -> Call:
    step = calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY, preferred)
    assert step.state is not None
    return step.state


def test_a_call_waits_for_its_manager_until_the_limit() -> None:
    call = _waiting_call()
    assert call.waits_for(at(29)) == "manny" and call.waits_for(at(30)) is None
    assert call.deadline == at(30)  # the manager's limit comes before the queued check
    other, manny = op("other"), op("manny", activity=Activity.IN_CALL)
    assert choose_operator(call, [other, manny], Strategy.LONGEST_IDLE, now=at(1)) is None
    assert choose_operator(call, [other], Strategy.LONGEST_IDLE, now=at(31)) == other
    step = calls.deadline_reached(call, at(30), POLICY)
    assert step.state is not None and step.state.preferred is None
    assert DispatchCall("c1") in step.actions


def test_a_freed_manager_takes_their_caller_before_older_calls() -> None:
    mine = _waiting_call()
    older = replace(_waiting_call(None), call_id="c0", enqueued_at=at(-60))
    manny, other = op("manny"), op("other")
    assert choose_call(manny, [older, mine], at(5)) == mine
    # Someone else does not take a call reserved for manny.
    assert choose_call(other, [mine], at(5)) is None
    assert choose_call(other, [older, mine], at(5)) == older


def test_a_manager_who_misses_is_not_waited_for_again() -> None:
    call = _waiting_call()
    offer = Offer("o1", "manny", Address(TargetType.USER, "manny"), at(1), at(31), at(1))
    offering = calls.offer(call, offer).state
    assert offering is not None
    step = calls.offer_failed(offering, "o1", 480, at(5), POLICY)
    assert step.state is not None and step.state.preferred is None


def test_preference_dropped_when_the_manager_goes_away() -> None:
    step = calls.preference_dropped(_waiting_call(), "manny", at(3), POLICY)
    assert step.state is not None and step.state.preferred is None
    assert step.actions == (DispatchCall("c1"),)
    assert calls.preference_dropped(_waiting_call(), "someone", at(3), POLICY).state is None


def test_overflow_becomes_due_after_the_threshold() -> None:
    policy = RoutingPolicy(overflow_after_s=60, queued_check_s=300)
    call = calls.new_call("c1", "default", 50, Media.VOICE, T0, policy).state
    assert call is not None and call.deadline == at(60)
    assert not calls.overflow_due(call, at(59), policy)
    step = calls.deadline_reached(call, at(60), policy)
    assert TryOverflow("c1") in step.actions
    retry = calls.no_spare(call, at(60), policy).state
    assert retry is not None and retry.next_overflow_at == at(90)
    assert not calls.overflow_due(retry, at(89), policy)
    assert calls.overflow_due(retry, at(90), policy)
