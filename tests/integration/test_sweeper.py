"""The sweep's presence records and absence check, one process and two sharing the database.

Found by `make mutation-services` (services/sweeper.py): each process's heartbeat is its own
document, a stopping process removes only its own, the grace is inclusive, an operator whose
socket is open in another process (or this one) is never made absent, and a sweep that meets
contention says so and stops. The sweep is called directly with the moment it should judge,
so no test waits for the grace to pass.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.keys import FEED, HUB, SWEEPER
from backend.services.engine import Contention
from tests.conftest import Backend
from tests.support.waiting import eventually

# The timers' own heartbeat stays out of the way: each test writes the records it judges.
QUIET = "[routing]\nheartbeat_interval_s = 60\n"
GRACE_S = 600  # tests/conftest.py's TEST_CONFIG


async def _two(make_backend: Any) -> tuple[Backend, Backend]:
    """Two backend processes on one database, as the Procfile runs them."""
    return await make_backend(QUIET), await make_backend(QUIET)


def _last_seen(b: Backend, login: str) -> datetime:
    doc = b.app[FEED].operator_doc(login)
    assert doc is not None and doc.get("last_seen") is not None
    seen: datetime = doc["last_seen"]
    return seen


async def _state(ws: Any) -> None:
    """The first state push: the socket is registered with the process's hub."""
    while (await ws.receive_json())["type"] != "state":
        pass


async def _presence(b: Backend, login: str) -> str:
    return str((await b.operator(login))["presence"])


async def test_each_process_heartbeat_is_its_own_record(make_backend: Any) -> None:
    a, b = await _two(make_backend)
    auth = await a.ready_operator("vera")
    async with a.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await _state(ws)
        await a.app[SWEEPER].heartbeat()
        await b.app[SWEEPER].heartbeat()  # B has no socket open: it must not erase A's
    docs = {d["_id"]: d["logins"] async for d in a.store.processes.find({})}
    assert docs == {a.app[SWEEPER].process_id: ["vera"], b.app[SWEEPER].process_id: []}
    assert a.app[SWEEPER].process_id != b.app[SWEEPER].process_id
    seen = _last_seen(a, "vera")
    assert await a.store.live_logins(seen - timedelta(seconds=1)) == {"vera"}


async def test_a_stopping_process_removes_its_own_record_only(make_backend: Any) -> None:
    a, b = await _two(make_backend)
    await a.app[SWEEPER].heartbeat()
    await b.app[SWEEPER].heartbeat()
    await a.app[SWEEPER].close()
    ids = [d["_id"] async for d in a.store.processes.find({})]
    assert ids == [b.app[SWEEPER].process_id]


async def test_the_grace_is_inclusive_then_the_operator_is_absent(backend: Backend) -> None:
    b = backend
    await b.ready_operator("walt")  # Ready with no socket anywhere: judged by last_seen
    cutoff_moment = _last_seen(b, "walt") + timedelta(seconds=GRACE_S)
    await b.app[SWEEPER].absent(cutoff_moment)  # seen exactly one grace ago: still here
    assert await _presence(b, "walt") == "ready"
    await b.app[SWEEPER].absent(cutoff_moment + timedelta(milliseconds=1))
    op = await b.operator("walt")
    assert (op["presence"], op["reason"]) == ("not_ready", "disconnected")


async def test_a_socket_open_in_any_process_keeps_the_operator_ready(make_backend: Any) -> None:
    a, b = await _two(make_backend)
    # Vera's socket is open in process A (its record says so), Xena's in B itself; Walt has
    # none. All three were last seen long ago; only Walt is absent, whatever order the
    # sweep meets them in.
    await a.ready_operator("vera")
    auth = await b.ready_operator("xena")
    await b.ready_operator("walt")
    await b.view_synced()
    late = max(_last_seen(b, login) for login in ("vera", "xena", "walt"))
    late += timedelta(seconds=GRACE_S + 60)  # opening a socket below must not count as seen
    await a.store.heartbeat(a.app[SWEEPER].process_id, ["vera"], late)
    async with b.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await _state(ws)  # Xena's socket is registered in B
        await b.app[SWEEPER].absent(late)
        assert [await _presence(b, x) for x in ("vera", "xena", "walt")] == [
            "ready",
            "ready",
            "not_ready",
        ]


async def test_a_sweep_that_meets_contention_says_so_and_stops(
    backend: Backend, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeper = backend.app[SWEEPER]
    rebalanced: list[bool] = []

    async def contended(now: datetime) -> None:
        raise Contention("operator walt kept changing")

    async def rebalance() -> None:
        rebalanced.append(True)

    monkeypatch.setattr(sweeper, "absent", contended)
    monkeypatch.setattr(sweeper, "rebalance", rebalance)
    with caplog.at_level(logging.INFO, logger="backend.services.sweeper"):
        await sweeper.sweep()
    messages = [r.getMessage() for r in caplog.records if r.name == "backend.services.sweeper"]
    assert "sweep deferred: operator walt kept changing" in messages
    assert rebalanced == []


async def test_ready_counts_as_seen_before_the_stream_echoes_it(backend: Backend) -> None:
    """The bug this found: the sweep read `last_seen` from the view, which heard of the click's
    write only through the stream, so a sweep in between made the operator absent at once."""
    b = backend
    await b.add_operator("walt")
    auth = await b.login("walt")
    b.app[FEED].flowing.clear()  # the stream is slow: nothing of this process's writes comes back
    await b.set_status(auth, "ready")
    await b.app[SWEEPER].absent(b.engine.clock())
    assert await _presence(b, "walt") == "ready"
    b.app[FEED].flowing.set()


async def test_a_closed_socket_starts_the_grace_before_the_stream_echoes_it(
    backend: Backend,
) -> None:
    """A page reload after a long shift: the grace runs from the close, not from the Ready."""
    b = backend
    auth = await b.ready_operator("walt")
    clicked = _last_seen(b, "walt")
    hub = b.app[HUB]
    async with b.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await _state(ws)
        b.app[FEED].flowing.clear()
    await eventually(lambda: _true(not hub.connected("walt")), message="the socket is gone")
    # Judged one grace after the Ready click (as if the shift had been that long): the close
    # came later, so the operator is still within its grace.
    await b.app[SWEEPER].absent(clicked + timedelta(seconds=GRACE_S, milliseconds=1))
    b.app[FEED].flowing.set()
    assert await _presence(b, "walt") == "ready"


async def _true(value: bool) -> bool:
    return value


async def test_one_seen_within_the_grace_does_not_end_the_sweep(backend: Backend) -> None:
    b = backend
    await b.add_operator("amy")
    await b.add_operator("walt")
    await b.set_status(await b.login("walt"), "ready")
    await b.set_status(await b.login("amy"), "ready")  # seen later than Walt
    await b.add_operator("walt", name="Walter")  # written last: the sweep meets Amy first
    await b.view_synced()  # the profile's write reaches the view through the stream
    assert b.engine.view.ready_logins() == ["amy", "walt"]
    amy_seen = _last_seen(b, "amy")
    assert _last_seen(b, "walt") < amy_seen
    await b.app[SWEEPER].absent(amy_seen + timedelta(seconds=GRACE_S))
    assert [await _presence(b, x) for x in ("amy", "walt")] == ["ready", "not_ready"]
