"""The access-URL client against a real local HTTP peer: gone sessions, refusals, dead peers,
timeouts, and the back-off schedule between attempts (recorded, not slept)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from backend.adapters.embedded_db import free_port
from backend.adapters.platform import (
    CommandRejected,
    PlatformClient,
    PlatformUnavailable,
    SessionGone,
)

BACKOFF_S = 0.25
ATTEMPTS = 4


@dataclass
class Peer:
    """Access URLs by kind: 404, 410, 400, flaky (503 until the last attempt), silent."""

    url: str
    hits: dict[str, int] = field(default_factory=dict)
    never_answer: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def peer(aiohttp_server: object) -> AsyncIterator[Peer]:
    app = web.Application()
    state = Peer("")

    async def handle(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        state.hits[kind] = state.hits.get(kind, 0) + 1
        await request.json()
        if kind in ("404", "410", "400"):
            return web.Response(status=int(kind), text="no")
        if kind == "flaky" and state.hits[kind] < ATTEMPTS:
            return web.Response(status=503, text="busy")
        if kind == "silent":
            await state.never_answer.wait()  # the client's timeout ends this request
        return web.json_response({"ok": True})

    app.router.add_post("/request/{kind}", handle)
    server = await aiohttp_server(app)  # type: ignore[operator]
    state.url = str(server.make_url("/request"))
    yield state
    state.never_answer.set()


@pytest.fixture
async def client() -> AsyncIterator[tuple[PlatformClient, Sleeps]]:
    sleeps = Sleeps()
    async with aiohttp.ClientSession() as session:
        yield (
            PlatformClient(
                session, timeout_s=0.2, attempts=ATTEMPTS, backoff_s=BACKOFF_S, sleep=sleeps
            ),
            sleeps,
        )


@pytest.mark.parametrize("status", ["404", "410"])
async def test_a_gone_session_is_not_retried(
    peer: Peer, client: tuple[PlatformClient, Sleeps], status: str
) -> None:
    platform, sleeps = client
    with pytest.raises(SessionGone, match=status):
        await platform.send(f"{peer.url}/{status}", {"command": "connect"})
    assert peer.hits[status] == 1 and sleeps.delays == []


async def test_a_refused_command_is_not_retried(
    peer: Peer, client: tuple[PlatformClient, Sleeps]
) -> None:
    platform, sleeps = client
    with pytest.raises(CommandRejected, match="400"):
        await platform.send(f"{peer.url}/400", {"command": "connect"})
    assert peer.hits["400"] == 1 and sleeps.delays == []


def _assert_backoff(delays: list[float]) -> None:
    """Exponential from BACKOFF_S, doubling, each with ±25 % jitter: one delay between attempts."""
    assert len(delays) == ATTEMPTS - 1, delays
    for i, d in enumerate(delays):
        base = BACKOFF_S * 2**i
        assert base * 0.75 <= d <= base * 1.25, (i, d, delays)


async def test_5xx_is_retried_on_the_back_off_schedule(
    peer: Peer, client: tuple[PlatformClient, Sleeps]
) -> None:
    platform, sleeps = client
    reply = await platform.send(f"{peer.url}/flaky", {"command": "connect"})
    assert reply.status == 200 and reply.attempts == ATTEMPTS and reply.body == {"ok": True}
    assert peer.hits["flaky"] == ATTEMPTS
    _assert_backoff(sleeps.delays)


async def test_a_refused_connection_is_retried_then_unavailable(
    client: tuple[PlatformClient, Sleeps],
) -> None:
    platform, sleeps = client
    dead = f"http://127.0.0.1:{free_port()}/request/x"  # nothing listens there
    with pytest.raises(PlatformUnavailable, match=f"{ATTEMPTS} attempts failed; last: Client"):
        await platform.send(dead, {"command": "connect"})
    _assert_backoff(sleeps.delays)


async def test_a_timeout_is_retried_then_unavailable(
    peer: Peer, client: tuple[PlatformClient, Sleeps]
) -> None:
    platform, sleeps = client
    with pytest.raises(PlatformUnavailable, match="last: TimeoutError"):
        await platform.send(f"{peer.url}/silent", {"command": "connect"})
    assert peer.hits["silent"] == ATTEMPTS
    _assert_backoff(sleeps.delays)
