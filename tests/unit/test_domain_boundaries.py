"""The core at its edges: equal times, zero durations, limits, whole steps and the words it says.

The other unit tests follow the main paths; these pin what those leave open (found by mutation
testing, `make mutation`): a step compared whole, not field by field, an interval that ends
exactly now, a pause of one second, the text a caller hears.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

import pytest

from backend.domain import calls, operators
from backend.domain.actions import (
    CallFinished,
    DispatchCall,
    DispatchOperator,
    ManagerAway,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    Refused,
    StatusInterval,
    Step,
)
from backend.domain.context import CallContext, choose_group, parse_custom_data
from backend.domain.estimates import estimated_wait_s
from backend.domain.manager import away_text
from backend.domain.model import (
    Absence,
    AbsenceReason,
    Activity,
    Address,
    Call,
    CallState,
    Media,
    Offer,
    Operator,
    OperatorStats,
    Presence,
    Skill,
    Strategy,
    TargetType,
    score_of,
)
from backend.domain.overflow import (
    Hours,
    Spare,
    SpareUsage,
    choose_spare,
    first_in_line,
    waits_for_a_line,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.selection import choose_call, choose_operator

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
POLICY = RoutingPolicy(
    queued_check_s=60,
    in_call_check_s=600,
    manager_wait_s=30,
    no_answer_delay_s=30,
    max_no_answer=3,
    wrap_up_s=15,
)
ANN = Address(TargetType.USER, "ann")
S = TypeVar("S")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def moved(step: Step[S]) -> S:
    assert step.state is not None, "expected a change"
    return step.state


# -- operators: whole steps ------------------------------------------------------------


def fresh() -> Operator:
    return operators.new_operator("ann", ANN, (Skill("default", 2),), T0)


def ready(now: datetime = T0) -> Operator:
    return moved(operators.set_presence(fresh(), Presence.READY, None, now))


def test_a_new_operator_is_offline_and_idle_since_it_was_made() -> None:
    assert fresh() == Operator(
        login="ann",
        address=ANN,
        groups=(Skill("default", 2),),
        presence=Presence.OFFLINE,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=T0,
    )


def test_going_ready_closes_the_offline_interval_and_asks_for_a_call() -> None:
    step = operators.set_presence(fresh(), Presence.READY, None, at(5))
    assert step == Step(
        replace(fresh(), presence=Presence.READY, presence_since=at(5)),
        (
            StatusInterval("ann", "presence", "offline", None, T0, at(5)),
            DispatchOperator("ann"),
        ),
    )


def test_losing_the_connection_makes_a_ready_operator_not_ready_now() -> None:
    step = operators.presence_lost(ready(), at(7))
    assert step == Step(
        replace(ready(), presence=Presence.NOT_READY, reason="disconnected", presence_since=at(7)),
        (StatusInterval("ann", "presence", "ready", None, T0, at(7)), ManagerAway("ann")),
    )


def test_an_offer_is_one_activity_change_and_nothing_else() -> None:
    op = replace(ready(), stats=OperatorStats(offers=5))
    step = operators.offer(op, "c1", "o1", at(30), at(2))
    assert step == Step(
        replace(
            op,
            activity=Activity.OFFERED,
            activity_since=at(2),
            activity_until=at(30),
            offer_id="o1",
            call_id="c1",
            stats=OperatorStats(offers=6),
        ),
        (StatusInterval("ann", "activity", "idle", None, T0, at(2)),),
    )
    # Released: the offer is not counted, the place in line is kept.
    released = moved(operators.release_offer(moved(step), "o1", at(4)))
    assert released == replace(op, activity_since=at(4))


def test_refusals_name_their_reason_in_code_and_words() -> None:
    with pytest.raises(Refused) as not_routable:
        operators.offer(fresh(), "c1", "o1", at(30), at(2))
    assert (not_routable.value.code, str(not_routable.value)) == (
        "not_routable",
        "operator ann is not routable",
    )
    in_call = replace(ready(), activity=Activity.IN_CALL, call_id="c1")
    with pytest.raises(Refused) as busy:
        operators.set_presence(in_call, Presence.OFFLINE, None, at(1))
    assert (busy.value.code, busy.value.message) == (
        "busy",
        "cannot go offline while in_call: finish the call first",
    )
    absent = replace(fresh(), absence=Absence(AbsenceReason.SICK_LEAVE))
    with pytest.raises(Refused) as away:
        operators.set_presence(absent, Presence.READY, None, at(1))
    assert (away.value.code, away.value.message) == (
        "absent",
        "marked absent (sick_leave): ask a supervisor",
    )


def test_an_absence_ends_at_its_until() -> None:
    absence = Absence(AbsenceReason.VACATION, until=at(60))
    assert absence.active(at(59)) and not absence.active(at(60))
    # Its last moment passed: the operator may go Ready again.
    back = replace(fresh(), absence=absence)
    assert moved(operators.set_presence(back, Presence.READY, None, at(60))).routable


def test_marking_a_ready_operator_absent_takes_them_off_and_tells_who_waits() -> None:
    absence = Absence(AbsenceReason.VACATION, until=at(3600))
    step = operators.set_absence(ready(), absence, at(10))
    assert step == Step(
        replace(
            ready(),
            absence=absence,
            presence=Presence.NOT_READY,
            reason="absent",
            presence_since=at(10),
        ),
        (StatusInterval("ann", "presence", "ready", None, T0, at(10)), ManagerAway("ann")),
    )


def test_an_absence_that_already_ended_or_is_removed_leaves_a_ready_operator_ready() -> None:
    ended = Absence(AbsenceReason.VACATION, until=at(5))
    step = operators.set_absence(ready(), ended, at(10))
    assert step == Step(replace(ready(), absence=ended))
    assert operators.set_absence(moved(step), None, at(11)) == Step(ready())


def test_a_miss_with_a_one_second_pause_still_pauses() -> None:
    op = moved(operators.offer(ready(), "c1", "o1", at(30), T0))
    step = operators.offer_missed(op, "o1", at(5), replace(POLICY, no_answer_delay_s=1))
    paused = moved(step)
    assert (paused.activity, paused.activity_until, paused.offer_id, paused.call_id) == (
        Activity.PAUSED_NO_ANSWER,
        at(6),
        None,
        None,
    )


def test_a_miss_without_a_pause_makes_the_operator_idle_from_now() -> None:
    op = moved(operators.offer(ready(), "c1", "o1", at(30), T0))
    idle = moved(operators.offer_missed(op, "o1", at(5), replace(POLICY, no_answer_delay_s=0)))
    assert (idle.activity, idle.idle_since, idle.activity_until) == (Activity.IDLE, at(5), None)
    assert (idle.offer_id, idle.misses_in_row, idle.stats.misses) == (None, 1, 1)


def test_a_ban_clears_the_offer() -> None:
    op = replace(moved(operators.offer(ready(), "c1", "o1", at(30), T0)), misses_in_row=2)
    banned = moved(operators.offer_missed(op, "o1", at(5), POLICY))
    assert (banned.activity, banned.offer_id, banned.call_id) == (Activity.BANNED, None, None)


def test_a_call_ending_while_still_offered_starts_a_one_second_wrap_up_without_the_offer() -> None:
    op = moved(operators.offer(ready(), "c1", "o1", at(30), T0))
    step = operators.call_finished(op, "c1", 0.0, at(3), wrap_up_s=1)
    done = moved(step)
    assert (done.activity, done.activity_until, done.offer_id) == (Activity.WRAP_UP, at(4), None)
    assert done.call_id == "c1"


def test_the_talk_time_is_counted_without_a_wrap_up_too() -> None:
    talking = replace(ready(), activity=Activity.IN_CALL, call_id="c1", activity_until=at(600))
    idle = moved(operators.call_finished(talking, "c1", 42.5, at(50), wrap_up_s=0))
    assert idle.stats.talk_s_total == 42.5
    assert (idle.activity, idle.activity_until, idle.call_id, idle.idle_since) == (
        Activity.IDLE,
        None,
        None,
        at(50),
    )


def test_ending_wrap_up_makes_the_operator_idle_now() -> None:
    wrap = replace(
        ready(),
        activity=Activity.WRAP_UP,
        activity_until=at(20),
        call_id="c1",
        offer_id="o1",
    )
    step = operators.finish_wrap_up(wrap, at(8))
    assert step == Step(
        replace(ready(), activity_since=at(8), idle_since=at(8)),
        (
            StatusInterval("ann", "activity", "wrap_up", None, T0, at(8)),
            DispatchOperator("ann"),
        ),
    )


# -- calls --------------------------------------------------------------------------------


def queued(preferred: str | None = None) -> Call:
    return moved(calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY, preferred))


def ringing(call: Call, operator: str = "ann", t: float = 10) -> Call:
    the_offer = Offer("o1", operator, Address(TargetType.USER, operator), at(t), at(t + 30))
    new = moved(calls.offer(call, the_offer))
    return moved(calls.offer_sent(new, "o1", at(t)))


def test_an_answer_at_the_very_moment_it_rang_took_no_time() -> None:
    step = calls.offer_connected(ringing(queued()), "o1", at(10), POLICY)
    assert step.actions == (OfferAnswered("ann", "o1", "c1", 0.0),)
    talking = moved(step)
    hung_up = calls.caller_hung_up(talking, at(10))
    assert hung_up.actions == (CallFinished("ann", "c1", 0.0, "default"),)


def test_a_limit_that_ends_now_is_no_reason_to_look_again_now() -> None:
    call = replace(queued("bob"), preferred_until=at(30))
    assert calls.queued_deadline(call, at(30), POLICY) == at(90)
    assert calls.queued_deadline(call, at(29), POLICY) == at(30)


def test_a_manager_is_waited_for_until_the_limit_then_the_group_takes_the_call() -> None:
    call = queued("bob")
    assert (call.preferred_until, call.deadline) == (at(30), at(30))
    early = moved(calls.deadline_reached(replace(call, deadline=at(20)), at(20), POLICY))
    assert (early.preferred, early.preferred_until, early.deadline) == ("bob", at(30), at(30))
    late = moved(calls.deadline_reached(call, at(30), POLICY))
    assert (late.preferred, late.preferred_until, late.deadline) == (None, None, at(90))
    # Before its deadline a waiting call is left alone.
    assert calls.deadline_reached(call, at(29), POLICY) == Step(None)


@pytest.mark.parametrize("how", ["failed", "expired", "undeliverable"])
def test_another_operator_not_taking_the_call_keeps_the_manager(how: str) -> None:
    call = ringing(queued("bob"), operator="cid")
    step = {
        "failed": lambda: calls.offer_failed(call, "o1", 486, at(12), POLICY),
        "expired": lambda: calls.offer_expired(call, "o1", at(40), POLICY),
        "undeliverable": lambda: calls.offer_undeliverable(call, "o1", at(12), POLICY),
    }[how]()
    back = moved(step)
    assert (back.state, back.preferred, back.preferred_until) == (CallState.QUEUED, "bob", at(30))


@pytest.mark.parametrize("how", ["failed", "expired"])
def test_the_manager_not_taking_their_callers_call_is_not_waited_for_again(how: str) -> None:
    call = ringing(queued("bob"), operator="bob")
    step = {
        "failed": lambda: calls.offer_failed(call, "o1", 486, at(12), POLICY),
        "expired": lambda: calls.offer_expired(call, "o1", at(40), POLICY),
    }[how]()
    back = moved(step)
    assert (back.state, back.preferred, back.preferred_until) == (CallState.QUEUED, None, None)
    assert DispatchCall("c1") in step.actions
    assert any(isinstance(a, OfferMissed) for a in step.actions)


def test_the_manager_going_away_hands_the_call_to_the_group_at_once() -> None:
    call = queued("bob")
    step = calls.preference_dropped(call, "bob", at(5), POLICY)
    assert step == Step(
        replace(call, preferred=None, preferred_until=None, deadline=at(65)),
        (DispatchCall("c1"),),
    )
    assert calls.preference_dropped(call, "zoe", at(5), POLICY) == Step(None)


def test_a_call_ended_while_ringing_releases_the_operator_as_the_caller_left() -> None:
    step = calls.caller_hung_up(ringing(queued()), at(12))
    assert step.actions == (OfferReleased("ann", "o1", calls.CALLER_LEFT),)


# -- model, estimates, selection -----------------------------------------------------------


def test_the_score_is_the_answer_rate_less_half_a_point_per_second_of_answer_time() -> None:
    # (3+1)/(4+2) = 66.67 %, average answer 10 s: 5 points off.
    assert score_of(OperatorStats(offers=4, answers=3, answer_s_total=30.0)) == 61.67
    # The answer time counts up to a minute: at most 30 points off.
    assert score_of(OperatorStats(offers=0, answers=1, answer_s_total=100.0)) == 100.0 - 30.0
    # Never below zero.
    assert score_of(OperatorStats(offers=20, answers=1, answer_s_total=100.0)) == 0.0


def test_the_level_in_a_group_the_operator_is_not_in_is_zero() -> None:
    op = fresh()
    assert (op.level_in("default"), op.level_in("sales")) == (2, 0)


def test_the_caller_next_in_line_waits_no_time() -> None:
    assert estimated_wait_s(0, 3, 180) == 0
    assert estimated_wait_s(1, 3, 180) == 60


def test_without_a_time_a_call_for_a_manager_goes_to_any_operator_of_its_group() -> None:
    call = queued("bob")
    ann = replace(ready(), groups=(Skill("default", 1),))
    assert choose_operator(call, [ann], Strategy.LONGEST_IDLE) == ann


def test_an_operator_takes_the_most_urgent_of_the_calls_waiting_for_them() -> None:
    mine_old = replace(queued("ann"), call_id="old")
    mine_new = replace(queued("ann"), call_id="new", enqueued_at=at(5))
    urgent = replace(mine_new, call_id="urgent", priority=90)
    assert choose_call(ready(), [mine_new, mine_old], at(1)) == mine_old
    assert choose_call(ready(), [mine_old, urgent], at(1)) == urgent


# -- the caller's context and the manager's words --------------------------------------


def test_a_field_that_is_not_text_reads_as_compact_json() -> None:
    data = {"vip": True, "tags": ["a", "b"], "n": 1, "order": {"id": 7, "paid": False}}
    ctx = CallContext("+1", "+2", Media.VOICE, {}, data)
    assert (ctx.field("vip"), ctx.field("tags"), ctx.field("n")) == ("true", '["a","b"]', "1")
    assert ctx.field("order") == '{"id":7,"paid":false}'
    assert ctx.field("missing") is None


def test_custom_data_that_is_not_an_object_gives_no_context() -> None:
    assert parse_custom_data('{"a": 1}') == {"a": 1}
    assert parse_custom_data('{"a": 1} trailing') == {}
    assert parse_custom_data("[1, 2]") == {}


def test_the_default_group_has_its_own_priority_or_the_fallback() -> None:
    ctx = CallContext("+1", "+2", Media.VOICE, {}, {})
    assert choose_group(ctx, (), "support", {"support": 70, "sales": 20}) == ("support", 70)
    assert choose_group(ctx, (), "support", {"sales": 20}, fallback_priority=40) == ("support", 40)


def test_the_caller_hears_why_and_until_when_the_manager_is_away() -> None:
    sick = replace(fresh(), absence=Absence(AbsenceReason.SICK_LEAVE, until=at(86400 * 3)))
    template = "{name} is on {reason} until {until}."
    assert away_text(sick, "Ann", T0, template, "-") == "Ann is on sick leave until January 8."
    open_ended = replace(fresh(), absence=Absence(AbsenceReason.SICK_LEAVE))
    assert away_text(open_ended, "Ann", T0, "{name} is on {reason} {until} now.", "-") == (
        "Ann is on sick leave now."
    )
    assert away_text(fresh(), "Ann", T0, template, "{name} is busy.") == "Ann is busy."


# -- overflow ------------------------------------------------------------------------------


def test_opening_hours_to_the_second() -> None:
    hours = Hours(frozenset({0}), time(9, 30), time(17, 0))
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    assert not hours.open_at(monday.replace(hour=9, minute=29, second=45))
    assert hours.open_at(monday.replace(hour=9, minute=30))
    assert hours.open_at(monday.replace(hour=16, minute=59, second=59, microsecond=999_999))
    assert not hours.open_at(monday.replace(hour=17))


def test_hours_that_start_where_they_end_are_open_around_the_clock_from_the_start() -> None:
    hours = Hours(frozenset({0}), time(22, 0), time(22, 0))
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    assert hours.open_at(monday.replace(hour=22))
    assert hours.open_at(monday.replace(day=6, hour=21, minute=59))
    assert not hours.open_at(monday.replace(day=6, hour=22))
    assert not hours.open_at(monday.replace(hour=21))


def spare(number: str, *, hours: tuple[Hours, ...] = (), cap: int = 10) -> Spare:
    return Spare(number, number, max_concurrent=2, daily_cap=cap, hours=hours, tz=UTC)


def test_a_spare_at_its_daily_cap_or_closed_is_not_chosen() -> None:
    usage = {"+1": SpareUsage("+1", active=0, day="2026-01-05", used=3)}
    assert choose_spare([spare("+1", cap=3), spare("+2")], usage, T0) == spare("+2")
    closed = spare("+2", hours=(Hours(frozenset({1}), time(9), time(17)),))
    assert choose_spare([spare("+1", cap=3), closed], usage, T0) is None


def test_a_call_may_take_a_line_from_the_moment_its_threshold_passes() -> None:
    policy = RoutingPolicy(overflow_after_s=120)
    assert not waits_for_a_line(queued(), "+1", at(119), policy)
    assert waits_for_a_line(queued(), "+1", at(120), policy)


def test_the_first_in_line_uses_each_calls_own_group_and_skips_numbers_it_tried() -> None:
    tried = replace(queued(), call_id="tried", spares_tried=("+1",))
    sales = replace(queued(), call_id="sales", group="sales")
    fresh_call = replace(queued(), call_id="fresh")
    policies = {"sales": RoutingPolicy(), "default": RoutingPolicy(overflow_after_s=60)}
    found = first_in_line([tried, sales, fresh_call], "+1", at(60), policies.__getitem__)
    assert found == fresh_call
