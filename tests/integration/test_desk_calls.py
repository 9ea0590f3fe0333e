"""The desk's call endpoints: card, notes, disposition, personal data, hang-up, finish wrap-up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call, operator_in, wrapped_up_call
from tests.support.fake_platform import Script
from tests.support.waiting import eventually


@pytest.fixture
async def desk(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    return await make_backend(DESK_CONFIG)


def _anonymous(b: Backend) -> Backend:
    """Logging in leaves the session cookie in the test client: forget it."""
    b.client.session.cookie_jar.clear()
    return b


def _error(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["error"])


async def test_card_shows_context_manager_personal_data_and_history(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    await desk.add_operator("bob")
    await desk.store.db["contacts"].insert_one(
        {"_id": "phone:+15550001111", "manager": "bob", "personal": {"name": "Ann"}}
    )
    context = '{"customer_id": "C-7", "page": "https://example.com/help", "category": "billing",'
    context += ' "kiosk": "Mall 3"}'
    first = await wrapped_up_call(desk, "alice", auth, caller="+15550001111", custom_data=context)
    base = f"/api/v1/calls/{first}"
    assert (
        await desk.client.post(f"{base}/notes", json={"text": "wants a refund"}, headers=auth)
    ).status == 201
    resp = await desk.client.put(f"{base}/disposition", json={"code": "resolved"}, headers=auth)
    assert resp.status == 200
    assert (await desk.client.post("/api/v1/me/wrap_up/finish", headers=auth)).status == 200
    await operator_in(desk, "alice", "idle")

    # The same customer calls again from another number, on video.
    second = await connected_call(
        desk, "alice", caller="+15550002222", media="video", custom_data='{"customer_id": "C-7"}'
    )
    resp = await desk.client.get(f"/api/v1/calls/{second['call_id']}/card", headers=auth)
    assert resp.status == 200
    card = await resp.json()
    assert card["call"]["media"] == "video" and card["call"]["caller"] == "+15550002222"
    stored = await desk.call(second["call_id"])
    waited = datetime.fromisoformat(stored["connected_at"]) - datetime.fromisoformat(
        stored["enqueued_at"]
    )
    assert card["call"]["waited_s"] == round(waited.total_seconds(), 1)
    assert card["contact"]["customer_id"] == "C-7"
    assert card["require_disposition"] is True
    assert card["crm"]["status"] == "not_configured"
    [earlier] = card["history"]
    assert earlier["call_id"] == first and earlier["disposition"] == "resolved"
    assert [n["text"] for n in earlier["notes"]] == ["wants a refund"]

    # The first number's own card names its manager and the stored personal data.
    resp = await desk.client.get(f"{base}/card", headers=auth)
    first_card = await resp.json()
    assert first_card["contact"]["manager"] == {"login": "bob", "name": "Bob"}
    assert first_card["contact"]["personal"] == {"name": "Ann", "email": ""}
    assert first_card["call"]["context"]["kiosk"] == "Mall 3"


async def test_card_access(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    placed = await connected_call(desk, "alice")
    url = f"/api/v1/calls/{placed['call_id']}/card"
    assert (await _anonymous(desk).client.get(url)).status == 401
    other = await desk.login((await desk.add_operator("carl"))["login"])
    resp = await desk.client.get(url, headers=other)
    assert resp.status == 403 and _error(await resp.json())["field"] == "call_id"
    resp = await desk.client.get("/api/v1/calls/nope/card", headers=auth)
    assert resp.status == 404
    # docs/desk.md: supervisors and administrators may read any card, the ADMIN_TOKEN too.
    resp = await desk.client.get(url, headers=desk.admin)
    assert resp.status == 200 and (await resp.json())["call"]["call_id"] == placed["call_id"]
    for role in ("supervisor", "admin"):
        boss = await desk.login((await desk.add_operator(f"boss-{role}", role=role))["login"])
        assert (await desk.client.get(url, headers=boss)).status == 200
    await desk.add_operator("sue", role="supervisor")
    assert (await desk.client.get(url, headers=await desk.login("sue"))).status == 200


async def test_notes_validate_and_write_nothing_on_rejection(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    placed = await connected_call(desk, "alice")
    url = f"/api/v1/calls/{placed['call_id']}/notes"
    for body, field in (
        ({"text": "  "}, "text"),
        ({"text": "x", "extra": 1}, "extra"),
        ({}, "text"),
    ):
        resp = await desk.client.post(url, json=body, headers=auth)
        assert resp.status == 422 and _error(await resp.json())["field"] == field
    as_json = {**auth, "Content-Type": "application/json"}
    resp = await desk.client.post(url, data="{not json", headers=as_json)
    assert resp.status == 400
    resp = await desk.client.post(url, data='{"text": "plain"}', headers=auth)
    assert resp.status == 415  # text/plain: a page elsewhere could send it without a preflight
    assert (await _anonymous(desk).client.post(url, json={"text": "hello"})).status == 401
    doc = await desk.store.call_doc(placed["call_id"])
    assert doc is not None and "desk" not in doc
    resp = await desk.client.post(url, json={"text": "hello"}, headers=auth)
    assert resp.status == 201 and (await resp.json())["operator"] == "alice"


async def test_disposition_and_personal_data_validation(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    placed = await connected_call(desk, "alice", caller="+15550003333")
    base = f"/api/v1/calls/{placed['call_id']}"
    resp = await desk.client.put(f"{base}/disposition", json={"code": "lost"}, headers=auth)
    assert resp.status == 422 and _error(await resp.json())["field"] == "code"
    bad = {"fields": {"name": "Ann", "age": "40"}}
    resp = await desk.client.put(f"{base}/personal", json=bad, headers=auth)
    assert resp.status == 422 and _error(await resp.json())["field"] == "fields.age"
    assert await desk.store.db["contacts"].count_documents({}) == 0
    resp = await desk.client.put(f"{base}/personal", json={"fields": {"name": 5}}, headers=auth)
    assert resp.status == 422 and _error(await resp.json())["field"].startswith("fields")
    resp = await desk.client.put(
        f"{base}/personal", json={"fields": {"email": "a@b.c"}}, headers=auth
    )
    assert resp.status == 200
    assert (await resp.json())["personal"] == {"name": "", "email": "a@b.c"}
    contact = await desk.store.db["contacts"].find_one({"_id": "phone:+15550003333"})
    assert contact is not None and contact["personal"] == {"email": "a@b.c"}


async def test_hangup_sends_the_command_and_starts_wrap_up(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    placed = await connected_call(desk, "alice")
    url = f"/api/v1/calls/{placed['call_id']}/hangup"
    resp = await desk.client.post(url, json={"reason": "x" * 65}, headers=auth)
    assert resp.status == 422 and _error(await resp.json())["field"] == "reason"
    resp = await desk.client.post(url, headers=auth)
    assert resp.status == 200
    call = await desk.call(placed["call_id"])
    assert call["state"] == "ended" and call["hung_up_by"] == "operator"
    await desk.engine.drain()
    commands = [c["command"] for c in desk.platform.sessions[placed["session_id"]].commands]
    assert commands[-1] == "hangup"
    await operator_in(desk, "alice", "wrap_up")
    resp = await desk.client.post(url, headers=auth)
    assert resp.status == 409 and _error(await resp.json())["code"] == "not_connected"


async def test_finish_wrap_up_requires_the_disposition(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    resp = await desk.client.post("/api/v1/me/wrap_up/finish", headers=auth)
    assert resp.status == 409 and _error(await resp.json())["code"] == "not_in_wrap_up"
    call_id = await wrapped_up_call(desk, "alice", auth)
    resp = await desk.client.post("/api/v1/me/wrap_up/finish", headers=auth)
    assert resp.status == 409
    assert _error(await resp.json()) | {"message": ""} == {
        "code": "disposition_required",
        "field": "disposition",
        "message": "",
    }
    assert (await desk.operator("alice"))["activity"] == "wrap_up"
    await desk.client.put(
        f"/api/v1/calls/{call_id}/disposition", json={"code": "callback_needed"}, headers=auth
    )
    assert (await desk.client.post("/api/v1/me/wrap_up/finish", headers=auth)).status == 200
    assert (await desk.operator("alice"))["activity"] == "idle"
    assert (await _anonymous(desk).client.post("/api/v1/me/wrap_up/finish")).status == 401


async def test_card_opens_between_the_two_writes_of_a_claim(make_backend: Any) -> None:
    """The push of an offer can reach the desk after the operator is reserved and before the
    call records the offer: the card must still open for that operator, and only for them."""
    b = await make_backend(DESK_CONFIG)
    auth = await b.ready_operator("ivy")
    other = await b.ready_operator("jon")
    await b.set_status(auth, "not_ready", "break")
    await b.set_status(other, "not_ready", "break")
    placed = await b.place_call()
    await b.store.operators.update_one(
        {"_id": "ivy"},
        {"$set": {"activity": "offered", "call_id": placed["call_id"]}, "$inc": {"rev": 1}},
    )
    resp = await b.client.get(f"/api/v1/calls/{placed['call_id']}/card", headers=auth)
    assert resp.status == 200, await resp.text()
    resp = await b.client.get(f"/api/v1/calls/{placed['call_id']}/card", headers=other)
    assert resp.status == 403


async def test_wrap_up_timer_records_the_timeout_disposition(
    make_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The timer frees the operator even when a code is required; the call is then recorded
    with the configured timeout code, and a code the operator chose is never overwritten."""
    config = DESK_CONFIG.replace("wrap_up_s = 120", "wrap_up_s = 1")
    b = await make_backend(config)
    auth = await b.ready_operator("alice")
    silent = (await connected_call(b, "alice"))["call_id"]
    caplog.set_level(logging.INFO, logger="backend.services.desk")
    resp = await b.client.post(f"/api/v1/calls/{silent}/hangup", headers=auth)
    assert resp.status == 200
    await operator_in(b, "alice", "idle")
    desk = (await b.store.calls.find_one({"_id": silent}))["desk"]
    assert isinstance(desk.pop("disposition_at"), datetime)
    assert desk == {"disposition": "wrap_up_expired", "disposition_by": "timer"}
    said = [r.getMessage() for r in caplog.records if r.name == "backend.services.desk"]
    assert said == [f"call {silent}: alice's wrap-up ran out without a code: wrap_up_expired"]

    # A code chosen during the call (so the one-second wrap-up cannot beat the test to it).
    chosen = (await connected_call(b, "alice"))["call_id"]
    url = f"/api/v1/calls/{chosen}"
    resp = await b.client.put(f"{url}/disposition", json={"code": "resolved"}, headers=auth)
    assert resp.status == 200
    assert (await b.client.post(f"{url}/hangup", headers=auth)).status == 200
    await operator_in(b, "alice", "idle")
    desk = (await b.store.calls.find_one({"_id": chosen}))["desk"]
    assert desk["disposition"] == "resolved" and desk["disposition_by"] == "alice"


