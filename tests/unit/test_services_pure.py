"""The pure parts of the desk's, the fallbacks' and the log-in services, compared whole.

These functions take documents or settings and return values: checked here without a database,
so a change to any key, default or rounding fails in well under a second (the integration tests
reach the same code only through slow scenarios)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from hashlib import md5
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from backend.domain.fallback import ActionType, FallbackAction, Resolution, Why
from backend.domain.model import Strategy
from backend.domain.view import ReadView
from backend.services import audit, desk, desk_media, desk_today
from backend.services.engine import Engine
from backend.services.fallback import Fallbacks
from backend.services.login import (
    PER_ADDRESS,
    PER_LOGIN,
    Limit,
    LoginThrottle,
    Throttled,
)
from backend.settings import Settings, VoximplantConfig, load_settings

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- desk ---------------------------------------------------------------------------------


def test_desk_error_keeps_status_code_message_and_field() -> None:
    e = desk.DeskError(409, "not_taken", "task c1 is not taken by you", "call_id")
    assert (e.status, e.code, e.message, e.field, str(e)) == (
        409,
        "not_taken",
        "task c1 is not taken by you",
        "call_id",
        "task c1 is not taken by you",
    )
    plain = desk.DeskError(404, "not_found", "gone")
    assert plain.field is None


def test_handled_by_is_the_operator_on_the_call_or_offered_it() -> None:
    assert desk.handled_by({"operator": "ann"}, "ann")
    assert desk.handled_by({"operator": None, "offer": {"operator": "ann"}}, "ann")
    assert desk.handled_by({"operator": "bob", "offer": {"operator": "ann"}}, "ann")
    assert not desk.handled_by({"operator": "bob", "offer": {"operator": "cy"}}, "ann")
    assert not desk.handled_by({"offer": None}, "ann")
    assert not desk.handled_by({}, "ann")


def test_customer_id_is_text_or_none() -> None:
    assert desk._customer_id({"context": {"customer_id": "C-7"}}) == "C-7"
    assert desk._customer_id({"context": {"customer_id": 42}}) == "42"
    assert desk._customer_id({"context": {"customer_id": 0}}) == "0"
    assert desk._customer_id({"context": {"customer_id": ""}}) is None
    assert desk._customer_id({"context": {"customer_id": None}}) is None
    assert desk._customer_id({"context": {}}) is None
    assert desk._customer_id({"context": None}) is None
    assert desk._customer_id({}) is None


def test_waited_is_enqueue_to_answer_or_end_or_now_rounded_never_negative() -> None:
    now = at(100)
    assert desk._waited_s({}, now) is None
    assert desk._waited_s({"enqueued_at": None, "connected_at": at(1)}, now) is None
    both = {"enqueued_at": at(0), "connected_at": at(12.345), "ended_at": at(50)}
    assert desk._waited_s(both, now) == 12.3
    assert desk._waited_s({"enqueued_at": at(0), "ended_at": at(7.26)}, now) == 7.3
    assert desk._waited_s({"enqueued_at": at(0), "connected_at": None}, now) == 100.0
    assert desk._waited_s({"enqueued_at": at(0.04)}, at(0.1)) == 0.1
    assert desk._waited_s({"enqueued_at": at(10)}, at(4)) == 0.0


def test_desk_fields_list_every_note_and_the_disposition() -> None:
    assert desk._desk_fields({}) == {"notes": [], "disposition": None}
    assert desk._desk_fields({"desk": None}) == {"notes": [], "disposition": None}
    doc = {
        "desk": {
            "notes": [
                {"at": at(1), "operator": "ann", "text": "wants a refund"},
                {"operator": "bob"},
            ],
            "disposition": "resolved",
        }
    }
    assert desk._desk_fields(doc) == {
        "notes": [
            {"at": at(1).isoformat(), "operator": "ann", "text": "wants a refund"},
            {"at": None, "operator": "bob", "text": ""},
        ],
        "disposition": "resolved",
    }


def test_history_entry_is_the_whole_summary_of_a_call() -> None:
    doc = {
        "_id": "c1",
        "caller": "+15550001111",
        "context": {"customer_id": "C-7"},
        "media": "video",
        "group": "sales",
        "state": "ended",
        "outcome": "answered",
        "operator": "ann",
        "created_at": at(3),
        "desk": {"notes": [{"at": at(4), "operator": "ann", "text": "x"}], "disposition": "ok"},
    }
    assert desk.history_entry(doc) == {
        "call_id": "c1",
        "caller": "+15550001111",
        "customer_id": "C-7",
        "media": "video",
        "group": "sales",
        "state": "ended",
        "outcome": "answered",
        "operator": "ann",
        "created_at": at(3).isoformat(),
        "notes": [{"at": at(4).isoformat(), "operator": "ann", "text": "x"}],
        "disposition": "ok",
    }
    assert desk.history_entry({"_id": "c2"}) == {
        "call_id": "c2",
        "caller": "",
        "customer_id": None,
        "media": None,
        "group": None,
        "state": None,
        "outcome": None,
        "operator": None,
        "created_at": None,
        "notes": [],
        "disposition": None,
    }


# -- desk_today ---------------------------------------------------------------------------


def test_day_start_is_local_midnight_in_the_clock_zone() -> None:
    plus3 = timezone(timedelta(hours=3))
    now = datetime(2026, 3, 2, 1, 30, 15, 999, tzinfo=plus3)
    assert desk_today.day_start(now) == datetime(2026, 3, 2, 0, 0, tzinfo=plus3)
    assert desk_today.day_start(now).tzinfo is plus3


def _row(
    field: str, value: str, start: float, end: float, reason: str | None = None
) -> dict[str, Any]:
    return {"field": field, "value": value, "start": at(start), "end": at(end), "reason": reason}


def test_offers_count_answered_not_answered_released_and_ringing_now() -> None:
    since = at(0)
    rows = [
        _row("activity", "offered", -20, -10),  # before today: not counted
        _row("activity", "idle", -10, 0),
        _row("presence", "ready", -30, 5),  # not an activity
        _row("activity", "offered", 10, 12.5),  # answered after 2.5 s
        _row("activity", "in_call", 12.5, 40),
        _row("activity", "offered", 50, 60),  # not answered (no reason)
        _row("activity", "idle", 60, 70),
        _row("activity", "offered", 70, 71, reason="caller_hung_up"),  # released: no fault
        _row("activity", "idle", 71, 80),
        _row("activity", "offered", 80, 84),  # answered: the operator is in the call now
    ]
    op = {"activity": "in_call", "activity_since": at(84)}
    assert desk_today._offers(rows, op, since) == (4, 2, 1, [2.5, 4.0])
    # The last offer is still ringing (the next activity is the operator's own: offered).
    ringing = {"activity": "offered", "activity_since": at(90)}
    assert desk_today._offers(rows[:-1], ringing, since) == (4, 1, 1, [2.5])
    # Ringing since before today: not one of today's offers.
    old = {"activity": "offered", "activity_since": at(-1)}
    assert desk_today._offers([], old, since) == (0, 0, 0, [])
    exactly = {"activity": "offered", "activity_since": since}
    assert desk_today._offers([], exactly, since) == (1, 0, 0, [])
    # An offer starting exactly at the day's start is today's; one the operator left for
    # Not ready (no reason) is not answered.
    rows2 = [_row("activity", "offered", 0, 3), _row("activity", "idle", 3, 9)]
    assert desk_today._offers(rows2, {"activity": "idle", "activity_since": at(9)}, since) == (
        1,
        0,
        1,
        [],
    )


def test_times_sum_each_status_from_the_day_start_and_the_open_one_to_now() -> None:
    since = at(0)
    rows = [
        _row("presence", "ready", -100, 30.04),  # counted from the day's start: 30.04
        _row("presence", "not_ready", 30.04, 40),
        _row("presence", "ready", 40, 45),
        _row("activity", "idle", -5, 10),
        _row("activity", "offered", 10, 12.5),
    ]
    op = {
        "presence": "ready",
        "presence_since": at(45),
        "activity": "in_call",
        "activity_since": at(12.5),
    }
    assert desk_today._times(rows, op, since, at(60)) == {
        "presence": {"ready": 50.0, "not_ready": 10.0},
        "activity": {"idle": 10.0, "offered": 2.5, "in_call": 47.5},
    }
    # Nothing logged today: only the open statuses, from the day's start.
    fresh = {
        "presence": "offline",
        "presence_since": at(-50),
        "activity": "idle",
        "activity_since": at(-50),
    }
    assert desk_today._times([], fresh, since, at(12.34)) == {
        "presence": {"offline": 12.3},
        "activity": {"idle": 12.3},
    }


# -- desk_media, audit ------------------------------------------------------------------


def test_media_digests_and_the_default_user() -> None:
    assert desk_media.password_digest("ann", "pw") == md5(b"ann:voximplant.com:pw").hexdigest()
    assert desk_media.one_time_hash("k1", "d1") == md5(b"k1|d1").hexdigest()
    assert desk_media.default_user(
        {"_id": "ann", "address": {"type": "user", "address": "a.b"}}
    ) == ("a.b")
    assert desk_media.default_user(
        {"_id": "ann", "address": {"type": "pstn", "address": "+1"}}
    ) == ("ann")
    assert desk_media.default_user({"_id": "ann", "address": None}) == "ann"
    assert desk_media.default_user({"_id": "ann"}) == "ann"
    config = VoximplantConfig(account="acme", application="desk")
    assert desk_media.full_username(config, "ann") == "ann@desk.acme.voximplant.com"


def test_audit_names_the_admin_and_keeps_the_audited_fields() -> None:
    assert audit.who(None) == "admin token"
    assert audit.who({"_id": "root"}) == "root"
    assert audit.operator_fields(None) is None
    doc = {"_id": "ann", "name": "Ann", "password": "h", "role": "operator", "rev": 3}
    assert audit.operator_fields(doc) == {
        "name": "Ann",
        "email": None,
        "role": "operator",
        "address": None,
        "groups": None,
        "absence": None,
    }


# -- login --------------------------------------------------------------------------------


def test_limit_delays_double_after_the_free_attempts_up_to_the_cap() -> None:
    limit = Limit(free=3, base_s=1.5, cap_s=10.0, forget_s=60.0)
    assert [limit.delay_s(n) for n in range(0, 8)] == [0.0, 0.0, 0.0, 1.5, 3.0, 6.0, 10.0, 10.0]
    assert Limit(free=3, base_s=1.0, cap_s=900.0, forget_s=3600.0) == PER_LOGIN
    assert Limit(free=20, base_s=1.0, cap_s=900.0, forget_s=3600.0) == PER_ADDRESS


def test_throttled_says_the_whole_seconds_to_wait() -> None:
    e = Throttled(2.1)
    assert (str(e), e.retry_after_s) == ("too many failed log-ins: try again in 3 s", 2.1)


def test_throttle_keys_waits_and_forgetting() -> None:
    assert LoginThrottle.keys("Ann", "10.0.0.1") == [
        ("login:ann", PER_LOGIN),
        ("addr:10.0.0.1", PER_ADDRESS),
    ]
    throttle = LoginThrottle(cast(Any, {"login_attempts": "coll"}), clock=lambda: T0)
    assert cast(object, throttle.coll) == "coll" and throttle.clock() == T0
    doc = {"next_at": at(5), "last_at": at(0), "forget_s": 100.0}
    assert throttle._wait(None, at(0)) == 0.0
    assert throttle._wait(doc, at(1)) == 4.0
    assert throttle._wait(doc, at(7)) == 0.0
    assert throttle._wait(doc, at(100)) == 0.0  # after forget_s: not yet forgotten, no wait
    assert throttle._wait({**doc, "next_at": at(200)}, at(101)) == 0.0  # forgotten
    assert throttle._wait({**doc, "next_at": at(200)}, at(100)) == 100.0  # exactly forget_s
    assert not LoginThrottle._forgotten(doc, at(100))
    assert LoginThrottle._forgotten(doc, at(100.5))
    no_forget = {"last_at": at(0)}
    assert not LoginThrottle._forgotten(no_forget, at(3600))
    assert LoginThrottle._forgotten(no_forget, at(3600.5))


# -- fallbacks ----------------------------------------------------------------------------

FALLBACK_CONFIG = """
rules = []

