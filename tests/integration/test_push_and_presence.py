"""The WebSocket pushes state and offers; an absent operator stops being offered calls."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually


async def _next(ws: Any, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if predicate(msg):
                return dict(msg)

    return await asyncio.wait_for(read(), timeout)


async def test_websocket_pushes_state_and_the_offer(backend: Backend) -> None:
    await backend.add_operator("sam")
    auth = await backend.login("sam")
    backend.platform.script("sam", Script(answer_after_s=0.2, talk_s=None))
    async with backend.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        first = await _next(ws, lambda m: m["type"] == "state")
        assert first["operator"]["presence"] == "offline"
        await backend.set_status(auth, "ready")
        await _next(ws, lambda m: m["type"] == "state" and m["operator"]["presence"] == "ready")
        placed = await backend.place_call(custom_data='{"customer_id": "C-42", "page": "/help"}')
        offered = await _next(
            ws, lambda m: m["type"] == "state" and m["operator"]["activity"] == "offered"
        )
        assert offered["call"]["call_id"] == placed["call_id"]
        assert offered["call"]["context"] == {"customer_id": "C-42", "page": "/help"}
        connected = await _next(
            ws, lambda m: m["type"] == "call" and m["call"]["state"] == "connected"
        )
        assert connected["call"]["operator"] == "sam"


async def test_websocket_takes_the_token_in_the_query(backend: Backend) -> None:
    await backend.add_operator("tess")
    token = (await backend.login("tess"))["Authorization"].split()[1]
    async with backend.client.ws_connect(f"/api/v1/ws?token={token}") as ws:
        msg = await _next(ws, lambda m: m["type"] == "state")
        assert msg["operator"]["login"] == "tess"
    backend.client.session.cookie_jar.clear()  # the login above left a session cookie
    resp = await backend.client.get("/api/v1/ws?token=forged")
    assert resp.status == 401


async def test_absent_operator_becomes_not_ready(make_backend: Any) -> None:
    b: Backend = await make_backend("[routing]\npresence_grace_s = 0.5\n")
    await b.add_operator("uma")
    auth = await b.login("uma")
    async with b.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await b.set_status(auth, "ready")
        await _next(ws, lambda m: m["type"] == "state" and m["operator"]["presence"] == "ready")
        # While the socket is open the sweep leaves her alone, however long it takes.
        await asyncio.sleep(0)  # let the socket register
    # Socket gone: after the grace period the sweep marks her not_ready (disconnected).

    async def dropped() -> dict[str, Any] | None:
        op = await b.operator("uma")
        return op if op["presence"] == "not_ready" else None

    op = await eventually(dropped, timeout=5)
    assert op["reason"] == "disconnected"
    placed = await b.place_call()
    assert placed["state"] == "queued"


async def test_connected_operator_stays_ready_past_the_grace(make_backend: Any) -> None:
    b: Backend = await make_backend(
        "[routing]\npresence_grace_s = 0.5\nheartbeat_interval_s = 0.2\n"
    )
    await b.add_operator("vera")
    auth = await b.login("vera")
    async with b.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await b.set_status(auth, "ready")
        await _next(ws, lambda m: m["type"] == "state" and m["operator"]["presence"] == "ready")
        # Several sweeps and heartbeats pass; a call still finds her.
        b.platform.script("vera", Script(talk_s=None))
        # The heartbeat is one document per process naming the operators with a socket there.
        beats: list[Any] = []

        async def heartbeat_moved() -> bool:
            doc = await b.store.processes.find_one({"logins": "vera"})
            if doc is None or (beats and doc["seen"] == beats[-1]):
                return False
            beats.append(doc["seen"])
            return True

        for _ in range(3):  # three heartbeats: well past the 0.5 s grace
            await eventually(heartbeat_moved, timeout=3)
        assert (await b.operator("vera"))["presence"] == "ready"
        placed = await b.place_call()
        assert placed["state"] == "offering"
