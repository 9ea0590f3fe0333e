"""A call's life against a real database and a real local platform peer."""

from __future__ import annotations

import functools
import json
from typing import Any

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually


async def _call_state(b: Backend, call_id: str, state: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] == state else None


async def _activity(b: Backend, login: str, activity: str) -> dict[str, Any] | None:
    op = await b.operator(login)
    return op if op["activity"] == activity else None


async def test_call_reaches_ready_operator_and_ends_answered(backend: Backend) -> None:
    await backend.ready_operator("alice")
    backend.platform.script("alice", Script(answer_after_s=0.01, talk_s=0.1))
    placed = await backend.place_call()
    assert placed["state"] == "offering"
    call_id = placed["call_id"]
    ended = await eventually(lambda: _call_state(backend, call_id, "ended"), message="call end")
    assert ended["outcome"] == "answered"
    assert ended["hung_up_by"] == "operator"
    assert ended["operator"] == "alice"
    session = backend.platform.sessions[placed["session_id"]]
    connect = session.commands[0]
    assert connect["command"] == "connect"
    assert connect["target"] == {"type": "user", "address": "alice"}
    assert connect["headers"]["X-Call-Id"] == call_id
    assert connect["video"] is False
    assert connect["ring_timeout_s"] == 10
    # The command and its reply are recorded on the call.
    logged = [e for e in ended["log"] if e["kind"] == "command"]
    assert logged[0]["reply"]["ok"] is True
    op = await eventually(lambda: _activity(backend, "alice", "idle"), message="alice idle")
    assert op["scores"]["answers"] == 1 and op["scores"]["offers"] == 1


async def test_call_waits_with_position_until_an_operator_is_ready(backend: Backend) -> None:
    await backend.add_operator("bob")
    first = await backend.place_call()
    second = await backend.place_call()
    assert first["state"] == "queued" and first["position"] == 1
    # Nobody of the group is Ready: a position, but no wait estimate the queue cannot keep.
    assert second["position"] == 2 and "estimated_wait_s" not in second
    assert "say" in first
    status = await backend.client.get(f"/api/v1/calls/{second['call_id']}", headers=backend.plat)
    assert (await status.json())["position"] == 2
    backend.platform.script("bob", Script(talk_s=None))
    auth = await backend.login("bob")
    await backend.set_status(auth, "ready")
    # Bob takes the longest-waiting call first.
    await eventually(lambda: _call_state(backend, first["call_id"], "connected"))
    again = await backend.call(second["call_id"])
    assert again["state"] == "queued" and again["position"] == 1
    # Bob is Ready (in a call): now the queue can promise an estimate.
    assert again["estimated_wait_s"] > 0


async def test_priority_beats_waiting_time(backend: Backend) -> None:
    await backend.add_operator("carol", [("default", 1), ("sales", 1)])
    plain = await backend.place_call()
    sales = await backend.place_call(custom_data='{"category": "sales"}')
    sales_call = await backend.call(sales["call_id"])
    assert sales_call["group"] == "sales" and sales_call["priority"] == 60
    backend.platform.script("carol", Script(talk_s=None))
    await backend.set_status(await backend.login("carol"), "ready")
    await eventually(lambda: _call_state(backend, sales["call_id"], "connected"))
    assert (await backend.call(plain["call_id"]))["state"] == "queued"


async def test_no_answer_goes_to_next_operator_and_pauses_the_first(backend: Backend) -> None:
    backend.platform.script("dave", Script(fail_code=486))
    backend.platform.script("erin", Script(talk_s=None))
    await backend.ready_operator("dave")
    placed = await backend.place_call()
    await backend.ready_operator("erin")
    call = await eventually(lambda: _call_state(backend, placed["call_id"], "connected"))
    assert call["operator"] == "erin"
    assert call["attempts"] == 2
    dave = await backend.operator("dave")
    assert dave["scores"]["misses"] == 1
    # Dave was paused for the miss (the pause may already be over when we look).
    await backend.engine.drain()
    paused = await backend.store.status_log.count_documents(
        {"operator": "dave", "field": "activity", "value": "paused_no_answer"}
    )
    assert dave["activity"] == "paused_no_answer" or paused == 1
    # The call kept its place: enqueued_at is the original one.
    assert call["enqueued_at"] == call["created_at"]


