"""The invariant checks catch broken states, and hold through a busy mixed-skill simulation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain.model import (
    Activity,
    Address,
    Call,
    CallState,
    Media,
    Offer,
    Operator,
    Presence,
    Skill,
    Strategy,
    TargetType,
)
from backend.domain.policy import RoutingPolicy
from tests.simulation import invariants
from tests.simulation.runner import simulate
from tests.simulation.sim import T0, CallKind

POLICY = RoutingPolicy()


def ready(login: str, group: str = "default") -> Operator:
    op = op_rules.new_operator(login, Address(TargetType.USER, login), (Skill(group),), T0)
    return replace(op, presence=Presence.READY)


def queued(call_id: str, group: str = "default") -> Call:
    step = call_rules.new_call(call_id, group, 50, Media.VOICE, T0, POLICY)
    assert step.state is not None
    return step.state


def offered(op: Operator, call: Call) -> tuple[Operator, Call]:
    offer_id = f"{call.call_id}/1"
    expires = T0 + timedelta(seconds=30)
    new_op = op_rules.offer(op, call.call_id, offer_id, expires, T0).state
    new_call = call_rules.offer(call, Offer(offer_id, op.login, op.address, T0, expires)).state
    assert new_op is not None and new_call is not None
    return new_op, new_call


def both_checks(ops: list[Operator], calls: list[Call]) -> None:
    """Run the full scan, then the incremental monitor on the same state."""
    invariants.check(ops, calls)
    monitor = invariants.Monitor()
    for op in ops:
        monitor.operator_saved(op)
    for call in calls:
        monitor.call_saved(call)
    monitor.check()


def test_consistent_states_pass() -> None:
    ann, call = offered(ready("ann"), queued("c1"))
    both_checks([ann, ready("bob", "sales")], [call, queued("c2")])


def test_a_queued_call_beside_a_routable_operator_is_caught() -> None:
    with pytest.raises(invariants.InvariantBroken, match="free operator"):
        both_checks([ready("ann")], [queued("c1")])


def test_a_call_ringing_two_operators_is_caught() -> None:
    ann, call = offered(ready("ann"), queued("c1"))
    bob = replace(ann, login="bob")
    with pytest.raises(invariants.InvariantBroken):
        both_checks([ann, bob], [call])


def test_an_operator_offered_two_calls_is_caught() -> None:
    ann, first = offered(ready("ann"), queued("c1"))
    _, second = offered(ready("ann"), queued("c2"))
    with pytest.raises(invariants.InvariantBroken):
        both_checks([ann], [first, second])


def test_an_operator_in_a_call_that_ended_is_caught() -> None:
    ann, call = offered(ready("ann"), queued("c1"))
    ann = replace(ann, activity=Activity.IN_CALL, offer_id=None)
    ended = replace(call, state=CallState.ENDED)
    with pytest.raises(invariants.InvariantBroken):
        invariants.check([ann], [])
    monitor = invariants.Monitor()
    monitor.operator_saved(ann)
    monitor.call_saved(call)
    monitor.call_saved(ended)
    with pytest.raises(invariants.InvariantBroken):
        monitor.check()


@pytest.mark.parametrize("strategy", list(Strategy))
def test_invariants_hold_with_skills_priorities_no_answers_and_bans(strategy: Strategy) -> None:
    """Overlapping skills, two priorities, many no-answers: every event is fully checked."""
    skills = (
        [(Skill("sales"),)] * 3
        + [(Skill("support", 2),)] * 3
        + [(Skill("sales", 2), Skill("support"))] * 2
    )
    mix = (CallKind("sales", 50, 2), CallKind("sales", 80, 1), CallKind("support", 50, 2))
    got = simulate(
        1 / 40,
        180,
        skills,
        1_500,
        seed=7,
        ring_s=4,
        no_answer_prob=0.3,
        wrap_up_s=10,
        ring_timeout_s=15,
        no_answer_pause_s=20,
        ban_minutes=1,
        strategy=strategy,
        mix=mix,
        full_check=True,
    )
    assert got.calls == 1_500
    assert got.misses > 100 and got.bans > 0
    assert got.offers == got.calls + got.misses


def test_higher_priority_calls_wait_less() -> None:
    """One group near full load, a third of the calls at higher priority."""
    mix = (CallKind("default", 50, 2), CallKind("default", 80, 1))
    got = simulate(1 / 30, 180, 7, 3_000, seed=11, mix=mix, warmup_calls=100)
    (run,) = got.runs
    waits: dict[int, list[float]] = {0: [], 1: []}
    for kind, wait in zip(run.kinds[run.warmup :], run.counted_waits_s, strict=True):
        waits[kind].append(wait)
    normal, urgent = (sum(w) / len(w) for w in (waits[0], waits[1]))
    assert urgent < normal / 3
