"""Operator transitions of the pure core, driven by a virtual clock (plain datetimes)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import operators
from backend.domain.actions import DispatchOperator, Refused, StatusInterval, Step
from backend.domain.model import Activity, Address, Operator, Presence, Skill, TargetType
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(
    no_answer_delay_s=30, max_no_answer=3, ban_minutes=5, ban_cap_minutes=12, wrap_up_s=15
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fresh(login: str = "ann") -> Operator:
    return operators.new_operator(
        login, Address(TargetType.USER, login), (Skill("default", 1),), T0
    )


def ready(login: str = "ann") -> Operator:
    step = operators.set_presence(fresh(login), Presence.READY, None, T0)
    assert step.state is not None
    return step.state


def moved(step: Step[Operator]) -> Operator:
    """The new state of a step that must have changed something."""
    assert step.state is not None, "expected a change"
    return step.state


def intervals(step: Step[Operator]) -> list[StatusInterval]:
    return [a for a in step.actions if isinstance(a, StatusInterval)]


def dispatches(step: Step[Operator]) -> int:
    return sum(isinstance(a, DispatchOperator) for a in step.actions)


def offered(op: Operator, offer_id: str = "o1", now: datetime = T0) -> Operator:
    return moved(operators.offer(op, "c1", offer_id, now + timedelta(seconds=30), now))


def miss(op: Operator, offer_id: str, now: datetime, policy: RoutingPolicy = POLICY) -> Operator:
    return moved(operators.offer_missed(op, offer_id, now, policy))


# -- presence ---------------------------------------------------------------------------


def test_going_ready_closes_the_offline_interval_and_dispatches() -> None:
    step = operators.set_presence(fresh(), Presence.READY, "ignored", at(10))
    op = moved(step)
    assert op.presence is Presence.READY and op.reason is None and op.routable
    assert op.presence_since == at(10)
    assert intervals(step) == [StatusInterval("ann", "presence", "offline", None, T0, at(10))]
    assert dispatches(step) == 1


def test_not_ready_reason_change_is_a_new_interval_without_dispatch() -> None:
    op = moved(operators.set_presence(fresh(), Presence.NOT_READY, "break", at(5)))
    step = operators.set_presence(op, Presence.NOT_READY, "lunch", at(65))
    assert moved(step).reason == "lunch"
    assert intervals(step) == [
        StatusInterval("ann", "presence", "not_ready", "break", at(5), at(65))
    ]
    assert dispatches(step) == 0


def test_setting_the_same_presence_changes_nothing() -> None:
    assert operators.set_presence(ready(), Presence.READY, None, at(9)) == Step(None)


@pytest.mark.parametrize("activity", [Activity.OFFERED, Activity.IN_CALL])
def test_going_offline_in_a_call_is_refused(activity: Activity) -> None:
    op = replace(ready(), activity=activity, call_id="c1", offer_id="o1")
    with pytest.raises(Refused) as refused:
        operators.set_presence(op, Presence.OFFLINE, None, at(1))
    assert refused.value.code == "busy"
    # Not ready stays allowed: the call goes on, no new call comes.
    assert (
        moved(operators.set_presence(op, Presence.NOT_READY, "break", at(1))).activity is activity
    )


def test_going_offline_in_wrap_up_is_allowed() -> None:
    op = replace(ready(), activity=Activity.WRAP_UP, activity_until=at(15))
    assert moved(operators.set_presence(op, Presence.OFFLINE, None, at(1))).presence is (
        Presence.OFFLINE
    )


def test_presence_lost_makes_a_ready_operator_not_ready_disconnected() -> None:
    step = operators.presence_lost(ready(), at(40))
    assert (moved(step).presence, moved(step).reason) == (Presence.NOT_READY, "disconnected")
    assert operators.presence_lost(fresh(), at(40)) == Step(None)


# -- offers -----------------------------------------------------------------------------


def test_offer_reserves_the_operator_and_closes_the_idle_interval() -> None:
    step = operators.offer(ready(), "c1", "o1", at(35), at(5))
    op = moved(step)
    assert (op.activity, op.offer_id, op.call_id, op.activity_until) == (
        Activity.OFFERED,
        "o1",
        "c1",
        at(35),
    )
    assert op.stats.offers == 1 and not op.routable
    assert intervals(step) == [StatusInterval("ann", "activity", "idle", None, T0, at(5))]
    assert dispatches(step) == 0


def test_offer_to_an_unroutable_operator_is_refused() -> None:
    with pytest.raises(Refused):
        operators.offer(fresh(), "c1", "o1", at(30), T0)
    with pytest.raises(Refused):
        operators.offer(offered(ready()), "c2", "o2", at(30), T0)


def test_answered_offer_puts_the_operator_in_the_call() -> None:
    op = replace(offered(ready()), misses_in_row=2, ban_level=1)
    step = operators.offer_answered(op, "o1", 4.0, at(4), POLICY)
    new = moved(step)
    assert (new.activity, new.call_id, new.offer_id) == (Activity.IN_CALL, "c1", None)
    assert (new.misses_in_row, new.ban_level) == (0, 0)
    assert (new.stats.answers, new.stats.answer_s_total) == (1, 4.0)
    assert new.activity_until == at(4 + POLICY.in_call_check_s)
    assert dispatches(step) == 0


def test_events_for_another_offer_are_ignored() -> None:
    op = offered(ready(), "o1")
    assert operators.offer_answered(op, "o-old", 1.0, at(1), POLICY) == Step(None)
    assert operators.offer_missed(op, "o-old", at(1), POLICY) == Step(None)
    assert operators.release_offer(op, "o-old", at(1)) == Step(None)


def test_released_offer_returns_the_operator_with_their_place_kept() -> None:
    op = offered(ready(), now=at(20))
    step = operators.release_offer(op, "o1", at(25))
    new = moved(step)
    assert new.routable and new.idle_since == T0 and new.stats.offers == 0
    assert dispatches(step) == 1


def test_an_offer_released_without_fault_is_not_counted_as_not_answered() -> None:
    """The caller hung up while it rang: the `offered` interval says so; a miss says nothing."""
    step = operators.release_offer(offered(ready(), now=at(20)), "o1", at(25), "caller_left")
    [closed] = [i for i in intervals(step) if i.field == "activity"]
    assert (closed.value, closed.reason) == ("offered", "caller_left")
    assert not operators.offer_not_answered("idle", closed.reason)
    default = operators.release_offer(offered(ready(), now=at(20)), "o1", at(25))
    assert [i.reason for i in intervals(default)] == [operators.RELEASED]
    missed = operators.offer_missed(offered(ready()), "o1", at(25), POLICY)
    [closed] = [i for i in intervals(missed) if i.field == "activity"]
    assert closed.reason is None
    assert operators.offer_not_answered("paused_no_answer", closed.reason)
    assert not operators.offer_not_answered("in_call", None)


def test_missed_offer_pauses_then_idles_once() -> None:
    op = miss(offered(ready()), "o1", at(25))
    assert (op.activity, op.misses_in_row, op.activity_until) == (
        Activity.PAUSED_NO_ANSWER,
        1,
        at(55),
    )
    assert op.stats.misses == 1 and op.call_id is None
    assert operators.deadline_reached(op, at(54)) == Step(None)
    step = operators.deadline_reached(op, at(55))
    idle = moved(step)
    assert idle.routable and idle.idle_since == at(55)
    assert dispatches(step) == 1
    # A second firing of the same deadline (another process, the sweep) changes nothing.
    assert operators.deadline_reached(idle, at(56)) == Step(None)


def test_uncounted_failure_pauses_without_a_miss() -> None:
    op = moved(operators.offer_missed(offered(ready()), "o1", at(3), POLICY, counted=False))
    assert op.activity is Activity.PAUSED_NO_ANSWER
    assert (op.misses_in_row, op.stats.misses) == (0, 0)


def test_miss_without_pause_returns_straight_to_idle() -> None:
    step = operators.offer_missed(
        offered(ready()), "o1", at(3), replace(POLICY, no_answer_delay_s=0)
    )
    assert moved(step).routable and moved(step).misses_in_row == 1
    assert dispatches(step) == 1


def _ban_after_misses(op: Operator, start: float) -> tuple[Operator, float]:
    """Miss max_no_answer offers in a row; returns the banned operator and the time."""
    now = start
    for i in range(POLICY.max_no_answer):
        op = miss(offered(op, f"o{start}-{i}", at(now)), f"o{start}-{i}", at(now + 1))
        now += 1
        if op.activity is Activity.PAUSED_NO_ANSWER:
            assert op.activity_until is not None
            now = (op.activity_until - T0).total_seconds()
            op = moved(operators.deadline_reached(op, at(now)))
    return op, now


def test_bans_double_up_to_the_cap() -> None:
    op, now = ready(), 0.0
    lengths = []
    for _ in range(4):
        op, now = _ban_after_misses(op, now)
        assert op.activity is Activity.BANNED and op.misses_in_row == 0
        assert op.activity_until is not None
        lengths.append((op.activity_until - at(now)).total_seconds() / 60)
        now = (op.activity_until - T0).total_seconds()
        op = moved(operators.deadline_reached(op, at(now)))
        assert op.routable
    assert lengths == [5, 10, 12, 12]
    assert op.ban_level == 4


def test_an_answer_resets_the_ban_level() -> None:
    op, now = _ban_after_misses(ready(), 0)
    assert op.ban_level == 1 and op.activity_until is not None
    op = moved(operators.deadline_reached(op, op.activity_until))
    op = moved(operators.offer_answered(offered(op, "ok"), "ok", 2.0, at(now + 400), POLICY))
    assert op.ban_level == 0
    op = moved(operators.call_finished(op, "c1", 60, at(now + 460), 0))
    op, now = _ban_after_misses(op, now + 500)
    assert op.activity_until == at(now) + timedelta(minutes=5)


# -- calls, wrap-up and deadlines --------------------------------------------------------


def in_call(now: datetime = T0) -> Operator:
    return moved(operators.offer_answered(offered(ready(), now=now), "o1", 1.0, now, POLICY))


def test_finished_call_wraps_up_then_idles() -> None:
    step = operators.call_finished(in_call(), "c1", 120.0, at(120), 15)
    op = moved(step)
    assert (op.activity, op.activity_until, op.stats.talk_s_total) == (
        Activity.WRAP_UP,
        at(135),
        120.0,
    )
    assert dispatches(step) == 0
    assert operators.deadline_reached(op, at(134)) == Step(None)
    done = operators.deadline_reached(op, at(135))
    assert moved(done).routable and moved(done).call_id is None and dispatches(done) == 1
    assert operators.deadline_reached(moved(done), at(136)) == Step(None)


def test_finished_call_without_wrap_up_is_idle_at_once() -> None:
    step = operators.call_finished(in_call(), "c1", 30.0, at(30), 0)
    assert moved(step).routable and moved(step).idle_since == at(30)
    assert dispatches(step) == 1


def test_finish_for_another_call_is_ignored() -> None:
    assert operators.call_finished(in_call(), "c-other", 1.0, at(1), 0) == Step(None)


def test_wrap_up_can_end_early() -> None:
    op = moved(operators.call_finished(in_call(), "c1", 30.0, at(30), 15))
    step = operators.finish_wrap_up(op, at(33))
    assert moved(step).routable and dispatches(step) == 1
    assert operators.finish_wrap_up(moved(step), at(34)) == Step(None)


def test_deadline_leaves_offers_and_calls_to_the_call_side() -> None:
    op = offered(ready())
    assert operators.deadline_reached(op, at(3600)) == Step(None)
    assert operators.deadline_reached(in_call(), at(3600)) == Step(None)


def test_in_call_check_pushes_the_deadline_without_intervals() -> None:
    step = operators.in_call_checked(in_call(), at(600), POLICY)
    assert moved(step).activity_until == at(600 + POLICY.in_call_check_s)
    assert step.actions == ()
    assert operators.in_call_checked(ready(), at(600), POLICY) == Step(None)


def test_ready_during_a_pause_waits_for_the_pause_to_end() -> None:
    op = miss(offered(ready()), "o1", at(2))
    op = moved(operators.set_presence(op, Presence.NOT_READY, "break", at(3)))
    step = operators.set_presence(op, Presence.READY, None, at(4))
    assert dispatches(step) == 0
    assert dispatches(operators.deadline_reached(moved(step), at(32))) == 1


def test_pause_ending_for_a_not_ready_operator_does_not_dispatch() -> None:
    op = miss(offered(ready()), "o1", at(2))
    op = moved(operators.set_presence(op, Presence.NOT_READY, "break", at(3)))
    step = operators.deadline_reached(op, at(32))
    assert moved(step).activity is Activity.IDLE and dispatches(step) == 0


def test_status_intervals_follow_one_call_from_start_to_end() -> None:
    op = moved(operators.set_presence(fresh(), Presence.READY, None, at(1)))
    steps = [
        operators.offer(op, "c1", "o1", at(32), at(2)),
    ]
    steps.append(operators.offer_answered(moved(steps[-1]), "o1", 3.0, at(5), POLICY))
    steps.append(operators.call_finished(moved(steps[-1]), "c1", 60.0, at(65), 15))
    steps.append(operators.deadline_reached(moved(steps[-1]), at(80)))
    got = [(i.value, i.start, i.end) for s in steps for i in intervals(s)]
    assert got == [
        ("idle", T0, at(2)),
        ("offered", at(2), at(5)),
        ("in_call", at(5), at(65)),
        ("wrap_up", at(65), at(80)),
    ]


# -- properties over random walks --------------------------------------------------------


def _random_step(op: Operator, rng: random.Random, now: datetime) -> Step[Operator]:
    """One plausible event for the operator's current state."""
    if op.activity is Activity.OFFERED:
        assert op.offer_id is not None
        event = rng.choice(["answer", "miss", "release"])
        if event == "answer":
            return operators.offer_answered(op, op.offer_id, 1.0, now, POLICY)
        if event == "miss":
            return operators.offer_missed(op, op.offer_id, now, POLICY)
        return operators.release_offer(op, op.offer_id, now)
    if op.activity is Activity.IN_CALL and rng.random() < 0.7:
        assert op.call_id is not None
        return operators.call_finished(op, op.call_id, 10.0, now, rng.choice([0, 15]))
    if op.routable and rng.random() < 0.6:
        return operators.offer(op, f"c{now.timestamp()}", f"o{now.timestamp()}", now, now)
    if rng.random() < 0.5:
        return operators.deadline_reached(op, now)
    presence = rng.choice(list(Presence))
    reason = rng.choice(["break", "lunch"]) if presence is Presence.NOT_READY else None
    try:
        return operators.set_presence(op, presence, reason, now)
    except Refused:
        return Step(None)


def test_dispatch_exactly_when_routable_and_intervals_are_contiguous() -> None:
    rng = random.Random(7)
    op = fresh()
    since = {"presence": op.presence_since, "activity": op.activity_since}
    for i in range(1, 3000):
        now = at(i * 60)
        step = _random_step(op, rng, now)
        if step.state is None:
            continue
        new = step.state
        assert dispatches(step) == (1 if new.routable and not op.routable else 0)
        for interval in intervals(step):
            # Each interval starts where the previous one of the same field ended.
            assert interval.start == since[interval.field] and interval.end == now
            assert interval.value == getattr(op, interval.field).value
            since[interval.field] = now
        assert (new.presence_since, new.activity_since) == (since["presence"], since["activity"])
        op = new
