"""The CRM lookup on the call card: fields shown, failures shown as "CRM unavailable"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import Backend
from tests.support.desk import connected_call


class FakeCrm:
    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.mode = "ok"
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.queries.append(dict(request.query))
        if self.mode == "slow":
            await self.release.wait()  # longer than the backend's timeout
        if self.mode == "error":
            return web.Response(status=500, text="boom")
        if self.mode == "missing":
            return web.Response(status=404)
        if self.mode == "garbage":
            return web.Response(text="[1, 2]", content_type="application/json")
        return web.json_response({"tier": "gold", "open_orders": 2, "address": {"city": "Rome"}})


@pytest.fixture
async def crm(aiohttp_server: Any) -> AsyncIterator[tuple[FakeCrm, str]]:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_get("/lookup", fake.handle)
    server = await aiohttp_server(app)
    yield fake, str(server.make_url("/lookup"))
    fake.release.set()


async def _card(b: Backend, auth: dict[str, str], call_id: str) -> dict[str, Any]:
    resp = await b.client.get(f"/api/v1/calls/{call_id}/card", headers=auth)
    assert resp.status == 200
    return dict(await resp.json())


async def test_crm_fields_on_the_card(
    make_backend: Callable[..., Any], crm: tuple[FakeCrm, str]
) -> None:
    fake, url = crm
    b: Backend = await make_backend(f'[crm]\nurl = "{url}"\ntimeout_s = 0.3\n')
    auth = await b.ready_operator("alice")
    placed = await connected_call(
        b, "alice", caller="+390612345", custom_data='{"customer_id": "C9"}'
    )
    card = await _card(b, auth, placed["call_id"])
    assert card["crm"] == {
        "status": "ok",
        "fields": {"tier": "gold", "open_orders": "2", "address": '{"city":"Rome"}'},
        "message": "",
    }
    assert fake.queries == [{"phone": "+390612345", "customer_id": "C9"}]

    expected = {"slow": "no answer", "error": "HTTP 500", "garbage": "not an object"}
    for mode, words in expected.items():
        fake.mode = mode
        crm_part = (await _card(b, auth, placed["call_id"]))["crm"]
        assert crm_part["status"] == "unavailable" and words in crm_part["message"], mode
        assert crm_part["message"].startswith("CRM unavailable")
    fake.mode = "missing"
    assert (await _card(b, auth, placed["call_id"]))["crm"]["status"] == "not_found"


async def test_crm_down_entirely(make_backend: Callable[..., Any], unused_tcp_port: int) -> None:
    b: Backend = await make_backend(f'[crm]\nurl = "http://127.0.0.1:{unused_tcp_port}/x"\n')
    auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    crm_part = (await _card(b, auth, placed["call_id"]))["crm"]
    assert crm_part == {"status": "unavailable", "fields": {}, "message": "CRM unavailable"}
