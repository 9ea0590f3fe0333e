"""No caller left waiting for nobody: hours, holidays, empty groups, action chains (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.domain import calls
from backend.domain.actions import (
    Announce,
    DialNumber,
    DispatchCall,
    OfferMissed,
    OfferReleased,
    SendHangup,
)
from backend.domain.fallback import (
    ActionType,
    FallbackAction,
    GroupRules,
    Why,
    could_take_later,
    find_loop,
    parse_action,
    resolve,
)
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
    Outcome,
    Presence,
    Skill,
    SpareAttempt,
    TargetType,
)
from backend.domain.policy import RoutingPolicy
from backend.settings import ConfigError, load_settings, parse_hours

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 5 January 2026, 08:30 UTC = 09:30 in Berlin.
T0 = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
POLICY = RoutingPolicy(queued_check_s=60)


def rules(**kw: Any) -> GroupRules:
    return GroupRules(name="sales", **kw)


def test_hours_are_read_in_the_groups_time_zone() -> None:
    g = rules(hours=(parse_hours("mon-fri 09:00-18:00"),), tz=BERLIN)
    assert g.open_at(T0)  # 09:30 Berlin
    assert not g.open_at(T0 - timedelta(hours=1))  # 08:30 Berlin
    assert not GroupRules("x", hours=g.hours, tz=UTC).open_at(T0)  # 08:30 UTC


def test_hours_across_midnight_and_holidays() -> None:
    night = rules(hours=(parse_hours("fri 22:00-06:00"),), tz=BERLIN)
    saturday_3am = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # 03:00 Berlin, Saturday
    assert night.open_at(saturday_3am)
    assert not night.open_at(saturday_3am + timedelta(hours=4))
    holiday = rules(tz=BERLIN, holidays=frozenset({date(2026, 1, 5)}))
    assert not holiday.open_at(T0)
    # 23:30 UTC on the 4th is already the 5th in Berlin.
    assert not holiday.open_at(datetime(2026, 1, 4, 23, 30, tzinfo=UTC))
    assert holiday.open_at(datetime(2026, 1, 4, 22, 30, tzinfo=UTC))
    assert not rules().open_at(T0, closed_override=True)
    assert rules().open_at(T0)


def op(presence: Presence, activity: Activity = Activity.IDLE, **kw: Any) -> Operator:
    return Operator(
        login="ann",
        address=Address(TargetType.USER, "ann"),
        groups=(Skill("sales"),),
        presence=presence,
        presence_since=T0,
        activity=activity,
        activity_since=T0,
        idle_since=T0,
        **kw,
    )


def test_who_could_take_a_call_later() -> None:
    assert could_take_later(op(Presence.READY), T0)
    assert could_take_later(op(Presence.NOT_READY, reason="lunch"), T0)  # online still counts
    assert could_take_later(op(Presence.READY, Activity.IN_CALL), T0)
    assert not could_take_later(op(Presence.OFFLINE), T0)
    assert not could_take_later(op(Presence.NOT_READY, reason="disconnected"), T0)
    assert not could_take_later(op(Presence.READY, Activity.BANNED), T0)
    away = Absence(AbsenceReason.VACATION, until=T0 + timedelta(days=1))
    assert not could_take_later(op(Presence.READY, absence=away), T0)
    assert could_take_later(op(Presence.READY, absence=away), T0 + timedelta(days=2))


def test_parse_action() -> None:
    assert parse_action("goodbye") == FallbackAction(ActionType.GOODBYE)
    assert parse_action("group:support") == FallbackAction(ActionType.GROUP, "support")
    assert parse_action("number:+15550001111") == FallbackAction(ActionType.NUMBER, "+15550001111")
    for bad in ("hangup", "group:", "number:12345", "number:+1555abc", "goodbye:x"):
        with pytest.raises(ValueError):
            parse_action(bad)


def test_resolve_follows_a_chain_and_stops_at_a_group_that_takes_calls() -> None:
    closed_sales = GroupRules("sales", closed_action=parse_action("group:support"))
    support = GroupRules("support", no_agents_action=parse_action("number:+15550001111"))
    table = {"sales": closed_sales, "support": support, "default": GroupRules("default")}
    res = resolve("sales", T0, table, closed=lambda g: g == "sales", empty=lambda g: False)
    assert (res.group, res.action, res.why, res.path) == (
        "support",
        None,
        Why.CLOSED,
        ("sales", "support"),
    )
    res = resolve("sales", T0, table, closed=lambda g: g == "sales", empty=lambda g: True)
    assert res.action == FallbackAction(ActionType.NUMBER, "+15550001111")
    assert res.why is Why.NO_AGENTS and res.group == "support"
    # Closed without an action: goodbye. Open and staffed: nothing to do.
    res = resolve("default", T0, table, closed=lambda g: True, empty=lambda g: False)
    assert res.action == FallbackAction(ActionType.GOODBYE) and res.why is Why.CLOSED
    res = resolve("default", T0, table, closed=lambda g: False, empty=lambda g: True)
    assert res.action is None and res.why is None and res.group == "default"
    # The maximum wait starts the chain with the group's max_wait_action.
    start = (Why.MAX_WAIT, parse_action("group:support"))
    res = resolve("sales", T0, table, lambda g: False, lambda g: False, start=start)
    assert (res.group, res.action, res.why) == ("support", None, Why.MAX_WAIT)


def test_find_loop() -> None:
    g = parse_action
    assert find_loop({"a": [g("group:b")], "b": [g("group:c"), None], "c": [g("goodbye")]}) is None
    assert find_loop({"a": [g("group:b")], "b": [None, g("group:a")]}) == ["a", "b", "a"]
    assert find_loop({"a": [g("group:a")]}) == ["a", "a"]


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return {"SWITCHBOARD_CONFIG": str(path)}


def test_loops_are_refused_at_start_up_with_a_clear_message(tmp_path: Path) -> None:
    text = (
        'rules = []\n[[groups]]\nname = "default"\nclosed_action = "group:sales"\n'
        '[[groups]]\nname = "sales"\nmax_wait_s = 60\nmax_wait_action = "group:default"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, text))
    assert "the group actions make a loop (default -> sales -> default)" in str(caught.value)
    bad = 'rules = []\n[[groups]]\nname = "default"\nno_agents_action = "group:nowhere"\n'
    with pytest.raises(ConfigError, match=r"groups\.default\.no_agents_action: no group named"):
        load_settings(_config(tmp_path, bad))
    half = 'rules = []\n[[groups]]\nname = "default"\nmax_wait_s = 30\n'
    with pytest.raises(ConfigError, match="max_wait_s and max_wait_action"):
        load_settings(_config(tmp_path, half))
    tz = 'rules = []\n[[groups]]\nname = "default"\ntimezone = "Mars/Olympus"\n'
    with pytest.raises(ConfigError, match=r"groups\[0\]\.timezone: unknown time zone"):
        load_settings(_config(tmp_path, tz))


def test_a_call_that_waited_too_long_moves_keeping_its_enqueue_time() -> None:
    step = calls.new_call("c1", "sales", 50, Media.VOICE, T0, POLICY, max_wait_s=30)
    call = step.state
    assert call is not None and call.max_wait_at == T0 + timedelta(seconds=30)
    assert call.deadline == call.max_wait_at  # before the periodic check at 60 s
    later = T0 + timedelta(seconds=30)
    assert calls.max_wait_due(call, later)
    res = resolve(
        "sales",
        later,
        {"sales": GroupRules("sales"), "support": GroupRules("support", max_wait_s=90)},
        lambda g: False,
        lambda g: False,
        start=(Why.MAX_WAIT, parse_action("group:support")),
    )
    moved = calls.fallback(call, res, later, POLICY, 90)
    assert moved.state is not None
    assert moved.state.group == "support" and moved.state.enqueued_at == T0
    assert moved.state.max_wait_at == later + timedelta(seconds=90)
    assert moved.actions == (Announce("c1", "group", "max_wait"), DispatchCall("c1"))


def test_goodbye_ends_the_call_and_a_failed_number_says_sorry() -> None:
    call = calls.new_call("c1", "sales", 50, Media.VOICE, T0, POLICY, max_wait_s=30).state
    assert call is not None
    later = T0 + timedelta(seconds=31)
    bye = resolve(
        "sales",
        later,
        {"sales": GroupRules("sales")},
        lambda g: False,
        lambda g: False,
        start=(Why.MAX_WAIT, parse_action("goodbye")),
    )
    ended = calls.fallback(call, bye, later, POLICY, None)
    assert ended.state is not None and ended.state.state is CallState.ENDED
    assert ended.state.outcome is Outcome.REJECTED and ended.state.end_reason == "max_wait"
    assert SendHangup("c1", "max_wait", say=True) in ended.actions

    num = resolve(
        "sales",
        later,
        {"sales": GroupRules("sales")},
        lambda g: False,
        lambda g: False,
        start=(Why.MAX_WAIT, parse_action("number:+15550001111")),
    )
    dialling = calls.fallback(call, num, later, POLICY, None)
    assert dialling.actions[-1] == DialNumber("c1", "+15550001111")
    assert dialling.state is not None and dialling.state.max_wait_at is None
    attempt = SpareAttempt(
        "o1", "+15550001111", later, later + timedelta(seconds=30), fallback=True
    )
    offered = calls.spare_offer(dialling.state, attempt).state
    assert offered is not None
    failed = calls.spare_failed(offered, "o1", later + timedelta(seconds=5), POLICY)
    assert failed.state is not None and failed.state.outcome is Outcome.FAILED
    assert failed.actions == (SendHangup("c1", calls.NUMBER_FAILED, say=True),)


def _queued(task_policy: RoutingPolicy = POLICY) -> Call:
    step = calls.new_call("c1", "sales", 60, Media.VOICE, T0, task_policy)
    assert step.state is not None
    return step.state


def test_a_voicemail_waits_as_a_task_behind_callers_and_a_missed_one_counts() -> None:
    call = calls.start_voicemail(_queued(), T0, POLICY)
    assert call.state is CallState.VOICEMAIL
    assert call.deadline == T0 + timedelta(seconds=POLICY.voicemail_max_s + 60)
    # The session ending before any message: abandoned (the deadline is the backstop).
    gone = calls.deadline_reached(call, call.deadline, POLICY)
    assert gone.state is not None and gone.state.outcome is Outcome.ABANDONED
    later = T0 + timedelta(seconds=40)
    task = calls.voicemail_recorded(call, "https://rec/1.mp3", 31.5, later, POLICY)
    assert task.state is not None and task.actions == (DispatchCall("c1"),)
    t = task.state
    assert (t.state, t.task, t.voicemail_url, t.priority) == (
        CallState.QUEUED,
        "voicemail",
        "https://rec/1.mp3",
        calls.TASK_PRIORITY,
    )
    assert t.enqueued_at == T0
    assert calls.voicemail_recorded(t, "x", 1, later, POLICY).state is None  # once only
    # The periodic look at a task asks no session whether it lives.
    assert t.deadline is not None
    look = calls.deadline_reached(t, t.deadline, POLICY)
    assert look.actions == (DispatchCall("c1"),)
    # Offered on the desk: not answered in time is a miss, and nothing is sent to a session.
    offer = Offer("o1", "ann", Address(TargetType.USER, "ann"), later, later, sent_at=later)
    offered = replace(t, state=CallState.OFFERING, offer=offer)
    expired = calls.offer_expired(offered, "o1", later, POLICY)
    assert expired.actions == (OfferMissed("ann", "o1", 408), DispatchCall("c1"))
    connected = calls.offer_connected(offered, "o1", later, POLICY).state
    assert connected is not None
    assert calls.task_closed(connected, "bob", later).state is None
    closed = calls.task_closed(connected, "ann", later).state
    assert closed is not None and closed.outcome is Outcome.VOICEMAIL


def test_a_callback_keeps_its_place_retries_then_becomes_a_task() -> None:
    policy = RoutingPolicy(queued_check_s=60, callback_retry_s=300, callback_max_attempts=2)
    waiting = _queued(policy)
    cb = calls.callback_requested(waiting, "+15557770001", T0, policy)
    assert cb.state is not None and cb.state.task == "callback"
    assert cb.state.priority == 60 and cb.state.enqueued_at == T0  # its place is kept
    assert calls.callback_requested(cb.state, "+1555", T0, policy).state is None
    later = T0 + timedelta(seconds=50)
    offer = Offer("o1", "ann", Address(TargetType.USER, "ann"), later, later, sent_at=later)
    ringing = replace(cb.state, state=CallState.OFFERING, offer=offer)
    first = calls.callback_not_answered(ringing, "o1", later, policy)
    assert first.state is not None and first.state.state is CallState.CALLBACK_WAIT
    assert first.actions == (OfferReleased("ann", "o1", calls.CALLER_LEFT),)  # no miss
    assert first.state.deadline == later + timedelta(seconds=300)
    again = calls.deadline_reached(first.state, first.state.deadline, policy)
    assert again.state is not None and again.state.state is CallState.QUEUED
    assert again.actions == (DispatchCall("c1"),) and again.state.enqueued_at == T0
    ringing2 = replace(again.state, state=CallState.OFFERING, offer=offer)
    last = calls.callback_not_answered(ringing2, "o1", later, policy)
    assert last.state is not None and last.state.task == "callback_failed"
    assert last.state.callback_attempts == 2 and last.state.state is CallState.QUEUED
    # Answered and bridged, the callback ends as one.
    talking = calls.offer_connected(ringing, "o1", later, policy).state
    assert talking is not None
    done = calls.caller_hung_up(talking, later + timedelta(seconds=90))
    assert done.state is not None and done.state.outcome is Outcome.CALLBACK
