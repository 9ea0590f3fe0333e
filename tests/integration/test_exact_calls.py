"""The scenario's side of a call compared whole: every reply to `POST /api/v1/calls` and
`/events`, every command the access URL received, every entry logged on the call.

Each field here is one a scenario or a report reads; a key renamed, a value dropped or a
counter miscounted shows up as a difference in one of these comparisons.

Each scenario runs in a fixture and the test compares its last result: mutmut runs the tests
that reach a mutant in the order of their measured *call* time and stops at a time budget, and
a hundred integration tests reach these services. Done at set-up, a scenario is timed at ~0 s,
runs among the first, and a difference anywhere in it (an assert in the fixture) fails the test
as an error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.domain.estimates import estimated_wait_s
from tests.conftest import Backend
from tests.integration.test_parties import CONFIG as PARTIES
from tests.integration.test_parties import _add, _party_in
from tests.support.desk import connected_call
from tests.support.fake_management_api import FakeManagementApi, make_credentials
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

CALLER = "+15551230001"
NOWHERE = "http://127.0.0.1:9/request/nowhere"  # the plain URL of a call that has a secure one


# The group's own policy differs from the defaults: its overflow (20 s) comes before the
# periodic check (queued_check_s, 30 s), so the call's first deadline shows which one it got.
SPARE_AFTER_20_S = """
rules = []

[[groups]]
name = "default"
overflow_after_s = 20
spares = ["+15550000101"]