async def test_misses_in_a_row_ban_with_doubling(backend: Backend) -> None:
    backend.platform.script("fred", Script(fail_code=603))
    await backend.ready_operator("fred")

    async def misses(n: int) -> dict[str, Any] | None:
        op = await backend.operator("fred")
        return op if op["scores"]["misses"] >= n else None

    for i in range(3):
        placed = await backend.place_call()
        # Each miss pauses fred for no_answer_delay_s (1 s); then he is offered the next call.
        await eventually(functools.partial(misses, i + 1), message=f"miss {i + 1}")
        await backend.platform.hang_up_caller(placed["session_id"])
    banned = await backend.operator("fred")
    assert banned["activity"] == "banned"
    assert banned["ban_level"] == 1 and banned["misses_in_row"] == 0
    first_ban_s = _seconds(banned["activity_since"], banned["activity_until"])
    assert abs(first_ban_s - 3.0) < 0.1  # ban_minutes = 0.05
    # The ban ends by timer; the next three misses ban again for twice as long.
    await eventually(lambda: _activity(backend, "fred", "idle"), timeout=10)
    for i in range(3, 6):
        placed = await backend.place_call()
        await eventually(functools.partial(misses, i + 1), message=f"miss {i + 1}")
        await backend.platform.hang_up_caller(placed["session_id"])
    second = await backend.operator("fred")
    assert second["activity"] == "banned" and second["ban_level"] == 2
    assert abs(_seconds(second["activity_since"], second["activity_until"]) - 6.0) < 0.1


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


async def test_caller_hangs_up_while_queued_is_abandoned(backend: Backend) -> None:
    placed = await backend.place_call()
    await backend.platform.hang_up_caller(placed["session_id"])
    ended = await eventually(lambda: _call_state(backend, placed["call_id"], "ended"))
    assert ended["outcome"] == "abandoned" and ended["hung_up_by"] == "caller"


async def test_repeated_session_id_returns_the_same_call(backend: Backend) -> None:
    first = await backend.place_call(session_id="same-session")
    body = {
        "session_id": "same-session",
        "access_url": backend.platform.access_url("same-session"),
        "caller": "+15550000001",
    }
    resp = await backend.client.post("/api/v1/calls", json=body, headers=backend.plat)
    assert resp.status == 200
    assert (await resp.json())["call_id"] == first["call_id"]
    assert await backend.store.calls.count_documents({}) == 1


async def test_stale_and_duplicate_events_are_acknowledged_and_ignored(backend: Backend) -> None:
    backend.platform.script("gina", Script(talk_s=None))
    await backend.ready_operator("gina")
    placed = await backend.place_call()
    call = await eventually(lambda: _call_state(backend, placed["call_id"], "connected"))
    url = f"/api/v1/calls/{placed['call_id']}/events"
    stale = {"type": "operator_failed", "offer_id": "not-the-offer", "code": 486}
    resp = await backend.client.post(url, json=stale, headers=backend.plat)
    assert resp.status == 200 and (await resp.json()) == {"ok": True, "applied": False}
    dup = {"type": "operator_connected", "offer_id": call["offer"]["offer_id"]}
    resp = await backend.client.post(url, json=dup, headers=backend.plat)
    assert (await resp.json())["applied"] is False
    assert (await backend.call(placed["call_id"]))["state"] == "connected"


WRAP_CONFIG = """
[[groups]]
name = "default"

[[groups]]
name = "care"
wrap_up_s = 1

[[rules]]
group = "care"
headers = { "X-Queue" = "care" }
"""


async def test_wrap_up_then_idle_by_itself(make_backend: Any) -> None:
    b: Backend = await make_backend(WRAP_CONFIG)
    await b.ready_operator("hank", [("care", 1)])
    b.platform.script("hank", Script(talk_s=0.05))
    placed = await b.place_call(headers={"X-Queue": "care"})
    assert (await b.call(placed["call_id"]))["group"] == "care"
    wrap = await eventually(lambda: _activity(b, "hank", "wrap_up"))
    assert abs(_seconds(wrap["activity_since"], wrap["activity_until"]) - 1.0) < 0.05
    await eventually(lambda: _activity(b, "hank", "idle"), timeout=5)


