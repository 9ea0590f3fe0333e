"""The read view's orderings: what it proposes must be what a sort over everything would give."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

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
from backend.domain.selection import call_order, operator_order
from backend.domain.view import ReadView, _Sorted

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def op(
    login: str, idle_s: float, *, groups: tuple[str, ...] = ("default",), **kw: object
) -> Operator:
    base = Operator(
        login=login,
        address=Address(TargetType.USER, login),
        groups=tuple(Skill(g, 1) for g in groups),
        presence=Presence.READY,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=at(idle_s),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def call(
    call_id: str, wait_s: float, *, priority: int = 0, group: str = "default", **kw: object
) -> Call:
    base = Call(
        call_id=call_id,
        group=group,
        priority=priority,
        media=Media.VOICE,
        state=CallState.QUEUED,
        created_at=at(wait_s),
        enqueued_at=at(wait_s),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_routable_follows_each_strategy_and_changes() -> None:
    strategies = {"default": Strategy.LONGEST_IDLE, "sales": Strategy.FEWEST_CALLS}
    view = ReadView(lambda g: strategies.get(g, Strategy.LONGEST_IDLE))
    rng = random.Random(7)
    ops = [
        op(
            f"o{i}",
            rng.uniform(0, 100),
            groups=("default", "sales"),
            stats=OperatorStats(answers=rng.randint(0, 5)),
        )
        for i in range(50)
    ]
    for o in ops:
        view.put_operator(o)
    # A few stop being routable, one changes its idle time (it took and finished a call).
    view.put_operator(replace(ops[3], activity=Activity.IN_CALL))
    view.put_operator(replace(ops[4], presence=Presence.NOT_READY))
    ops[5] = replace(ops[5], idle_since=at(500))
    view.put_operator(ops[5])
    live = [o for i, o in enumerate(ops) if i not in (3, 4)]
    for group, strategy in strategies.items():
        expected = sorted(live, key=operator_order(strategy, group))[:8]
        assert [o.login for o in view.routable(group, 8)] == [o.login for o in expected]
    assert view.ready_count("default") == 49  # in a call still counts as Ready
    assert view.routable_count("default") == view.routable_count("sales") == 48
    assert view.routable_count("nobody") == 0
    view.drop_operator("o0")
    assert view.routable_count("default") == 47
    assert "o0" not in [o.login for o in view.routable("default", 100)]


def test_waiting_calls_position_and_calls_for_a_named_operator() -> None:
    view = ReadView(lambda g: Strategy.LONGEST_IDLE)
    view.put_call(call("a", 10))
    view.put_call(call("b", 5))
    view.put_call(call("vip", 30, priority=10))
    view.put_call(call("mine", 1, preferred="ann", preferred_until=at(999)))
    view.put_call(call("other", 2, group="sales"))
    # Priority first, then the longest wait; a call waiting for Ann is not the group's to take.
    assert [c.call_id for c in view.queued(["default"], 10)] == ["vip", "b", "a"]
    merged = view.queued(["default", "sales"], 10)
    assert [c.call_id for c in merged] == ["vip", "other", "b", "a"]
    assert [call_order(c) for c in merged] == sorted(call_order(c) for c in merged)
    assert [c.call_id for c in view.waiting_for("ann", 5)] == ["mine"]
    # Position counts every waiting call of the group, the named one included.
    positions = {cid: view.position(view.calls[cid]) for cid in ("vip", "mine", "b", "a")}
    assert positions == {"vip": 1, "mine": 2, "b": 3, "a": 4}
    # Offered: no longer waiting, no longer counted.
    view.put_call(replace(view.calls["b"], state=CallState.OFFERING))
    assert view.position(view.calls["a"]) == 3
    view.put_call(replace(view.calls["a"], state=CallState.ENDED))
    assert "a" not in view.calls and view.waiting_count("default") == 2


def test_matchable_names_what_could_be_matched_now() -> None:
    view = ReadView(lambda g: Strategy.LONGEST_IDLE)
    view.put_call(call("c1", 1))
    view.put_call(call("c2", 1, preferred="ann", preferred_until=at(999)))
    assert view.matchable() == []
    view.put_operator(op("bob", 0))
    assert view.matchable() == ["group:default"]
    view.put_operator(op("ann", 0, groups=("sales",)))
    assert sorted(view.matchable()) == ["group:default", "operator:ann"]


def test_due_deadlines_earliest_first_and_only_those_due() -> None:
    view = ReadView(lambda g: Strategy.LONGEST_IDLE)
    view.put_operator(op("a", 0, activity=Activity.WRAP_UP, activity_until=at(30)))
    view.put_operator(op("b", 0, activity=Activity.BANNED, activity_until=at(10)))
    view.put_operator(op("c", 0))
    view.put_call(call("x", 0, deadline=at(20)))
    view.put_call(call("y", 0, deadline=at(40)))
    assert view.due_operators(at(30)) == ["b", "a"]
    assert view.due_operators(at(9)) == []
    assert view.due_calls(at(25)) == ["x"]
    view.put_operator(op("b", 0))  # no longer banned: no deadline
    assert view.due_operators(at(30)) == ["a"]


def test_managers_most_specific_key_first_and_release() -> None:
    view = ReadView(lambda g: Strategy.LONGEST_IDLE)
    view.put_manager("phone:+1", "ann")
    view.put_manager("customer:7", "bob")
    assert view.manager_of(["customer:7", "phone:+1"]) == ("customer:7", "bob")
    view.release_manager("bob")
    assert view.manager_of(["customer:7", "phone:+1"]) == ("phone:+1", "ann")
    view.put_manager("phone:+1", None)
    assert view.manager_of(["phone:+1"]) is None


def test_the_skill_level_in_the_group_breaks_a_tie_of_the_strategy() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    view.put_operator(op("a", 5))
    view.put_operator(replace(op("b", 5), groups=(Skill("default", 3),)))
    assert [o.login for o in view.routable("default", 8)] == ["b", "a"]


def test_members_ready_counts_and_dropping_an_operator_in_any_state() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    view.put_operator(op("a", 0, groups=("default", "sales")))
    view.put_operator(replace(op("b", 0, groups=("sales",)), presence=Presence.NOT_READY))
    assert sorted(o.login for o in view.members("sales")) == ["a", "b"]
    assert [o.login for o in view.members("default")] == ["a"]
    assert (view.ready_count("sales"), view.members("nobody")) == (1, [])
    # b alone in "lunch", not ready there: dropping b touches groups without a ready set.
    view.put_operator(replace(op("b", 0, groups=("lunch",)), presence=Presence.NOT_READY))
    view.drop_operator("b")
    view.drop_operator("a")
    assert (view.members("sales"), view.members("lunch"), view.ready_count("sales")) == ([], [], 0)
    assert view.operator("a") is None and not view.has_routable("default")


def test_dropping_calls_forgets_them_in_every_ordering() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    mine = call("mine", 5, preferred="ann", preferred_until=at(100), deadline=at(30))
    free = call("free", 1, deadline=at(20))
    talking = call("talking", 0, state=CallState.CONNECTED, deadline=at(10))
    for c in (mine, free, talking):
        view.put_call(c)
    assert view.due_calls(at(40)) == ["talking", "free", "mine"]
    for c in (mine, free, talking):
        view.drop_call(c.call_id)
    assert (view.waiting_for("ann", 8), view.queued(["default"], 8), view.due_calls(at(40))) == (
        [],
        [],
        [],
    )
    assert view.call("free") is None and view.calls == {}
    view.drop_call("never-seen")  # nothing to forget


def test_calls_waiting_for_an_operator_come_in_call_order() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    until = at(100)
    view.put_call(call("a-late", 9, preferred="ann", preferred_until=until))
    view.put_call(call("b-early", 1, preferred="ann", preferred_until=until))
    view.put_call(call("c-urgent", 20, priority=5, preferred="ann", preferred_until=until))
    assert [c.call_id for c in view.waiting_for("ann", 8)] == ["c-urgent", "b-early", "a-late"]
    view.drop_call("b-early")
    assert [c.call_id for c in view.waiting_for("ann", 8)] == ["c-urgent", "a-late"]


def test_oldest_free_and_oldest_enqueued_per_group() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    assert (view.oldest_free("default"), view.oldest_enqueued("default")) == (None, None)
    view.put_call(call("mine", 1, preferred="ann", preferred_until=at(100)))
    view.put_call(call("urgent", 7, priority=5))
    view.put_call(call("old", 3))
    # The most urgent call waiting for anybody, and the longest wait of any waiting call.
    assert view.oldest_free("default") == view.call("urgent")
    assert view.oldest_enqueued("default") == at(1)
    assert view.position(call("elsewhere", 0, group="sales")) == 1


def test_at_most_500_deadlines_are_due_at_once() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    for i in range(501):
        view.put_operator(op(f"o{i:03}", 0, activity_until=at(i / 100)))
        view.put_call(call(f"c{i:03}", 0, deadline=at(i / 100)))
    assert view.due_operators(at(10)) == [f"o{i:03}" for i in range(500)]
    assert view.due_calls(at(10)) == [f"c{i:03}" for i in range(500)]


def test_removing_a_manager_nobody_had_changes_nothing() -> None:
    view = ReadView(lambda _: Strategy.LONGEST_IDLE)
    view.put_manager("phone:+1", None)
    assert view.managers == {}


def test_a_sorted_list_removes_only_the_entry_it_is_given() -> None:
    items = _Sorted()
    items.add((at(5),), "b")
    items.add((at(1),), "a")
    items.remove((at(3),), "x")  # absent, before the end: the neighbour stays
    items.remove((at(9),), "z")  # absent, past the end
    items.remove((at(5),), "a")  # the right id under another key
    assert items.items == [((at(1),), "a"), ((at(5),), "b")]
    items.remove((at(1),), "a")
    assert items.items == [((at(5),), "b")]


def test_ready_logins_are_those_whose_presence_is_ready_whatever_they_do() -> None:
    view = ReadView(lambda g: Strategy.LONGEST_IDLE)
    view.put_operator(op("a", 0))
    view.put_operator(op("b", 0, activity=Activity.IN_CALL))
    view.put_operator(op("c", 0, presence=Presence.NOT_READY))
    view.put_operator(op("d", 0, groups=()))
    assert sorted(view.ready_logins()) == ["a", "b", "d"]
    view.put_operator(op("a", 0, presence=Presence.OFFLINE))
    assert sorted(view.ready_logins()) == ["b", "d"]
