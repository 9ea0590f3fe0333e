"""Who takes what: operator order per strategy, and the call a free operator takes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import selection
from backend.domain.model import (
    Activity,
    Address,
    Call,
    CallState,
    Media,
    Operator,
    OperatorStats,
    Presence,
    Skill,
    Strategy,
    TargetType,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def op(
    login: str,
    idle_s: float = 0,
    *,
    level: int = 1,
    group: str = "default",
    answers: int = 0,
    offers: int = 0,
    presence: Presence = Presence.READY,
    activity: Activity = Activity.IDLE,
) -> Operator:
    return Operator(
        login=login,
        address=Address(TargetType.USER, login),
        groups=(Skill(group, level), Skill("other", 1)),
        presence=presence,
        presence_since=T0,
        activity=activity,
        activity_since=T0,
        idle_since=at(idle_s),
        stats=OperatorStats(offers=offers, answers=answers),
    )


def call(
    call_id: str, wait_from_s: float = 0, *, priority: int = 50, group: str = "default"
) -> Call:
    return Call(
        call_id=call_id,
        group=group,
        priority=priority,
        media=Media.VOICE,
        state=CallState.QUEUED,
        created_at=at(wait_from_s),
        enqueued_at=at(wait_from_s),
    )


def chosen(
    candidates: list[Operator], strategy: Strategy, exclude: tuple[str, ...] = ()
) -> str | None:
    found = selection.choose_operator(call("c1"), candidates, strategy, exclude)
    return found.login if found else None


def test_longest_idle_takes_the_earliest_idle_since() -> None:
    ops = [op("ann", 30), op("bob", 10), op("cat", 20)]
    assert chosen(ops, Strategy.LONGEST_IDLE) == "bob"


def test_fewest_calls_takes_the_fewest_answers_then_longest_idle() -> None:
    ops = [op("ann", 0, answers=5), op("bob", 20, answers=2), op("cat", 10, answers=2)]
    assert chosen(ops, Strategy.FEWEST_CALLS) == "cat"


def test_best_score_takes_the_highest_score_then_longest_idle() -> None:
    good = op("bob", 20, offers=10, answers=10)
    also_good = op("cat", 10, offers=10, answers=10)
    poor = op("ann", 0, offers=10, answers=2)
    assert good.score > poor.score
    assert chosen([poor, good, also_good], Strategy.BEST_SCORE) == "cat"


@pytest.mark.parametrize("strategy", list(Strategy))
def test_skill_level_breaks_ties(strategy: Strategy) -> None:
    ops = [op("ann", 5, level=1), op("bob", 5, level=3), op("cat", 5, level=2)]
    assert chosen(ops, strategy) == "bob"


@pytest.mark.parametrize("strategy", list(Strategy))
def test_unroutable_and_other_group_operators_are_never_chosen(strategy: Strategy) -> None:
    unfit = [
        op("away", 0, presence=Presence.NOT_READY),
        op("gone", 0, presence=Presence.OFFLINE),
        op("busy", 0, activity=Activity.IN_CALL),
        op("ringing", 0, activity=Activity.OFFERED),
        op("wrapping", 0, activity=Activity.WRAP_UP),
        op("paused", 0, activity=Activity.PAUSED_NO_ANSWER),
        op("banned", 0, activity=Activity.BANNED),
        op("reserved", 0, activity=Activity.VIDEO_RESERVED),
        op("sales", 0, group="sales"),
    ]
    assert chosen(unfit, strategy) is None
    assert chosen([*unfit, op("late", 99)], strategy) == "late"


def test_excluded_operators_are_skipped() -> None:
    ops = [op("ann", 0), op("bob", 10)]
    assert chosen(ops, Strategy.LONGEST_IDLE, exclude=("ann",)) == "bob"


def test_choose_call_takes_priority_first_then_the_longest_wait() -> None:
    queue = [
        call("old", 0, priority=50),
        call("vip", 30, priority=70),
        call("vip-old", 20, priority=70),
    ]
    assert (found := selection.choose_call(op("ann"), queue)) and found.call_id == "vip-old"
    assert (found := selection.choose_call(op("ann"), queue[:1])) and found.call_id == "old"


def test_choose_call_takes_only_waiting_calls_of_the_operators_groups() -> None:
    offering = replace(call("ringing", 0), state=CallState.OFFERING)
    foreign = call("sales", 0, priority=99, group="sales")
    other_group = call("other", 20, group="other")
    assert selection.choose_call(op("ann"), [offering, foreign]) is None
    assert (found := selection.choose_call(op("ann"), [offering, foreign, other_group]))
    assert found.call_id == "other"


def test_wait_seconds_never_negative() -> None:
    assert selection.wait_seconds(call("c", 10), at(25)) == 15
    assert selection.wait_seconds(call("c", 10), at(5)) == 0
