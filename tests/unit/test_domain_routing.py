"""The routing decision over the read view: who takes which call, and the claim's two steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain import routing
from backend.domain.model import (
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
)
from backend.domain.policy import RoutingPolicy
from backend.domain.view import ReadView

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(ring_timeout_s=20, offer_grace_s=4)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def op(login: str, idle_s: float = 0, *, groups: tuple[str, ...] = ("default",)) -> Operator:
    return Operator(
        login=login,
        address=Address(TargetType.USER, login),
        groups=tuple(Skill(g, 1) for g in groups),
        presence=Presence.READY,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=at(idle_s),
    )


def call(
    call_id: str,
    wait_s: float = 0,
    *,
    group: str = "default",
    preferred: str | None = None,
    until_s: float = 30,
) -> Call:
    return Call(
        call_id=call_id,
        group=group,
        priority=0,
        media=Media.VOICE,
        state=CallState.QUEUED,
        created_at=at(wait_s),
        enqueued_at=at(wait_s),
        preferred=preferred,
        preferred_until=at(until_s) if preferred else None,
    )


def view_of(*items: Operator | Call) -> ReadView:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    for item in items:
        if isinstance(item, Operator):
            view.put_operator(item)
        else:
            view.put_call(item)
    return view


def logins(ops: list[Operator]) -> list[str]:
    return [o.login for o in ops]


def ids(found: list[Call]) -> list[str]:
    return [c.call_id for c in found]


def test_the_candidates_for_a_call_are_its_groups_routable_operators_longest_idle_first() -> None:
    view = view_of(
        op("late", 30), op("early", 10), op("sales", 0, groups=("sales",)), op("mid", 20)
    )
    view.put_operator(replace(op("busy", 5), activity=Activity.IN_CALL))
    assert logins(routing.operators_for(view, call("c1"), at(60))) == ["early", "mid", "late"]


def test_at_most_eight_candidates_are_looked_at() -> None:
    view = view_of(*(op(f"o{i:02}", i) for i in range(12)))
    found = routing.operators_for(view, call("c1"), at(60))
    assert logins(found) == [f"o{i:02}" for i in range(routing.CANDIDATES)]
    assert routing.CANDIDATES == 8


def test_a_call_waiting_for_its_manager_has_the_manager_alone_as_candidate() -> None:
    view = view_of(op("ann", 50, groups=("support",)), op("bob", 0))
    waiting = call("c1", preferred="ann", until_s=30)
    assert logins(routing.operators_for(view, waiting, at(10))) == ["ann"]
    # After the limit the group takes it.
    assert logins(routing.operators_for(view, waiting, at(30))) == ["bob"]


def test_a_call_waiting_for_a_busy_or_unknown_manager_has_no_candidate() -> None:
    view = view_of(op("bob", 0))
    view.put_operator(replace(op("ann"), activity=Activity.IN_CALL))
    assert routing.operators_for(view, call("c1", preferred="ann"), at(10)) == []
    assert routing.operators_for(view, call("c2", preferred="zoe"), at(10)) == []
    assert (
        routing.propose_operator(view, call("c1", preferred="ann"), Strategy.LONGEST_IDLE, at(10))
        is None
    )


def test_the_calls_for_an_operator_are_those_waiting_for_them_then_their_groups() -> None:
    view = view_of(
        call("free-old", 1),
        call("free-new", 5),
        call("mine", 9, preferred="ann"),
        call("bobs", 0, preferred="bob"),
        call("other-group", 0, group="sales"),
    )
    assert ids(routing.calls_for(view, op("ann"))) == ["mine", "free-old", "free-new"]


def test_each_list_of_calls_for_an_operator_is_cut_at_eight() -> None:
    view = view_of(
        *(call(f"m{i:02}", i, preferred="ann") for i in range(10)),
        *(call(f"f{i:02}", i) for i in range(10)),
    )
    found = ids(routing.calls_for(view, op("ann")))
    assert found == [f"m{i:02}" for i in range(8)] + [f"f{i:02}" for i in range(8)]


def test_propose_operator_picks_the_best_candidate_not_excluded() -> None:
    view = view_of(op("ann", 0), op("bob", 10), op("cid", 20))
    waiting = call("c1")
    assert routing.propose_operator(view, waiting, Strategy.LONGEST_IDLE, at(60)) == op("ann", 0)
    chosen = routing.propose_operator(
        view, waiting, Strategy.LONGEST_IDLE, at(60), exclude=("ann",)
    )
    assert chosen == op("bob", 10)
    assert (
        routing.propose_operator(
            view, waiting, Strategy.LONGEST_IDLE, at(60), exclude=("ann", "bob", "cid")
        )
        is None
    )


def test_propose_operator_leaves_a_call_that_no_longer_waits() -> None:
    view = view_of(op("ann"))
    ringing = replace(call("c1"), state=CallState.OFFERING)
    assert routing.propose_operator(view, ringing, Strategy.LONGEST_IDLE, at(60)) is None


def test_propose_call_picks_the_managers_call_first_then_the_oldest_not_excluded() -> None:
    view = view_of(call("old", 0), call("new", 5), call("mine", 9, preferred="ann"))
    ann = op("ann")
    assert routing.propose_call(view, ann, at(10)) == view.call("mine")
    assert routing.propose_call(view, ann, at(10), exclude=("mine",)) == view.call("old")
    assert routing.propose_call(view, ann, at(10), exclude=("mine", "old")) == view.call("new")
    assert routing.propose_call(view, ann, at(10), exclude=("mine", "old", "new")) is None


def test_propose_call_gives_nothing_to_an_operator_who_is_not_routable() -> None:
    view = view_of(call("c1"))
    assert (
        routing.propose_call(view, replace(op("ann"), presence=Presence.NOT_READY), at(1)) is None
    )
    assert routing.propose_call(view, op("ann"), at(1)) == view.call("c1")


def test_the_claim_reserves_the_operator_then_the_call_with_one_offer() -> None:
    ann = op("ann")
    waiting = call("c1")
    claim = routing.claim(waiting, ann, "offer-1", at(60), POLICY)
    expires = at(60 + 20 + 4)
    assert claim.offer == Offer("offer-1", "ann", Address(TargetType.USER, "ann"), at(60), expires)
    assert claim.operator == op_rules.offer(ann, "c1", "offer-1", expires, at(60))
    assert claim.call == call_rules.offer(waiting, claim.offer)
    reserved = claim.operator.state
    assert reserved is not None
    assert (reserved.activity, reserved.offer_id, reserved.call_id, reserved.activity_until) == (
        Activity.OFFERED,
        "offer-1",
        "c1",
        expires,
    )
    ringing = claim.call.state
    assert ringing is not None
    assert (ringing.state, ringing.offer, ringing.deadline) == (
        CallState.OFFERING,
        claim.offer,
        expires,
    )


def test_propose_operator_follows_the_groups_strategy() -> None:
    view = ReadView(lambda _: Strategy.FEWEST_CALLS)
    busy_one = replace(op("busy", 0), stats=OperatorStats(answers=9))
    quiet_one = replace(op("quiet", 50), stats=OperatorStats(answers=1))
    view.put_operator(busy_one)
    view.put_operator(quiet_one)
    chosen = routing.propose_operator(view, call("c1"), Strategy.FEWEST_CALLS, at(60))
    assert chosen == quiet_one


def test_propose_operator_offers_a_call_to_its_manager_whatever_the_managers_groups() -> None:
    view = view_of(op("ann", 50, groups=("support",)), op("bob", 0))
    waiting = call("c1", preferred="ann", until_s=30)
    chosen = routing.propose_operator(view, waiting, Strategy.LONGEST_IDLE, at(10))
    assert chosen == op("ann", 50, groups=("support",))