[voicemail]
max_length_s = 45

[messages]
closed = "Closed."
no_agents = "Nobody."
max_wait = "Too long."
goodbye = "Bye."
to_group = "Another team."
to_number = "Putting you through."
voicemail = "After the tone."
callback = "We call back."
number_failed = "Could not."

[[groups]]
name = "default"
no_agents_action = "voicemail"
max_wait_s = 30
max_wait_action = "group:support"

[[groups]]
name = "support"
hours = ["mon 09:00-10:00"]
closed_action = "number:+15550001111"

[[groups]]
name = "quiet"
max_wait_s = 5
max_wait_action = "goodbye"
"""


@pytest.fixture
def fallbacks(tmp_path: Path) -> tuple[Fallbacks, ReadView]:
    own = tmp_path / "fallback.toml"
    own.write_text(FALLBACK_CONFIG)
    settings: Settings = load_settings(
        {"SWITCHBOARD_CONFIG": str(own), "MONGODB_URL": "mongodb://127.0.0.1:1/x"}
    )
    view = ReadView(lambda _g: Strategy.LONGEST_IDLE)
    engine = SimpleNamespace(settings=settings, view=view)
    return Fallbacks(cast(Engine, engine)), view


def test_fallback_text_is_the_reason_then_what_happens(
    fallbacks: tuple[Fallbacks, ReadView],
) -> None:
    fb, _ = fallbacks
    assert fb.text("closed", "goodbye") == "Closed. Bye."
    assert fb.text("no_agents", "group") == "Nobody. Another team."
    assert fb.text("max_wait", "number") == "Too long. Putting you through."
    assert fb.text(None, "voicemail") == "After the tone."
    assert fb.text("closed", "callback") == "Closed. We call back."
    assert fb.text("other", "other") == "Bye."
    assert fb.text("number_failed", "goodbye") == "Could not."


def test_fallback_announcement_and_action_doc(fallbacks: tuple[Fallbacks, ReadView]) -> None:
    fb, _ = fallbacks
    assert fb.announcement("voicemail", "no_agents") == {
        "type": "voicemail",
        "why": "no_agents",
        "say": "Nobody. After the tone.",
        "max_length_s": 45,
    }
    assert fb.announcement("group", "max_wait") == {
        "type": "group",
        "why": "max_wait",
        "say": "Too long. Another team.",
    }
    assert fb.announcement("goodbye", None) == {"type": "goodbye", "why": None, "say": "Bye."}
    none = Resolution("default", None, None, ("default",))
    assert fb.action_doc(none) is None
    moved = Resolution("support", None, Why.MAX_WAIT, ("default", "support"))
    assert fb.action_doc(moved) == {
        "type": "group",
        "why": "max_wait",
        "target": "support",
        "say": "Too long. Another team.",
    }
    number = FallbackAction(ActionType.NUMBER, "+15550001111")
    assert fb.action_doc(Resolution("support", number, Why.CLOSED, ("support",))) == {
        "type": "number",
        "why": "closed",
        "target": "+15550001111",
        "say": "Closed. Putting you through.",
    }
    voicemail = FallbackAction(ActionType.VOICEMAIL)
    assert fb.action_doc(Resolution("default", voicemail, Why.NO_AGENTS, ("default",))) == {
        "type": "voicemail",
        "why": "no_agents",
        "say": "Nobody. After the tone.",
        "max_length_s": 45,
    }
    bye = FallbackAction(ActionType.GOODBYE)
    assert fb.action_doc(Resolution("", bye, None, ())) == {
        "type": "goodbye",
        "why": None,
        "say": "Bye.",
    }


def test_fallback_rules_max_wait_open_hours_and_resolve(
    fallbacks: tuple[Fallbacks, ReadView],
) -> None:
    fb, view = fallbacks
    assert fb.rules is fb.rules  # built once per settings
    assert fb.max_wait_s("default") == 30
    assert fb.max_wait_s("quiet") == 5
    assert fb.max_wait_s("support") is None
    assert fb.max_wait_s("nope") is None
    monday_9 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday, UTC is the default zone
    monday_11 = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert fb.is_open("support", monday_9) and not fb.is_open("support", monday_11)
    assert fb.is_open("default", monday_11) and fb.is_open("nope", monday_11)
    view.closed["default"] = True
    assert not fb.is_open("default", monday_11)
    assert fb.is_open("nope", monday_11)  # no rules: always open
    view.closed["default"] = False
    # Nobody online in default: its no-agents action (voicemail).
    res = fb.resolve("default", monday_9)
    assert (res.group, res.action, res.why) == (
        "default",
        FallbackAction(ActionType.VOICEMAIL),
        Why.NO_AGENTS,
    )
    # The max-wait action as the start: moved to support, then nobody there either.
    start = (Why.MAX_WAIT, FallbackAction(ActionType.GROUP, "support"))
    res = fb.resolve("default", monday_11, start)
    assert (res.action, res.why) == (FallbackAction(ActionType.NUMBER, "+15550001111"), Why.CLOSED)
