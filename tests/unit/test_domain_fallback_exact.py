"""Fallback rules pinned exactly: parsing and its messages, E.164 bounds, where a chain of
actions ends (group, action, reason and path), and who counts as able to take a call later."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.domain.fallback import (
    ActionType,
    FallbackAction,
    GroupRules,
    Resolution,
    Why,
    find_loop,
    no_agents,
    parse_action,
    resolve,
)
from backend.domain.model import (
    Absence,
    AbsenceReason,
    Activity,
    Address,
    Operator,
    Presence,
    Skill,
    TargetType,
)
from backend.settings import parse_hours

T0 = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)  # a Monday


def test_an_action_prints_as_it_is_written() -> None:
    assert str(FallbackAction(ActionType.GROUP, "support")) == "group:support"
    assert str(FallbackAction(ActionType.GOODBYE)) == "goodbye"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hangup",
            "'hangup': expected goodbye, voicemail, callback, group:<name> or number:<E.164>",
        ),
        ("group:", "'group:': group needs a target (group:<...>)"),
        ("number", "'number': number needs a target (number:<...>)"),
        ("number:555", "'number:555': not an E.164 number (like +15550001111)"),
        ("goodbye:now", "'goodbye:now': goodbye takes no target"),
    ],
)
def test_a_bad_action_is_refused_with_words_that_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_action(text)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("+1234567", True),  # 7 digits, the shortest accepted
        ("+123456", False),
        ("+123456789012345", True),  # 15 digits, E.164's longest
        ("+1234567890123456", False),
        ("+x1234567", False),
        ("12345678", False),
    ],
)
def test_e164_bounds(number: str, valid: bool) -> None:
    if valid:
        assert parse_action(f"number:{number}") == FallbackAction(ActionType.NUMBER, number)
    else:
        with pytest.raises(ValueError):
            parse_action(f"number:{number}")


def test_hours_without_a_time_zone_are_read_in_the_times_own_offset() -> None:
    rules = GroupRules("sales", hours=(parse_hours("mon 09:00-10:00"),))
    plus5 = timezone(timedelta(hours=5))
    assert rules.open_at(datetime(2026, 1, 5, 9, 30, tzinfo=plus5))  # 04:30 UTC
    assert not rules.open_at(datetime(2026, 1, 5, 10, 30, tzinfo=plus5))


def _op(**kw: object) -> Operator:
    base = Operator(
        login="ann",
        address=Address(TargetType.USER, "ann"),
        groups=(Skill("sales", 1),),
        presence=Presence.NOT_READY,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=T0,
    )

    return replace(base, **kw)  # type: ignore[arg-type]


def test_no_agents_when_nobody_could_take_a_call_later() -> None:
    assert no_agents([], T0)
    assert not no_agents([_op()], T0)  # Not ready but online counts
    assert no_agents([_op(presence=Presence.OFFLINE)], T0)
    away = Absence(AbsenceReason.VACATION, T0 + timedelta(days=1))
    assert no_agents([_op(absence=away)], T0)
    assert not no_agents([_op(absence=away), _op(login="bob")], T0)
    assert not no_agents([_op(absence=away)], T0 + timedelta(days=2))  # back from leave


def _rules(**groups: GroupRules) -> dict[str, GroupRules]:
    return dict(groups)


def never(_: str) -> bool:
    return False


def test_resolve_names_the_group_action_reason_and_path_exactly() -> None:
    rules = _rules(
        sales=GroupRules("sales", no_agents_action=parse_action("group:support")),
        support=GroupRules("support", no_agents_action=parse_action("voicemail")),
    )
    seen: list[str] = []

    def empty(g: str) -> bool:
        seen.append(g)
        return True

    res = resolve("sales", T0, rules, never, empty)
    assert res == Resolution(
        "support", FallbackAction(ActionType.VOICEMAIL), Why.NO_AGENTS, ("sales", "support")
    )
    assert seen == ["sales", "support"]  # each group asked about itself
    # A group the rules do not know takes the call as it is.
    unknown = resolve(
        "sales", T0, rules, never, never, start=(Why.MAX_WAIT, parse_action("group:x"))
    )
    assert unknown == Resolution("x", None, Why.MAX_WAIT, ("sales", "x"))


def test_a_loop_that_slipped_past_the_start_up_check_ends_in_goodbye() -> None:
    rules = _rules(
        a=GroupRules("a", closed_action=parse_action("group:b")),
        b=GroupRules("b", closed_action=parse_action("group:a")),
    )
    res = resolve("a", T0, rules, lambda g: True, never)
    # len(rules) + 2 = 4 rounds: a, b, a, b, then the bound says goodbye.
    assert res == Resolution(
        "b", FallbackAction(ActionType.GOODBYE), Why.CLOSED, ("a", "b", "a", "b")
    )


def test_find_loop_follows_groups_without_actions_of_their_own() -> None:
    assert find_loop({"a": [parse_action("group:b")]}) is None
    assert find_loop({"a": [parse_action("group:b")], "b": [None]}) is None
    assert find_loop({"a": [parse_action("group:b")], "b": [parse_action("group:a")]}) == [
        "a",
        "b",
        "a",
    ]