async def test_caller_hanging_up_while_it_rings_is_no_miss_and_no_not_answered(
    desk: Backend,
) -> None:
    """The caller leaves while the operator's phone rings: abandoned while ringing, recorded as
    such; the operator gets no miss, today's "not answered" stays 0, and the desk still gets
    the ended call (so its card can say the caller hung up)."""
    auth = await desk.ready_operator("alice")
    desk.platform.script("alice", Script(answer_after_s=None))
    placed = await desk.place_call()
    session = desk.platform.sessions[placed["session_id"]]

    async def ringing() -> str | None:
        return session.ringing

    offer_id = await eventually(ringing, message="alice's leg ringing")
    resp = await desk.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "caller_hung_up", "offer_id": offer_id},
        headers=desk.plat,
    )
    assert resp.status == 200
    call = await desk.call(placed["call_id"])
    assert (call["state"], call["outcome"], call["hung_up_by"]) == ("ended", "abandoned", "caller")
    assert call["end_reason"] == "abandoned_while_ringing"
    assert call["offer"]["operator"] == "alice"  # whom it was ringing: their desk hears of it
    op = await operator_in(desk, "alice", "idle")
    assert op["misses_in_row"] == 0 and op["scores"]["misses"] == 0
    await desk.engine.drain()  # the status history is written in batches
    resp = await desk.client.get("/api/v1/me/today", headers=auth)
    t = await resp.json()
    assert (t["offers"], t["answered"], t["not_answered"]) == (1, 0, 0)
    # The operator whose phone rang may still open the ended call's card.
    resp = await desk.client.get(f"/api/v1/calls/{placed['call_id']}/card", headers=auth)
    assert resp.status == 200
    assert (await resp.json())["call"]["end_reason"] == "abandoned_while_ringing"


async def test_a_yes_to_the_pin_question_reaches_the_call_and_its_card(desk: Backend) -> None:
    """After the caller says yes, the call (pushed to the desk) names the new manager."""
    auth = await desk.ready_operator("penny")
    placed = await connected_call(desk, "penny", caller="+15551230009")
    url = f"/api/v1/calls/{placed['call_id']}"
    resp = await desk.client.post(
        f"{url}/events", json={"type": "operator_hung_up"}, headers=desk.plat
    )
    assert (await resp.json())["ask_pin_manager"]["operator"] == "penny"
    assert (await desk.call(placed["call_id"]))["manager"] is None
    resp = await desk.client.post(
        f"{url}/events", json={"type": "manager_pin_answer", "answer": "yes"}, headers=desk.plat
    )
    assert resp.status == 200
    assert (await desk.call(placed["call_id"]))["manager"] == "penny"
    card = await (await desk.client.get(f"{url}/card", headers=auth)).json()
    assert card["contact"]["manager"] == {"login": "penny", "name": "Penny"}
