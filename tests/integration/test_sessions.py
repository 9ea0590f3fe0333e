"""Sessions can be revoked: log-out, a new password or role, and dismissal end the operator's
tokens and close their sockets; a dismissed operator cannot log in or read cards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, wrapped_up_call

PROFILE = {
    "name": "Mia",
    "address": {"type": "user", "address": "mia"},
    "groups": [{"name": "default", "level": 1}],
}


async def _first_state(ws: Any) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive_json(), 5)
    assert msg["type"] == "state"
    return dict(msg)


async def _closed(ws: Any) -> None:
    """The server closes the socket, and no push shows the change that ended the session
    (pushes about earlier changes, such as the connection's own last_seen, may come first)."""

    async def read() -> Any:
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return msg.data
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            operator = json.loads(msg.data)["operator"]
            assert operator["role"] == "operator" and operator["absence"] is None, msg

    assert await asyncio.wait_for(read(), 5) == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_a_token_stops_working_after_logout(backend: Backend) -> None:
    await backend.add_operator("lou")
    auth = await backend.login("lou")
    other_device = await backend.login("lou")
    assert (await backend.client.get("/api/v1/me", headers=auth)).status == 200
    resp = await backend.client.post("/api/v1/auth/logout", headers=auth)
    assert resp.status == 200
    backend.client.session.cookie_jar.clear()
    for headers in (auth, other_device):
        assert (await backend.client.get("/api/v1/me", headers=headers)).status == 401
    assert (
        await backend.client.get("/api/v1/me", headers=await backend.login("lou"))
    ).status == 200


Change = Callable[[Backend], Awaitable[Any]]


async def _new_password(b: Backend) -> None:
    body = {**PROFILE, "password": "another-password"}
    resp = await b.client.put("/api/v1/operators/mia", json=body, headers=b.admin)
    assert resp.status == 200


async def _new_role(b: Backend) -> None:
    body = {**PROFILE, "role": "supervisor"}
    resp = await b.client.put("/api/v1/operators/mia", json=body, headers=b.admin)
    assert resp.status == 200


async def _dismissal(b: Backend) -> None:
    resp = await b.client.put(
        "/api/v1/operators/mia/absence", json={"reason": "dismissed"}, headers=b.admin
    )
    assert resp.status == 200


async def _logout(b: Backend, auth: dict[str, str]) -> None:
    assert (await b.client.post("/api/v1/auth/logout", headers=auth)).status == 200


@pytest.mark.parametrize("change", [_new_password, _new_role, _dismissal, None])
async def test_sockets_close_when_the_session_ends(backend: Backend, change: Change | None) -> None:
    await backend.add_operator("mia")
    auth = await backend.login("mia")
    backend.client.session.cookie_jar.clear()
    async with backend.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await _first_state(ws)
        if change is None:
            await _logout(backend, auth)
        else:
            await change(backend)
        await _closed(ws)
    assert (await backend.client.get("/api/v1/me", headers=auth)).status == 401
    resp = await backend.client.get("/api/v1/ws", headers=auth)
    assert resp.status == 401


async def test_an_unrelated_change_keeps_the_session(backend: Backend) -> None:
    await backend.add_operator("ned")
    auth = await backend.login("ned")
    body = {**PROFILE, "name": "Ned", "address": {"type": "user", "address": "ned"}}
    resp = await backend.client.put("/api/v1/operators/ned", json=body, headers=backend.admin)
    assert resp.status == 200
    assert (await backend.client.get("/api/v1/me", headers=auth)).status == 200


async def test_a_dismissed_operator_cannot_log_in_or_read_cards(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend(DESK_CONFIG)
    auth = await b.ready_operator("olly")
    call_id = await wrapped_up_call(b, "olly", auth, caller="+15550007777")
    card = f"/api/v1/calls/{call_id}/card"
    assert (await b.client.get(card, headers=auth)).status == 200
    for until in (None, "2999-01-01"):
        body: dict[str, Any] = {"reason": "dismissed"}
        if until:
            body["until"] = until
        resp = await b.client.put("/api/v1/operators/olly/absence", json=body, headers=b.admin)
        assert resp.status == 200
        b.client.session.cookie_jar.clear()
        resp = await b.client.post(
            "/api/v1/auth/login", json={"login": "olly", "password": "password-1"}
        )
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "dismissed"
        assert (await b.client.get(card, headers=auth)).status == 401
        resp = await b.client.post(
            f"/api/v1/calls/{call_id}/notes", json={"text": "still here"}, headers=auth
        )
        assert resp.status == 401
    doc = await b.store.call_doc(call_id)
    assert doc is not None and not (doc.get("desk") or {}).get("notes")
    # Back from a dismissal by mistake: the mark removed, they log in again.
    resp = await b.client.delete("/api/v1/operators/olly/absence", headers=b.admin)
    assert resp.status == 200
    await b.login("olly")
