"""'Your manager': a caller's own operator first, a fallback when away, pinning a new one."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

FAST = "[manager]\nwait_s = 2\n"
CALLER = "+15551230001"


async def _state(b: Backend, call_id: str, state: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] == state else None


async def _set_manager(b: Backend, phone: str, login: str | None) -> None:
    resp = await b.client.put(
        f"/api/v1/contacts/{phone}/manager", json={"manager": login}, headers=b.admin
    )
    assert resp.status == 200, await resp.text()


async def test_ready_manager_gets_their_caller_first(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("idle_longest")
    await b.ready_operator("manny")
    await _set_manager(b, CALLER, "manny")
    placed = await b.place_call(caller=CALLER)
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    assert call["operator"] == "manny" and call["manager"] == "manny"


async def test_busy_manager_is_waited_for_then_takes_the_call(make_backend: Any) -> None:
    b: Backend = await make_backend("[manager]\nwait_s = 30\n")
    b.platform.script("manny", Script(talk_s=None))
    b.platform.script("other", Script(talk_s=None))
    await b.ready_operator("manny")
    first = await b.place_call(caller="+15550009999")  # keeps manny busy
    await eventually(lambda: _state(b, first["call_id"], "connected"))
    await b.ready_operator("other")
    await _set_manager(b, CALLER, "manny")
    placed = await b.place_call(caller=CALLER)
    waiting = await b.call(placed["call_id"])
    assert waiting["state"] == "queued" and waiting["waits_for"] == "manny"
    assert (await b.operator("other"))["activity"] == "idle"  # other may not take it
    await b.client.post(
        f"/api/v1/calls/{first['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    assert call["operator"] == "manny"


async def test_busy_manager_past_the_limit_the_group_takes_it(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("manny")
    first = await b.place_call(caller="+15550009999")
    await eventually(lambda: _state(b, first["call_id"], "connected"))
    await b.ready_operator("other")
    await _set_manager(b, CALLER, "manny")
    placed = await b.place_call(caller=CALLER)
    assert (await b.call(placed["call_id"]))["state"] == "queued"
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"), timeout=6)
    assert call["operator"] == "other"
    waited = next(e for e in call["log"] if e["kind"] == "offer")
    assert waited["operator"] == "other"


async def test_absent_manager_explained_and_group_takes_it_at_once(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("manny")
    await b.ready_operator("other")
    resp = await b.client.put(
        "/api/v1/operators/manny/absence",
        json={"reason": "vacation", "until": "2099-12-31"},
        headers=b.admin,
    )
    assert resp.status == 200, await resp.text()
    await _set_manager(b, CALLER, "manny")
    placed = await b.place_call(caller=CALLER)
    assert "Manny" in placed["say"] and "December 31" in placed["say"]
    assert placed["state"] == "offering"
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    assert call["operator"] == "other"


async def test_manager_going_away_releases_the_waiting_caller(make_backend: Any) -> None:
    b: Backend = await make_backend("[manager]\nwait_s = 60\n")
    b.platform.default_script = Script(talk_s=None)
    manny = await b.ready_operator("manny")
    first = await b.place_call(caller="+15550009999")
    await eventually(lambda: _state(b, first["call_id"], "connected"))
    await b.ready_operator("other")
    await _set_manager(b, CALLER, "manny")
    placed = await b.place_call(caller=CALLER)
    assert (await b.call(placed["call_id"]))["waits_for"] == "manny"
    await b.set_status(manny, "not_ready", "lunch")
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    assert call["operator"] == "other"


async def test_callers_waiting_by_name_come_before_older_group_calls(make_backend: Any) -> None:
    b: Backend = await make_backend("[manager]\nwait_s = 60\n")
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("manny")
    first = await b.place_call(caller="+15550009999")
    await eventually(lambda: _state(b, first["call_id"], "connected"))
    older = await b.place_call(caller="+15550008888")  # a plain group call, waiting longer
    await _set_manager(b, CALLER, "manny")
    mine = await b.place_call(caller=CALLER)
    await b.client.post(
        f"/api/v1/calls/{first['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    await eventually(lambda: _state(b, mine["call_id"], "connected"))
    assert (await b.call(older["call_id"]))["state"] == "queued"


async def _pin_flow(b: Backend, answer: str) -> dict[str, Any]:
    b.platform.script("penny", Script(talk_s=None))
    await b.ready_operator("penny")
    placed = await b.place_call(caller=CALLER)
    await eventually(lambda: _state(b, placed["call_id"], "connected"))
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    reply = await resp.json()
    ask = reply["ask_pin_manager"]
    assert ask["operator"] == "penny" and "Penny" in ask["text"] and ask["timeout_s"] > 0
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "manager_pin_answer", "answer": answer},
        headers=b.plat,
    )
    assert resp.status == 200
    return dict(await b.store.contacts.find_one({"_id": f"phone:{CALLER}"}) or {})


async def test_caller_says_yes_and_the_operator_becomes_their_manager(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    contact = await _pin_flow(b, "yes")
    assert contact["manager"] == "penny"
    # The next call from the same number goes to penny first.
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("other")
    await eventually(lambda: _wrapped_up(b, "penny"))
    placed = await b.place_call(caller=CALLER)
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    assert call["operator"] == "penny"
    # A caller with a manager is not asked again.
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    assert "ask_pin_manager" not in await resp.json()


async def _wrapped_up(b: Backend, login: str) -> bool:
    activity: str = (await b.operator(login))["activity"]
    return activity == "idle"


async def test_caller_says_no_and_nothing_changes(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    contact = await _pin_flow(b, "no")
    assert contact.get("manager") is None


async def test_dismissing_an_operator_releases_their_contacts(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    b.platform.default_script = Script(talk_s=None)
    await b.ready_operator("manny")
    await b.ready_operator("other")
    await _set_manager(b, CALLER, "manny")
    resp = await b.client.put(
        "/api/v1/operators/manny/absence", json={"reason": "dismissed"}, headers=b.admin
    )
    assert resp.status == 200
    contact = await b.store.contacts.find_one({"_id": f"phone:{CALLER}"})
    assert contact is not None and contact["manager"] is None
    placed = await b.place_call(caller=CALLER)
    assert "say" not in placed or "Manny" not in placed.get("say", "")
    call = await eventually(lambda: _state(b, placed["call_id"], "connected"))
    # Dismissed means Not ready: only the other operator can take it.
    assert call["operator"] == "other"


async def test_manager_admin_input_is_checked(backend: Backend) -> None:
    resp = await backend.client.put(
        f"/api/v1/contacts/{CALLER}/manager", json={"manager": "ghost"}, headers=backend.admin
    )
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "manager"
    resp = await backend.client.put(
        "/api/v1/operators/ghost/absence", json={"reason": "vacation"}, headers=backend.admin
    )
    assert resp.status == 404
    await backend.add_operator("olly")
    resp = await backend.client.put(
        "/api/v1/operators/olly/absence", json={"reason": "holiday"}, headers=backend.admin
    )
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "reason"
    resp = await backend.client.put(
        f"/api/v1/contacts/{CALLER}/manager", json={"manager": "olly"}, headers=backend.plat
    )
    assert resp.status == 401
    assert await backend.store.contacts.count_documents({}) == 0


async def test_the_desk_makes_the_operator_on_the_call_the_manager(make_backend: Any) -> None:
    b: Backend = await make_backend(FAST)
    b.platform.script("dina", Script(talk_s=None))
    auth = await b.ready_operator("dina")
    await b.add_operator("eve")
    placed = await b.place_call(caller=CALLER)
    await eventually(lambda: _state(b, placed["call_id"], "connected"))
    url = f"/api/v1/calls/{placed['call_id']}/manager"
    # An operator may name only themselves.
    resp = await b.client.put(url, json={"manager": "eve"}, headers=auth)
    assert resp.status == 403 and (await resp.json())["error"]["field"] == "manager"
    resp = await b.client.put(url, json={"manager": "me"}, headers=auth)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["manager"] == "dina"
    contact = await b.store.contacts.find_one({"_id": f"phone:{CALLER}"})
    assert contact is not None and contact["manager"] == "dina"
    # Not someone else's call.
    other = await b.login("eve")
    resp = await b.client.put(url, json={"manager": "me"}, headers=other)
    assert resp.status == 403
    # And a caller with a manager is not asked the pin question.
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    assert "ask_pin_manager" not in await resp.json()