[[spare_numbers]]
number = "+15550000101"
name = "Spare"
max_concurrent = 1
daily_cap = 5
"""


async def _state(b: Backend, call_id: str, state: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] == state else None


async def _raw(b: Backend, call_id: str) -> dict[str, Any]:
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None
    return dict(doc)


def _at(entry: dict[str, Any]) -> datetime:
    at = entry["at"]
    assert isinstance(at, datetime)
    return at


async def _post_event(b: Backend, call_id: str, event: dict[str, Any]) -> tuple[int, Any]:
    resp = await b.client.post(f"/api/v1/calls/{call_id}/events", json=event, headers=b.plat)
    return resp.status, await resp.json()


@pytest.fixture
async def arrival_status_connect_and_events_compared_whole(
    make_backend: Any,
) -> tuple[int, Any]:
    b: Backend = await make_backend(SPARE_AFTER_20_S)
    messages = b.engine.settings.config.messages
    await b.add_operator("bob")
    # Answers well after the connect's reply is handled: the log's order is fixed.
    b.platform.script("bob", Script(answer_after_s=0.2, talk_s=None))
    arrival = {
        "session_id": "s1",
        "access_url": NOWHERE,
        "access_secure_url": b.platform.access_url("s1"),
        "caller": CALLER,
        "destination": "+15559990000",
        "display_name": "Ann Caller",
        "media": "voice",
        "custom_data": '{"customer_id": "c7", "page": "home"}',
        "headers": {"X-A": "b"},
    }
    resp = await b.client.post("/api/v1/calls", json=arrival, headers=b.plat)
    assert resp.status == 201
    reply = await resp.json()
    call_id = reply["call_id"]
    queued = {
        "call_id": call_id,
        "state": "queued",
        "group": "default",
        "media": "voice",
        "outcome": None,
        "position": 1,
    }
    # Nobody of the group could take it: said at once; no estimate while nobody is Ready.
    assert reply == {**queued, "say": messages.no_agents}
    b.platform.sessions["s1"].call_id = call_id
    raw = await _raw(b, call_id)
    created = raw["created_at"]
    assert isinstance(created, datetime) and raw.pop("updated_at") >= created
    assert raw == {
        "_id": call_id,
        "rev": 0,
        "state": "queued",
        "group": "default",
        "priority": 50,
        "media": "voice",
        "created_at": created,
        "enqueued_at": created,
        "connected_at": None,
        "ended_at": None,
        "deadline": created + timedelta(seconds=20),  # the group's overflow, before the check
        "max_wait_at": None,
        "next_overflow_at": None,
        "attempts": 0,
        "operator": None,
        "offer": None,
        "parties": [],
        "held_since": None,
        "hold_s": 0.0,
        "caller_left_at": None,
        "outcome": None,
        "hung_up_by": None,
        "end_reason": None,
        "preferred": "",
        "preferred_until": None,
        "spare": None,
        "spares_tried": [],
        "invite_id": None,
        "task": None,
        "voicemail_url": None,
        "voicemail_s": None,
        "callback_number": None,
        "callback_attempts": 0,
        "session_id": "s1",
        "access_url": NOWHERE,
        "access_secure_url": arrival["access_secure_url"],
        "caller": CALLER,
        "destination": "+15559990000",
        "display_name": "Ann Caller",
        "custom_data": arrival["custom_data"],
        "context": {"customer_id": "c7", "page": "home"},
        "headers": {"X-A": "b"},
        "manager": None,
        "contact_key": None,
        "say": None,
        "action": None,
        "log": [
            {
                "at": created,
                "kind": "arrived",
                "group": "default",
                "priority": 50,
                "waits_for": None,
            }
        ],
    }
    # The scenario retried: the same call, not created again (no words then).
    resp = await b.client.post("/api/v1/calls", json=arrival, headers=b.plat)
    assert resp.status == 200 and await resp.json() == queued
    assert await b.store.calls.count_documents({}) == 1

    # Bob clicks Ready: the connect goes to the secure URL, the plain one is never tried.
    await b.set_status(await b.login("bob"), "ready")
    await eventually(lambda: _state(b, call_id, "connected"))
    raw = await _raw(b, call_id)
    offer = raw["offer"]
    offer_id = offer["offer_id"]
    connect = {
        "command": "connect",
        "call_id": call_id,
        "offer_id": offer_id,
        "target": {"type": "user", "address": "bob"},
        "video": False,
        "ring_timeout_s": 10,
        "headers": {"X-Call-Id": call_id, "X-Offer-Id": offer_id},
    }
    assert b.platform.sessions["s1"].commands == [connect]
    log = raw["log"]
    sent = log[3]
    assert isinstance(sent["replied_at"], datetime) and sent["replied_at"] >= sent["at"]
    # The delivery time rides along with the call's next write, as the offer's `sent_at`.
    assert offer["sent_at"] == sent["at"]
    connected_at = raw["connected_at"]
    assert sent["at"] <= log[4]["at"] <= connected_at
    assert log[1:] == [
        {
            "at": offer["created_at"],
            "kind": "offer",
            "offer_id": offer_id,
            "operator": "bob",
            "target": {"type": "user", "address": "bob"},
        },
        {"at": offer["created_at"], "kind": "state", "from": "queued", "to": "offering"},
        {
            "at": sent["at"],
            "kind": "command",
            "command": connect,
            "replied_at": sent["replied_at"],
            "status": 200,
            "reply": {"ok": True, "command": "connect", "offer_id": offer_id},
            "attempts": 1,
        },
        {"at": _at(log[4]), "kind": "event", "type": "operator_connected", "offer_id": offer_id},
        {"at": connected_at, "kind": "state", "from": "offering", "to": "connected"},
    ]

    # Bob is Ready (in a call): a second caller hears the queue's words and gets an estimate.
    # From another phone, for the same customer (whose manager Bob becomes below).
    second = await b.place_call(session_id="s2", custom_data='{"customer_id": "c7"}')
    handle = b.engine.settings.policy("default").default_handle_time_s
    assert second == {
        **queued,
        "call_id": second["call_id"],
        "estimated_wait_s": estimated_wait_s(1, 1, handle),
        "session_id": "s2",
        **({"say": messages.queued} if messages.queued else {}),
    }
    third = await b.place_call(session_id="s3")
    status = await b.client.get(f"/api/v1/calls/{third['call_id']}", headers=b.plat)
    got = await status.json()
    assert {k: got[k] for k in ("position", "estimated_wait_s")} == {
        "position": 2,
        "estimated_wait_s": estimated_wait_s(2, 1, handle),
    }

    # Facts the scenario reports: stored on the call and logged as given.
    rec = {"type": "recording_started", "url": "https://rec.example/1.mp3"}
    assert await _post_event(b, call_id, rec) == (200, {"ok": True, "applied": True})
    # A stale failure changes nothing and is acknowledged.
    stale = {"type": "operator_failed", "offer_id": "old", "code": 486, "reason": "busy"}
    assert await _post_event(b, call_id, stale) == (200, {"ok": True, "applied": False})
    hangup = {"type": "operator_hung_up", "reason": "bye"}
    # The operator hung up on a caller without a manager: the reply asks whether to keep Bob.
    assert await _post_event(b, call_id, hangup) == (
        200,
        {
            "ok": True,
            "applied": True,
            "ask_pin_manager": {
                "command": "ask_pin_manager",
                "operator": "bob",
                "operator_name": "Bob",
                "text": "Would you like Bob to answer your calls from now on? "
                "Say yes or no, or press 1 for yes and 2 for no.",
                "timeout_s": 8,
            },
        },
    )
    yes = {"type": "manager_pin_answer", "answer": "yes"}
    assert await _post_event(b, call_id, yes) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, call_id)
    assert (raw["recording_url"], raw["pin_answer"], raw["manager"]) == (rec["url"], "yes", "bob")
    ended_at = raw["ended_at"]
    log = raw["log"][6:]
    assert log == [
        {"at": _at(log[0]), "kind": "event", **rec},
        {"at": _at(log[1]), "kind": "event", **stale, "ignored": True},
        {"at": _at(log[2]), "kind": "event", **hangup},
        {"at": ended_at, "kind": "state", "from": "connected", "to": "ended"},
        {"at": _at(log[4]), "kind": "event", **yes},
    ]
    assert created < log[0]["at"] <= log[1]["at"] <= log[2]["at"] <= ended_at <= log[4]["at"]
    contacts = [c async for c in b.store.contacts.find({})]
    since = contacts[0]["manager_since"]
    assert log[4]["at"] <= since
    assert contacts == [
        {"_id": "customer:c7", "manager": "bob", "manager_since": since, "updated_at": since}
    ]
    # The customer calls again while Bob talks to the next caller: the call waits for him.
    await eventually(lambda: _state(b, second["call_id"], "connected"))
    again = await b.place_call(
        session_id="s4", caller="+15550000777", custom_data='{"customer_id": "c7"}'
    )
    raw = await _raw(b, again["call_id"])
    # Waits for Bob up to [manager] wait_s (30 s); the group's overflow look comes first.
    at = raw["created_at"]
    assert (again["position"], raw["preferred_until"], raw["deadline"]) == (
        2,
        at + timedelta(seconds=30),
        at + timedelta(seconds=20),
    )
    assert {k: raw[k] for k in ("manager", "contact_key", "say", "preferred", "log")} == {
        "manager": "bob",
        "contact_key": "customer:c7",
        "say": None,
        "preferred": "bob",
        "log": [
            {
                "at": raw["created_at"],
                "kind": "arrived",
                "group": "default",
                "priority": 50,
                "waits_for": "bob",
            }
        ],
    }
    # Bob away, with an end date and without one: the caller is told, nobody is waited for.
    absences = [
        ({"reason": "vacation", "until": "2099-12-31"}, " until December 31"),
        ({"reason": "sick_leave"}, ""),
    ]
    for n, (absence, until) in enumerate(absences):
        resp = await b.client.put("/api/v1/operators/bob/absence", json=absence, headers=b.admin)
        assert resp.status == 200, await resp.text()
        away = await b.place_call(session_id=f"a{n}", custom_data='{"customer_id": "c7"}')
        say = f"Your manager Bob is away{until}. Another specialist will help you."
        assert away == {
            **queued,
            "call_id": away["call_id"],
            "position": 3 + n,
            "say": say,
            "session_id": f"a{n}",
        }
        raw = await _raw(b, away["call_id"])
        assert {k: raw[k] for k in ("manager", "contact_key", "say", "preferred", "log")} == {
            "manager": "bob",
            "contact_key": "customer:c7",
            "say": say,
            "preferred": "",
            "log": [
                {
                    "at": raw["created_at"],
                    "kind": "arrived",
                    "group": "default",
                    "priority": 50,
                    "waits_for": None,
                }
            ],
        }
    # Bob took the customer's second call; it ends: nobody asks to keep him, he manages them.
    await eventually(lambda: _state(b, second["call_id"], "connected"))
    assert await _post_event(b, second["call_id"], {"type": "operator_hung_up"}) == (
        200,
        {"ok": True, "applied": True},
    )
    # A report for no call: the whole error, for a fact and for a transition alike.
    missing = {"error": {"code": "not_found", "message": "no call nope", "field": "call_id"}}
    assert await _post_event(b, "nope", rec) == (404, missing)
    return await _post_event(b, "nope", hangup)


async def test_arrival_status_connect_and_events_compared_whole(
    arrival_status_connect_and_events_compared_whole: tuple[int, Any],
) -> None:
    assert arrival_status_connect_and_events_compared_whole == (
        404,
        {"error": {"code": "not_found", "message": "no call nope", "field": "call_id"}},
    )


FALLBACKS = """
[[groups]]
name = "default"
no_agents_action = "group:vm"