async def test_session_gone_ends_the_call_and_frees_the_operator(backend: Backend) -> None:
    await backend.ready_operator("ivan")
    sid = "gone-session"
    url = backend.platform.access_url(sid)
    backend.platform.sessions[sid].gone = True
    resp = await backend.client.post(
        "/api/v1/calls",
        json={"session_id": sid, "access_url": url, "caller": "+1555"},
        headers=backend.plat,
    )
    call_id = (await resp.json())["call_id"]
    ended = await eventually(lambda: _call_state(backend, call_id, "ended"))
    assert ended["outcome"] == "failed" and ended["end_reason"] == "session_gone"
    ivan = await eventually(lambda: _activity(backend, "ivan", "idle"))
    assert ivan["scores"]["misses"] == 0


async def test_status_history_records_every_change(backend: Backend) -> None:
    auth = await backend.ready_operator("judy")
    await backend.set_status(auth, "not_ready", "lunch")
    await backend.set_status(auth, "ready")
    resp = await backend.client.get("/api/v1/me/status_history", headers=auth)
    data = await resp.json()
    values = [(i["field"], i["value"], i["reason"]) for i in data["intervals"]]
    assert ("presence", "offline", None) in values
    assert ("presence", "ready", None) in values
    assert ("presence", "not_ready", "lunch") in values
    assert set(data["totals_s"]["presence"]) == {"offline", "ready", "not_ready"}


async def test_connect_is_retried_with_back_off_on_5xx(backend: Backend) -> None:
    backend.platform.script("kate", Script(talk_s=None))
    await backend.ready_operator("kate")
    backend.platform.fail_next = 2  # two 503s, then the scenario answers
    placed = await backend.place_call()
    call = await eventually(lambda: _call_state(backend, placed["call_id"], "connected"))
    sent = next(e for e in call["log"] if e["kind"] == "command")
    assert sent["attempts"] == 3 and sent["reply"]["ok"] is True
    assert call["offer"]["sent_at"] is not None


async def test_connect_undeliverable_after_every_retry_ends_the_call(backend: Backend) -> None:
    await backend.ready_operator("liam")
    backend.platform.fail_next = 10**6  # the access URL answers 503 for ever
    placed = await backend.place_call()
    ended = await eventually(lambda: _call_state(backend, placed["call_id"], "ended"))
    assert ended["outcome"] == "failed" and ended["end_reason"] == "platform_unreachable"
    liam = await eventually(lambda: _activity(backend, "liam", "idle"))
    assert liam["scores"]["misses"] == 0


async def test_dispatch_is_event_driven_not_left_to_the_sweep(make_backend: Any) -> None:
    """With the sweep an hour away, each side's own event must make the match at once."""
    b: Backend = await make_backend("[routing]\nsweep_interval_s = 3600\n")
    b.platform.default_script = Script(talk_s=None)
    waiting = await b.place_call()
    assert waiting["state"] == "queued"
    await b.add_operator("nina")
    ready = await b.set_status(await b.login("nina"), "ready")
    # The operator who became Ready took the waiting call in the same request.
    assert ready["activity"] == "offered" and ready["call_id"] == waiting["call_id"]
    await b.ready_operator("omar")
    arriving = await b.place_call()
    # And a call that arrives while someone is Ready is offered in the same request.
    assert arriving["state"] == "offering"


async def test_a_group_an_admin_adds_routes_its_waiting_call_within_the_request(
    backend: Backend,
) -> None:
    """The admin's PUT puts the new groups into this process's view before it dispatches the
    operator: the reply already shows the offer (it said `idle`, and the call waited for the
    rebalance that the change stream brings a moment later)."""
    b = backend
    b.platform.script("ivy", Script(answer_after_s=60.0, talk_s=1.0))  # rings while we look
    await b.ready_operator("ivy", [("sales", 1)])
    placed = await b.place_call(custom_data=json.dumps({"category": "support"}))
    assert (placed["state"], placed["group"]) == ("queued", "support")
    body = {
        "name": "Ivy",
        "email": "",
        "role": "operator",
        "address": {"type": "user", "address": "ivy"},
        "groups": [{"name": "sales", "level": 1}, {"name": "support", "level": 1}],
    }
    resp = await b.client.put("/api/v1/operators/ivy", json=body, headers=b.admin)
    assert resp.status == 200, await resp.text()
    reply = await resp.json()
    assert (reply["activity"], reply["call_id"]) == ("offered", placed["call_id"])
    assert reply["groups"] == body["groups"]
    call = await b.store.calls.find_one({"_id": placed["call_id"]})
    assert call is not None and call["state"] == "offering" and call["offer"]["operator"] == "ivy"
