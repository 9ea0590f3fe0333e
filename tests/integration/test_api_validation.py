"""Bad input gets a 4xx that names the problem, and nothing is written.

"Nothing written" is checked field by field (tests/support/snapshots.py): every operator, call
and contact document is the same after a refused request as before it, for refused updates as
well as refused creates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

CALL = {"session_id": "v1", "access_url": "http://127.0.0.1:9/request/v1", "caller": "+1555"}


async def _counts(b: Backend) -> tuple[int, int, int]:
    return (
        await b.store.calls.count_documents({}),
        await b.store.operators.count_documents({}),
        await b.store.status_log.count_documents({}),
    )


async def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return dict(body["error"])


async def test_malformed_json_is_400(backend: Backend) -> None:
    before = await Snapshot.take(backend.store)
    headers = {**backend.plat, "Content-Type": "application/json"}
    resp = await backend.client.post("/api/v1/calls", data=b"{not json", headers=headers)
    err = await _error(resp, 400)
    assert err["code"] == "malformed_json"
    resp = await backend.client.post("/api/v1/calls", data=b"[1, 2]", headers=headers)
    assert (await _error(resp, 400))["code"] == "malformed_json"
    resp = await backend.client.post("/api/v1/calls", data=b"", headers=headers)
    assert (await _error(resp, 400))["code"] == "malformed_json"
    assert await _counts(backend) == (0, 0, 0)
    await before.assert_unchanged(backend.store)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"session_id": None}, "session_id"),
        ({"access_url": "ftp://nope"}, "access_url"),
        ({"caller": 15550001}, "caller"),
        ({"media": "fax"}, "media"),
        ({"headers": {"Via": "x"}}, "headers"),
        ({"custom_data": {"category": "sales"}}, "custom_data"),
    ],
)
async def test_call_fields_are_checked(backend: Backend, patch: dict[str, Any], field: str) -> None:
    body = {**CALL, **patch}
    body = {k: v for k, v in body.items() if v is not None}
    before = await Snapshot.take(backend.store)
    resp = await backend.client.post("/api/v1/calls", json=body, headers=backend.plat)
    err = await _error(resp, 422)
    assert err["field"] == field and field in err["message"]
    assert await _counts(backend) == (0, 0, 0)
    await before.assert_unchanged(backend.store)


async def test_event_fields_are_checked(backend: Backend) -> None:
    placed = await backend.place_call()
    url = f"/api/v1/calls/{placed['call_id']}/events"
    await backend.engine.drain()
    before = await Snapshot.take(backend.store)
    for body, field in [
        ({"type": "exploded"}, "type"),
        ({"type": "operator_failed", "code": "486"}, "code"),
        ({"type": "operator_connected"}, "offer_id"),
        ({"type": "recording_started"}, "url"),
        ({"type": "manager_pin_answer", "answer": "maybe"}, "answer"),
    ]:
        resp = await backend.client.post(url, json=body, headers=backend.plat)
        err = await _error(resp, 422)
        assert err["field"] == field, err
    await before.assert_unchanged(backend.store)


async def test_unknown_ids_are_404(backend: Backend) -> None:
    resp = await backend.client.post(
        "/api/v1/calls/nope/events", json={"type": "caller_hung_up"}, headers=backend.plat
    )
    assert (await _error(resp, 404))["field"] == "call_id"
    resp = await backend.client.get("/api/v1/calls/nope", headers=backend.plat)
    await _error(resp, 404)
    resp = await backend.client.get("/api/v1/operators/nobody", headers=backend.admin)
    await _error(resp, 404)
    resp = await backend.client.get("/api/v1/no/such/route")
    await _error(resp, 404)


async def test_tokens_are_required_and_checked(backend: Backend) -> None:
    resp = await backend.client.post("/api/v1/calls", json=CALL)
    assert (await _error(resp, 401))["code"] == "unauthorized"
    resp = await backend.client.post(
        "/api/v1/calls", json=CALL, headers={"Authorization": "Bearer wrong"}
    )
    await _error(resp, 401)
    # The admin token is not the platform token, and the other way round.
    resp = await backend.client.post("/api/v1/calls", json=CALL, headers=backend.admin)
    await _error(resp, 401)
    body = {
        "password": "password-1",
        "address": {"type": "user", "address": "x"},
        "groups": [{"name": "default"}],
    }
    resp = await backend.client.put("/api/v1/operators/x", json=body, headers=backend.plat)
    await _error(resp, 401)
    resp = await backend.client.get("/api/v1/me")
    await _error(resp, 401)
    resp = await backend.client.get("/api/v1/me", headers={"Authorization": "Bearer forged.token"})
    await _error(resp, 401)
    # An operator is not an administrator.
    auth = await backend.ready_operator("olga")
    resp = await backend.client.put("/api/v1/operators/y", json=body, headers=auth)
    assert (await _error(resp, 403))["code"] == "forbidden"
    assert await backend.store.operators.count_documents({}) == 1
    assert await backend.store.calls.count_documents({}) == 0


async def test_oversized_body_is_413(backend: Backend) -> None:
    body = {**CALL, "custom_data": "x" * (70 * 1024)}
    before = await Snapshot.take(backend.store)
    resp = await backend.client.post("/api/v1/calls", json=body, headers=backend.plat)
    assert (await _error(resp, 413))["code"] == "body_too_large"
    assert await _counts(backend) == (0, 0, 0)
    await before.assert_unchanged(backend.store)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"groups": [{"name": "nosuch"}]}, "groups.0.name"),
        ({"groups": []}, "groups"),
        ({"groups": [{"name": "default", "level": 9}]}, "groups.0.level"),
        ({"address": {"type": "pstn", "address": "call me"}}, "address"),
        ({"address": {"type": "fax", "address": "1"}}, "address.type"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": None}, "password"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_operator_fields_are_checked(
    backend: Backend, patch: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "name": "Pat",
        "password": "password-1",
        "address": {"type": "user", "address": "pat"},
        "groups": [{"name": "default", "level": 2}],
        **patch,
    }
    body = {k: v for k, v in body.items() if v is not None}
    before = await Snapshot.take(backend.store)
    resp = await backend.client.put("/api/v1/operators/pat", json=body, headers=backend.admin)
    err = await _error(resp, 422)
    assert err["field"] == field, err
    assert await _counts(backend) == (0, 0, 0)
    await before.assert_unchanged(backend.store)
    if patch == {"password": None}:
        return  # an existing operator keeps their password when the body names none
    # The same refusal for an operator who exists changes nothing of theirs either.
    await backend.add_operator("pat", [("default", 2)])
    await backend.engine.history.flush()
    before = await Snapshot.take(backend.store)
    counts = await _counts(backend)
    resp = await backend.client.put("/api/v1/operators/pat", json=body, headers=backend.admin)
    assert (await _error(resp, 422))["field"] == field
    await before.assert_unchanged(backend.store)
    assert await _counts(backend) == counts


async def test_status_changes_are_checked(backend: Backend) -> None:
    auth = await backend.ready_operator("quinn")
    await backend.engine.history.flush()
    before = await _counts(backend)
    snapshot = await Snapshot.take(backend.store)
    for body, field in [
        ({"status": "dancing"}, "status"),
        ({"status": "not_ready", "reason": "nap"}, "reason"),
        ({"status": "ready", "reason": "lunch"}, "reason"),
    ]:
        resp = await backend.client.post("/api/v1/me/status", json=body, headers=auth)
        assert (await _error(resp, 422))["field"] == field
    assert await _counts(backend) == before
    await snapshot.assert_unchanged(backend.store)


async def test_going_offline_in_a_call_is_409(backend: Backend) -> None:
    backend.platform.script("rita", Script(talk_s=None))
    auth = await backend.ready_operator("rita")
    placed = await backend.place_call()

    async def connected() -> bool:
        state: str = (await backend.call(placed["call_id"]))["state"]
        return state == "connected"

    await eventually(connected)
    await backend.engine.drain()
    before = await Snapshot.take(backend.store)
    resp = await backend.client.post("/api/v1/me/status", json={"status": "offline"}, headers=auth)
    assert (await _error(resp, 409))["code"] == "busy"
    await before.assert_unchanged(backend.store)


async def test_refused_hang_up_and_disposition_write_nothing(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend(DESK_CONFIG)
    alice = await b.ready_operator("alice")
    mallory = await b.ready_operator("mallory")
    await b.set_status(mallory, "not_ready", "break")
    placed = await connected_call(b, "alice")
    base = f"/api/v1/calls/{placed['call_id']}"
    await b.engine.drain()
    before = await Snapshot.take(b.store)
    # Someone not on the call may neither hang it up nor classify it.
    resp = await b.client.post(f"{base}/hangup", headers=mallory)
    assert (await _error(resp, 409))["code"] == "not_connected"
    resp = await b.client.put(f"{base}/disposition", json={"code": "resolved"}, headers=mallory)
    assert (await _error(resp, 403))["code"] == "forbidden"
    # The operator on the call, with a code the desk does not know.
    resp = await b.client.put(f"{base}/disposition", json={"code": "lost"}, headers=alice)
    assert (await _error(resp, 422))["field"] == "code"
    resp = await b.client.put(f"{base}/personal", json={"fields": {"age": "40"}}, headers=alice)
    assert (await _error(resp, 422))["field"] == "fields.age"
    await before.assert_unchanged(b.store)