[[groups]]
name = "vm"
no_agents_action = "voicemail"

[[groups]]
name = "bye"
no_agents_action = "goodbye"

[[groups]]
name = "num"
no_agents_action = "number:+15550001111"

[[groups]]
name = "wait"
max_wait_s = 60
max_wait_action = "goodbye"

[[rules]]
group = "wait"
headers = { "X-Q" = "wait" }

[[rules]]
group = "bye"
headers = { "X-Q" = "bye" }

[[rules]]
group = "num"
headers = { "X-Q" = "num" }
"""
NO_AGENTS = "No operator is available to take your call right now."


@pytest.fixture
async def fallback_arrivals_and_their_events_compared_whole(
    make_backend: Any,
) -> tuple[str, str, str]:
    b: Backend = await make_backend(FALLBACKS)
    b.platform.script("+15550001111", Script(talk_s=None))

    def arrived(raw: dict[str, Any], group: str, path: list[str], action: str) -> list[Any]:
        at = raw["created_at"]
        return [
            {"at": at, "kind": "arrived", "group": group, "priority": 50, "waits_for": None},
            {"at": at, "kind": "fallback", "why": "no_agents", "path": path, "action": action},
        ]

    # Nobody in `default`: followed to `vm`, whose action is a voicemail.
    vm = await b.place_call(session_id="vm")
    vm_action = {
        "type": "voicemail",
        "why": "no_agents",
        "say": f"{NO_AGENTS} Please leave a message after the tone. Hang up when you are done.",
        "max_length_s": 120,
    }
    assert vm == {
        "call_id": vm["call_id"],
        "state": "voicemail",
        "group": "vm",
        "media": "voice",
        "outcome": None,
        "action": vm_action,
        "session_id": "vm",
    }
    raw = await _raw(b, vm["call_id"])
    assert (raw["action"], raw["log"]) == (
        vm_action,
        arrived(raw, "vm", ["default", "vm"], "voicemail"),
    )
    recorded = {"type": "voicemail_recorded", "url": "https://v.example/1", "duration_s": 12.5}
    assert await _post_event(b, vm["call_id"], recorded) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, vm["call_id"])
    assert {k: raw[k] for k in ("state", "task", "priority", "voicemail_url", "voicemail_s")} == {
        "state": "queued",
        "task": "voicemail",
        "priority": 1,
        "voicemail_url": "https://v.example/1",
        "voicemail_s": 12.5,
    }
    entry = raw["log"][2]
    assert raw["log"][2:] == [
        {"at": _at(entry), "kind": "event", **recorded},
        {"at": raw["updated_at"], "kind": "state", "from": "voicemail", "to": "queued"},
    ]
    # A message reported without its length: 0 s, not made up.
    short = await b.place_call(session_id="vm2")
    bare = {"type": "voicemail_recorded", "url": "https://v.example/2"}
    assert await _post_event(b, short["call_id"], bare) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, short["call_id"])
    assert (raw["voicemail_url"], raw["voicemail_s"]) == ("https://v.example/2", 0.0)
    # The queued voicemail, as the platform reads it: its task, the action, no callback offer.
    resp = await b.client.get(f"/api/v1/calls/{vm['call_id']}", headers=b.plat)
    status = await resp.json()
    assert {k: status[k] for k in ("state", "position", "action", "task")} == {
        "state": "queued",
        "position": 1,
        "action": vm_action,
        "task": "voicemail",
    }
    assert "estimated_wait_s" not in status and "callback" not in status

    # A caller whose manager is in `default` (not Ready): moved on to `vm`, the call still
    # names the manager, but waits for nobody.
    await b.add_operator("mia")
    resp = await b.client.put(
        f"/api/v1/contacts/{CALLER}/manager", json={"manager": "mia"}, headers=b.admin
    )
    assert resp.status == 200, await resp.text()
    managed = await b.place_call(session_id="vm3", caller=CALLER)
    raw = await _raw(b, managed["call_id"])
    assert {k: raw[k] for k in ("group", "manager", "contact_key", "preferred", "say")} == {
        "group": "vm",
        "manager": "mia",
        "contact_key": f"phone:{CALLER}",
        "preferred": "",
        "say": None,
    }
    # A group with a longest wait: the call's limit is set at its arrival.
    waiting = await b.place_call(session_id="wait", headers={"X-Q": "wait"})
    raw = await _raw(b, waiting["call_id"])
    assert (raw["state"], raw["group"], raw["max_wait_at"]) == (
        "queued",
        "wait",
        raw["created_at"] + timedelta(seconds=60),
    )
    # Goodbye: refused at once, ended with the reason.
    bye = await b.place_call(session_id="bye", headers={"X-Q": "bye"})
    bye_action = {
        "type": "goodbye",
        "why": "no_agents",
        "say": f"{NO_AGENTS} Please call again later. Thank you for calling. Goodbye.",
    }
    assert bye == {
        "call_id": bye["call_id"],
        "state": "ended",
        "group": "bye",
        "media": "voice",
        "outcome": "rejected",
        "action": bye_action,
        "session_id": "bye",
    }
    raw = await _raw(b, bye["call_id"])
    assert (raw["end_reason"], raw["log"]) == ("no_agents", arrived(raw, "bye", ["bye"], "goodbye"))

    # A number: dialled like a spare; its answer and hang-up are the spare's.
    num = await b.place_call(session_id="num", headers={"X-Q": "num"})
    num_action = {
        "type": "number",
        "why": "no_agents",
        "target": "+15550001111",
        "say": f"{NO_AGENTS} We are putting you through. Please stay on the line.",
    }
    assert num == {
        "call_id": num["call_id"],
        "state": "overflow_offering",
        "group": "num",
        "media": "voice",
        "outcome": None,
        "action": num_action,
        "session_id": "num",
    }
    raw = await eventually(lambda: _state(b, num["call_id"], "overflow_connected"))
    raw = await _raw(b, num["call_id"])
    assert raw["log"][:2] == arrived(raw, "num", ["num"], "number:+15550001111")
    spare_id = raw["spare"]["offer_id"]
    answered = raw["log"][5]
    assert raw["log"][5:] == [
        {"at": _at(answered), "kind": "event", "type": "operator_connected", "offer_id": spare_id},
        {
            "at": raw["connected_at"],
            "kind": "state",
            "from": "overflow_offering",
            "to": "overflow_connected",
        },
    ]
    done = {"type": "operator_hung_up"}
    assert await _post_event(b, num["call_id"], done) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, num["call_id"])
    return raw["state"], raw["outcome"], raw["hung_up_by"]


async def test_fallback_arrivals_and_their_events_compared_whole(
    fallback_arrivals_and_their_events_compared_whole: tuple[str, str, str],
) -> None:
    assert fallback_arrivals_and_their_events_compared_whole == ("ended", "overflowed", "operator")


@pytest.fixture
async def party_events_late_answers_and_their_commands_compared_whole(
    make_backend: Any,
) -> list[Any]:
    b: Backend = await make_backend(PARTIES)
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    session = b.platform.sessions[placed["session_id"]]
    await b.ready_operator("sam", [("sales", 1)])
    b.platform.script("sam", Script(fail_code=486))
    sam = (await _add(b, call_id, alice, {"type": "group", "address": "sales"}))["party_id"]
    await _party_in(b, call_id, sam, "left")
    await b.ready_operator("bob", [("sales", 1)])
    b.platform.script("bob", Script(answer_after_s=0.2, talk_s=None))
    bob = (await _add(b, call_id, alice, {"type": "operator", "address": "bob"}))["party_id"]
    await _party_in(b, call_id, bob, "connected")

    async def command_logged() -> bool:
        return bool((await _raw(b, call_id))["log"][-1]["kind"] == "command")

    # A late answer of a leg already given up on: acknowledged, ignored, and hung up.
    late_party = {"type": "party_connected", "party_id": sam}
    assert await _post_event(b, call_id, late_party) == (200, {"ok": True, "applied": False})
    await eventually(command_logged, message="remove_party logged")
    late_offer = {"type": "operator_connected", "offer_id": "late"}
    assert await _post_event(b, call_id, late_offer) == (200, {"ok": True, "applied": False})
    await eventually(command_logged, message="cancel logged")
    # The caller leaves two operators talking: the call goes on until the last one leaves.
    left = {"type": "caller_hung_up", "parties_stay": True}
    assert await _post_event(b, call_id, left) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, call_id)
    assert (raw["state"], raw["caller_left_at"]) == ("connected", _at(raw["log"][-1]))
    gone = {"type": "party_hung_up", "party_id": bob}
    assert await _post_event(b, call_id, gone) == (200, {"ok": True, "applied": True})
    ended = {"type": "session_ended"}
    assert await _post_event(b, call_id, ended) == (200, {"ok": True, "applied": False})

    def add_party(party_id: str, login: str) -> dict[str, Any]:
        return {
            "command": "add_party",
            "call_id": call_id,
            "party_id": party_id,
            "target": {"type": "user", "address": login},
            "ring_timeout_s": 10,
            "headers": {"X-Call-Id": call_id, "X-Offer-Id": party_id, "X-Party-Id": party_id},
        }

    remove = {"command": "remove_party", "party_id": sam}
    cancel = {"command": "cancel", "offer_id": "late"}
    assert session.commands[1:] == [add_party(sam, "sam"), add_party(bob, "bob"), remove, cancel]
    raw = await _raw(b, call_id)
    assert (raw["state"], raw["end_reason"], raw["hung_up_by"]) == (
        "ended",
        "parties_left",
        "caller",
    )
    assert [(p["login"], p["outcome"], p["code"]) for p in raw["parties"]] == [
        ("alice", "call_ended", None),
        ("sam", "no_answer", 486),
        ("bob", "hung_up", None),
    ]
    log = raw["log"][6:]

    def sent(
        entry: dict[str, Any], command: dict[str, Any], offer_id: str | None
    ) -> dict[str, Any]:
        assert entry["replied_at"] >= entry["at"]
        return {
            "at": _at(entry),
            "kind": "command",
            "command": command,
            "replied_at": entry["replied_at"],
            "status": 200,
            "reply": {"ok": True, "command": command["command"], "offer_id": offer_id},
            "attempts": 1,
        }

    # The failure may come before or after the add_party's reply is handled (10 ms apart).
    by_kind = sorted(log[1:3], key=lambda e: str(e["kind"]))
    assert by_kind == [
        sent(by_kind[0], add_party(sam, "sam"), None),
        {
            "at": _at(by_kind[1]),
            "kind": "event",
            "type": "party_failed",
            "party_id": sam,
            "code": 486,
            "reason": "scripted",
        },
    ]
    assert log[0]["kind"] == log[3]["kind"] == "party_added"
    assert log[4:] == [
        sent(log[4], add_party(bob, "bob"), None),
        {"at": _at(log[5]), "kind": "event", "type": "party_connected", "party_id": bob},
        {"at": _at(log[6]), "kind": "event", **late_party, "ignored": True},
        sent(log[7], remove, None),
        {"at": _at(log[8]), "kind": "event", **late_offer, "ignored": True},
        sent(log[9], cancel, "late"),
        {"at": raw["caller_left_at"], "kind": "event", **left},
        {"at": _at(log[11]), "kind": "event", **gone},
        {"at": raw["ended_at"], "kind": "state", "from": "connected", "to": "ended"},
        {"at": _at(log[13]), "kind": "event", **ended, "ignored": True},
    ]
    return [(p["login"], p["outcome"], p["code"]) for p in raw["parties"]]


async def test_party_events_late_answers_and_their_commands_compared_whole(
    party_events_late_answers_and_their_commands_compared_whole: list[Any],
) -> None:
    assert party_events_late_answers_and_their_commands_compared_whole == [
        ("alice", "call_ended", None),
        ("sam", "no_answer", 486),
        ("bob", "hung_up", None),
    ]


@pytest.fixture
async def undelivered_commands_are_logged_whole_and_settle_the_call(make_backend: Any) -> str:
    b: Backend = await make_backend("[platform]\nattempts = 2\nbackoff_s = 0.01\n")
    await b.ready_operator("ivan")

    def failed(entry: dict[str, Any], command: dict[str, Any], error: str) -> dict[str, Any]:
        assert entry["replied_at"] >= entry["at"]
        return {
            "at": _at(entry),
            "kind": "command",
            "command": command,
            "error": error,
            "replied_at": entry["replied_at"],
        }

    def connect(raw: dict[str, Any]) -> dict[str, Any]:
        offer_id = raw["log"][1]["offer_id"]
        return {
            "command": "connect",
            "call_id": raw["_id"],
            "offer_id": offer_id,
            "target": {"type": "user", "address": "ivan"},
            "video": False,
            "ring_timeout_s": 10,
            "headers": {"X-Call-Id": raw["_id"], "X-Offer-Id": offer_id},
        }

    # The session is gone (404): the call ends at once, the attempt logged with its error.
    b.platform.access_url("gone")
    b.platform.sessions["gone"].gone = True
    gone = await b.place_call(session_id="gone")
    ended = await eventually(lambda: _state(b, gone["call_id"], "ended"))
    raw = await _raw(b, gone["call_id"])
    assert (ended["outcome"], ended["end_reason"]) == ("failed", "session_gone")
    attempt = raw["log"][3]
    assert attempt == failed(attempt, connect(raw), "access URL answered 404")
    assert raw["log"][4] == {
        "at": raw["ended_at"],
        "kind": "state",
        "from": "offering",
        "to": "ended",
    }
    await eventually(lambda: _activity(b, "ivan", "idle"))

    # Unreachable after every attempt: the call ends too, with that reason.
    b.platform.fail_next = 2
    dead = await b.place_call(session_id="dead")
    ended = await eventually(lambda: _state(b, dead["call_id"], "ended"))
    raw = await _raw(b, dead["call_id"])
    assert (ended["outcome"], ended["end_reason"]) == ("failed", "platform_unreachable")
    attempt = raw["log"][3]
    assert attempt == failed(attempt, connect(raw), "2 attempts failed; last: HTTP 503")
    await eventually(lambda: _activity(b, "ivan", "idle"))

    # Any other command that cannot be delivered is only logged: the call goes on.
    b.platform.script("ivan", Script(talk_s=None))
    live = await b.place_call(session_id="live")
    await eventually(lambda: _state(b, live["call_id"], "connected"))
    b.platform.fail_next = 2
    late = {"type": "operator_connected", "offer_id": "late"}
    assert await _post_event(b, live["call_id"], late) == (200, {"ok": True, "applied": False})

    async def logged() -> dict[str, Any] | None:
        raw = await _raw(b, live["call_id"])
        return raw if raw["log"][-1]["kind"] == "command" else None

    raw = await eventually(logged, message="the cancel logged")
    attempt = raw["log"][-1]
    cancel = {"command": "cancel", "offer_id": "late"}
    assert attempt == failed(attempt, cancel, "2 attempts failed; last: HTTP 503")
    assert raw["state"] == "connected"

    # Ivan is busy: a waiting caller asks to be called back instead.
    waiting = await b.place_call(session_id="cb")
    ask = {"type": "callback_requested", "number": "+15557770009"}
    assert await _post_event(b, waiting["call_id"], ask) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, waiting["call_id"])
    assert (raw["state"], raw["task"], raw["callback_number"]) == (
        "queued",
        "callback",
        "+15557770009",
    )
    assert raw["log"][1] == {"at": _at(raw["log"][1]), "kind": "event", **ask}
    resp = await b.client.get(f"/api/v1/calls/{waiting['call_id']}", headers=b.plat)
    status = await resp.json()
    assert {k: status[k] for k in ("state", "task", "callback_number")} == {
        "state": "queued",
        "task": "callback",
        "callback_number": "+15557770009",
    }
    assert status["offer"] is None and "callback" not in status
    # The caller's own session is over: its reports change nothing now.
    bye = {"type": "caller_hung_up"}
    assert await _post_event(b, waiting["call_id"], bye) == (200, {"ok": True, "applied": False})
    return str((await _raw(b, waiting["call_id"]))["state"])


async def test_undelivered_commands_are_logged_whole_and_settle_the_call(
    undelivered_commands_are_logged_whole_and_settle_the_call: str,
) -> None:
    assert undelivered_commands_are_logged_whole_and_settle_the_call == "queued"


async def _activity(b: Backend, login: str, activity: str) -> dict[str, Any] | None:
    op = await b.operator(login)
    return op if op["activity"] == activity else None


@pytest.fixture
async def another_process_dials_a_call_through_its_secure_url(make_backend: Any) -> list[str]:
    a: Backend = await make_backend("[platform]\nattempts = 1\n")
    # A call that ended at A before B started: B knows it only from the database.
    old = await a.place_call(session_id="old")
    left = {"type": "caller_hung_up"}
    assert await _post_event(a, old["call_id"], left) == (200, {"ok": True, "applied": True})
    b: Backend = await make_backend("[platform]\nattempts = 1\n")
    b.platform = a.platform  # the same sessions answer both processes' commands
    assert b.engine.call_doc(old["call_id"]) is None
    late = {"type": "operator_connected", "offer_id": "ghost"}
    assert await _post_event(b, old["call_id"], late) == (200, {"ok": True, "applied": False})

    async def cancelled() -> list[Any] | None:
        return a.platform.sessions["old"].commands or None

    # The late answer is hung up through the URL B read from the stored call.
    sent = await eventually(cancelled, timeout=3, message="the cancel through the stored URL")
    assert sent == [{"command": "cancel", "offer_id": "ghost"}]
    await a.add_operator("vera")
    b.platform.script("vera", Script(answer_after_s=0.2, talk_s=None))
    # The call arrives at A; vera clicks Ready at B, which has never seen the call's URLs.
    arrival = {
        "session_id": "s1",
        "access_url": NOWHERE,
        "access_secure_url": b.platform.access_url("s1"),
        "caller": CALLER,
    }
    resp = await a.client.post("/api/v1/calls", json=arrival, headers=a.plat)
    assert resp.status == 201
    call_id = (await resp.json())["call_id"]
    b.platform.sessions["s1"].call_id = call_id

    async def b_knows() -> bool:
        return b.engine.call_doc(call_id) is not None

    await eventually(b_knows, message="B's view has the call")
    await b.set_status(await b.login("vera"), "ready")
    await eventually(lambda: _state(b, call_id, "connected"))
    return [c["command"] for c in b.platform.sessions["s1"].commands if c["call_id"] == call_id]


async def test_another_process_dials_a_call_through_its_secure_url(
    another_process_dials_a_call_through_its_secure_url: list[str],
) -> None:
    assert another_process_dials_a_call_through_its_secure_url == ["connect"]


@pytest.fixture
async def pin_answers_no_then_yes_by_phone_and_never_asked_again(
    backend: Backend,
) -> list[str | None]:
    b = backend
    caller = "+15557770001"
    b.platform.script("penny", Script(answer_after_s=0.2, talk_s=None))
    await b.ready_operator("penny")
    first = await b.place_call(caller=caller)
    await eventually(lambda: _state(b, first["call_id"], "connected"))
    hangup = {"type": "operator_hung_up"}
    code, reply = await _post_event(b, first["call_id"], hangup)
    assert (code, reply["ask_pin_manager"]["operator"]) == (200, "penny")
    no = {"type": "manager_pin_answer", "answer": "no"}
    assert await _post_event(b, first["call_id"], no) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, first["call_id"])
    assert (raw["pin_answer"], raw["manager"], raw["contact_key"]) == ("no", None, None)
    assert await b.store.contacts.count_documents({}) == 0
    yes = {"type": "manager_pin_answer", "answer": "yes"}
    assert await _post_event(b, first["call_id"], yes) == (200, {"ok": True, "applied": True})
    raw = await _raw(b, first["call_id"])
    assert (raw["pin_answer"], raw["manager"]) == ("yes", "penny")
    [contact] = [c async for c in b.store.contacts.find({})]
    since = contact["manager_since"]
    assert contact == {
        "_id": f"phone:{caller}",
        "manager": "penny",
        "manager_since": since,
        "updated_at": since,
    }
    # Penny's caller again: her call, and no question at the end.
    await eventually(lambda: _activity(b, "penny", "idle"))
    second = await b.place_call(caller=caller)
    raw = await _raw(b, second["call_id"])
    assert (raw["manager"], raw["contact_key"], raw["preferred"]) == (
        "penny",
        f"phone:{caller}",
        "penny",
    )
    await eventually(lambda: _state(b, second["call_id"], "connected"))
    assert await _post_event(b, second["call_id"], hangup) == (200, {"ok": True, "applied": True})
    # A yes nobody was asked for changes nothing.
    assert await _post_event(b, second["call_id"], yes) == (200, {"ok": True, "applied": True})
    assert [c async for c in b.store.contacts.find({})] == [contact]
    # Dave is busy (486) on the next call: a miss for him, the call back in line.
    await b.set_status(await b.login("penny"), "not_ready", "lunch")
    b.platform.script("dave", Script(fail_code=486))
    await b.ready_operator("dave")
    third = await b.place_call(caller="+15550000333")
    missed = await eventually(lambda: _activity(b, "dave", "paused_no_answer"))
    assert (missed["scores"]["misses"], missed["misses_in_row"]) == (1, 1)
    raw = await _raw(b, third["call_id"])
    offer_id = raw["log"][1]["offer_id"]
    failed = next(e for e in raw["log"] if e["kind"] == "event")
    assert failed == {
        "at": _at(failed),
        "kind": "event",
        "type": "operator_failed",
        "offer_id": offer_id,
        "code": 486,
        "reason": "scripted",
    }
    assert (raw["state"], raw["attempts"]) == ("queued", 1)
    return [c["manager"] async for c in b.store.contacts.find({})]


async def test_pin_answers_no_then_yes_by_phone_and_never_asked_again(
    pin_answers_no_then_yes_by_phone_and_never_asked_again: list[str | None],
) -> None:
    assert pin_answers_no_then_yes_by_phone_and_never_asked_again == ["penny"]


@pytest.fixture
async def refusals(make_backend: Any) -> tuple[str, str]:
    """The scenario refuses a leg ({"ok": false}): a helper's leg is taken back without
    anyone's fault, a caller's connect ends the call (it would be refused on every retry)."""
    b: Backend = await make_backend(PARTIES)
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    b.platform.script("rex", Script(refuse=True))
    await b.ready_operator("rex", [("sales", 1)])
    rex = (await _add(b, call_id, alice, {"type": "operator", "address": "rex"}))["party_id"]

    async def rex_left() -> bool:
        parties = (await _raw(b, call_id))["parties"]
        return any(p["party_id"] == rex and p["state"] == "left" for p in parties)

    # At once (the reply said no), not at the ring's end: a short wait is the check.
    await eventually(rex_left, timeout=3, message="the refused leg taken back")
    raw = await _raw(b, call_id)
    headers = {"X-Call-Id": call_id, "X-Offer-Id": rex, "X-Party-Id": rex}
    add = {
        "command": "add_party",
        "call_id": call_id,
        "party_id": rex,
        "target": {"type": "user", "address": "rex"},
        "ring_timeout_s": 10,
        "headers": headers,
    }
    entry = raw["log"][7]
    assert raw["log"][7:] == [
        {
            "at": _at(entry),
            "kind": "command",
            "command": add,
            "replied_at": entry["replied_at"],
            "status": 200,
            "reply": {"ok": False, "command": "add_party", "error": "refused"},
            "attempts": 1,
        }
    ]
    party = raw["parties"][-1]
    assert (party["login"], party["outcome"], party["code"], raw["state"]) == (
        "rex",
        "cancelled",
        None,
        "connected",
    )
    await eventually(lambda: _activity(b, "rex", "idle"))
    other = await b.place_call(session_id="other", custom_data='{"category": "sales"}')
    ended = await eventually(lambda: _state(b, other["call_id"], "ended"))
    raw = await _raw(b, other["call_id"])
    offer_id = raw["log"][1]["offer_id"]
    entry = raw["log"][3]
    assert raw["log"][3:] == [
        {
            "at": _at(entry),
            "kind": "command",
            "command": {
                "command": "connect",
                "call_id": other["call_id"],
                "offer_id": offer_id,
                "target": {"type": "user", "address": "rex"},
                "video": False,
                "ring_timeout_s": 10,
                "headers": {"X-Call-Id": other["call_id"], "X-Offer-Id": offer_id},
            },
            "replied_at": entry["replied_at"],
            "status": 200,
            "reply": {"ok": False, "command": "connect", "error": "refused"},
            "attempts": 1,
        },
        {"at": raw["ended_at"], "kind": "state", "from": "offering", "to": "ended"},
    ]
    rex_now = await eventually(lambda: _activity(b, "rex", "idle"))
    assert rex_now["scores"]["misses"] == 0
    return ended["outcome"], ended["end_reason"]


async def test_refused_legs_are_taken_back_and_a_refused_connect_ends_the_call(
    refusals: tuple[str, str],
) -> None:
    assert refusals == ("failed", "connect_refused")


@pytest.fixture
async def management_api(tmp_path: Path) -> AsyncIterator[tuple[FakeManagementApi, Path]]:
    keys = make_credentials(tmp_path)
    api = FakeManagementApi(keys.public_key_pem)
    await api.start()
    yield api, keys.path
    await api.close()


@pytest.fixture
async def callback_session(
    make_backend: Any, management_api: tuple[FakeManagementApi, Path]
) -> list[Any]:
    """A queued callback: offered to the waiting caller, asked for, started for the operator
    through StartScenarios; from then on the callback's session speaks for the call."""
    api, credentials = management_api
    b: Backend = await make_backend(
        'rules = []\n\n[[groups]]\nname = "default"\n\n'
        f'[voximplant]\napi_url = "{api.url}"\napplication = "switchboard"\n'
        'account = "acc"\nnode = "NODE_1"\nattempts = 1\nbackoff_s = 0\n\n'
        '[callback]\nenabled = true\nrule_name = "callback"\n',
        voximplant_credentials=str(credentials),
    )
    callback_url = b.platform.access_url("callback")

    async def start(form: dict[str, str]) -> dict[str, Any]:
        return {"result": 1, "media_session_access_url": callback_url}

    api.on_start_scenarios = start
    placed = await b.place_call(session_id="caller")
    call_id = placed["call_id"]
    offer_text = "To be called back instead of waiting, press star."
    assert placed == {
        "call_id": call_id,
        "state": "queued",
        "group": "default",
        "media": "voice",
        "outcome": None,
        "position": 1,
        "callback": {"key": "*", "say": offer_text},
        "say": b.engine.settings.config.messages.no_agents,
        "session_id": "caller",
    }
    ask = {"type": "callback_requested", "number": "+15557770001"}
    assert await _post_event(b, call_id, ask) == (200, {"ok": True, "applied": True})
    auth = await b.ready_operator("cleo")

    async def started() -> dict[str, Any] | None:
        raw = await _raw(b, call_id)
        return raw if raw.get("callback_access_url") else None

    raw = await eventually(started, message="the callback session started")
    offer_id = raw["offer"]["offer_id"]
    assert raw["callback_access_url"] == callback_url
    # What the callback's session reads: whom to bridge, and no callback offered again.
    resp = await b.client.get(f"/api/v1/calls/{call_id}", headers=b.plat)
    status = await resp.json()
    assert {
        k: status.get(k) for k in ("state", "task", "callback_number", "offer", "callback")
    } == {
        "state": "offering",
        "task": "callback",
        "callback_number": "+15557770001",
        "offer": {
            "offer_id": offer_id,
            "operator": "cleo",
            "target": {"type": "user", "address": "cleo"},
        },
        "callback": None,
    }
    # The caller's first session is over; only the callback session's live offer counts.
    replies = [
        await _post_event(b, call_id, event)
        for event in (
            {"type": "caller_hung_up"},
            {"type": "operator_connected", "offer_id": "other"},
            {"type": "operator_connected", "offer_id": offer_id},
        )
    ]
    assert [r[1]["applied"] for r in replies] == [False, False, True]
    # The answer of a dead offer is hung up in the session that placed it: the callback's.
    resp = await b.client.post(f"/api/v1/calls/{call_id}/hangup", headers=auth)
    assert resp.status == 200

    async def hung_up() -> list[Any] | None:
        sent = b.platform.sessions["callback"].commands
        return sent if len(sent) >= 2 else None

    sent = await eventually(hung_up, message="the commands in the callback's session")
    assert b.platform.sessions["caller"].commands == []
    return sorted(sent, key=lambda c: str(c["command"]))


async def test_a_callback_session_speaks_for_its_call(callback_session: list[Any]) -> None:
    assert callback_session == [
        {"command": "cancel", "offer_id": "other"},
        {"command": "hangup", "reason": "operator_hangup"},
    ]
