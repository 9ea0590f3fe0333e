"""The desk of an operator asked into a call hears of it like the owner's: the offer comes with
the party it is, and every later change of the call reaches the helper's socket too."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.keys import FEED, TARGETS_RELAY
from tests.conftest import Backend
from tests.support.desk import connected_call
from tests.support.fake_platform import Script
from tests.support.waiting import eventually


async def _next(ws: Any, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if predicate(msg):
                return dict(msg)

    return await asyncio.wait_for(read(), timeout)


def _party(call: dict[str, Any], party_id: str) -> dict[str, Any] | None:
    return next((p for p in call["parties"] if p["party_id"] == party_id), None)


async def test_the_helper_is_pushed_the_offer_with_its_party_and_the_call_changes(
    backend: Backend,
) -> None:
    alice = await backend.ready_operator("alice")
    placed = await connected_call(backend, "alice")
    call_id = placed["call_id"]
    bob = await backend.ready_operator("bob")
    backend.platform.script("bob", Script(answer_after_s=0.3, talk_s=None))
    async with backend.client.ws_connect("/api/v1/ws", headers=bob) as ws:
        await _next(ws, lambda m: m["type"] == "state" and m["operator"]["presence"] == "ready")
        resp = await backend.client.post(
            f"/api/v1/calls/{call_id}/parties",
            json={"to": {"type": "operator", "address": "bob"}, "reason": "a refund"},
            headers=alice,
        )
        assert resp.status == 202, await resp.text()
        party_id = (await resp.json())["party_id"]
        offered = await _next(
            ws, lambda m: m["type"] == "state" and m["operator"]["activity"] == "offered"
        )
        # The reservation is written before the call: the state waits for the call that
        # names the party, so the desk knows at once that this is a help request.
        assert offered["operator"]["offer_id"] == party_id
        assert offered["call"]["call_id"] == call_id
        mine = _party(offered["call"], party_id)
        assert mine is not None, offered["call"]["parties"]
        assert (mine["role"], mine["requested_by"], mine["reason"]) == ("help", "alice", "a refund")
        # A change of the call the helper is not the owner of reaches the helper too.
        joined = await _next(
            ws,
            lambda m: (
                m["type"] == "call"
                and (_party(m["call"], party_id) or {}).get("state") == "connected"
            ),
        )
        assert joined["call"]["operator"] == "alice"


async def test_the_pickers_targets_are_pushed_whole_then_as_they_change(backend: Backend) -> None:
    alice = await backend.ready_operator("alice")
    await backend.add_operator("bob")  # offline
    # The picker lists the view: wait until bob's insert came back through the stream.
    await backend.app[FEED].sync()
    async with backend.client.ws_connect("/api/v1/ws", headers=alice) as ws:
        await _next(ws, lambda m: m["type"] == "state")
        await ws.send_str("targets")
        whole = await _next(ws, lambda m: m["type"] == "targets")
        assert whole["full"] is True
        assert [(o["login"], o["presence"]) for o in whole["operators"]] == [("bob", "offline")]
        assert {"name": "default", "routable": 1} in whole["groups"]  # alice herself
        # Bob goes Ready: his state and the group's count come by themselves.
        await backend.ready_operator("bob")
        change = await _next(
            ws,
            lambda m: (
                m["type"] == "targets"
                and any(o["login"] == "bob" and o["routable"] for o in m["operators"])
            ),
        )
        assert "full" not in change
        assert {"name": "default", "routable": 2} in change["groups"]
        bob = next(o for o in change["operators"] if o["login"] == "bob")
        assert (bob["presence"], bob["activity"], bob["groups"]) == ("ready", "idle", ["default"])
        # Unsubscribed (the socket's messages are handled in order: the pong comes after).
        relay = backend.app[TARGETS_RELAY]
        assert len(relay.sockets) == 1
        await ws.send_str("targets_off")
        await ws.send_str("ping")
        await _next_text(ws, "pong")
        assert len(relay.sockets) == 0
    # A closed socket is dropped too.
    async with backend.client.ws_connect("/api/v1/ws", headers=alice) as ws:
        await ws.send_str("targets")
        await _next(ws, lambda m: m["type"] == "targets")
        assert len(relay.sockets) == 1

    async def dropped() -> bool:
        return not relay.sockets

    await eventually(dropped, message="the closed socket dropped")


async def _next_text(ws: Any, text: str) -> None:
    async def read() -> None:
        while (await ws.receive()).data != text:
            pass

    await asyncio.wait_for(read(), 5.0)
