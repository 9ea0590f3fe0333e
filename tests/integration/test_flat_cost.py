"""Arrival → connect, the queue position and the card cost the same with 100,000 stored calls.

Shown by what the backend sends, not by a stopwatch: the same commands (by name, collection and
filter shape) with none and with 100,000 ended calls stored, and no more documents examined by
the server for any of them. (How long they take is bench/'s question.)

The history is written while no backend process runs, as if it had piled up over months, and a
new process then starts on it: a process follows the change stream from its own start, so old
calls never reach it that way (streamed into a running one, the 100,000 inserts cost the test a
minute of decoding that no process pays for old calls), and the start-up, too, must not read
them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, WriteConcern

from backend.adapters.documents import call_doc
from backend.domain.model import Call, CallState, Media, Outcome, Party
from backend.keys import TIMERS
from tests.conftest import Backend
from tests.support.commands import CAPTURE
from tests.support.desk import call_in_state, operator_in
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

STORED = 100_000


@dataclass
class Cost:
    arrival: list[str]
    position: list[str]
    card: list[str]
    examined: int  # documents the server examined for the card's queries


def _shape(f: Any) -> Any:
    if isinstance(f, dict):
        return "{" + ",".join(f"{k}:{_shape(v)}" for k, v in sorted(f.items())) + "}"
    return "_"


# The status history's batch writer, on its own clock: its rows and the report buckets are
# written whenever they are due, inside any measured step (a bucket's update fell inside the
# card's under load). Not the step's own commands.
BATCHED = ("status_log", "report_buckets")


def _names(commands: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    out = []
    for name, coll, command in commands:
        if coll in BATCHED:
            continue
        flt = command.get("filter") or (command.get("updates") or [{}])[0].get("q") or {}
        out.append(f"{name} {coll} {_shape(flt)}")
    return out


async def _measure(b: Backend, auth: dict[str, str], caller: str) -> Cost:
    """One arrival, one position, one card, for a caller with no history of their own."""
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    CAPTURE.watch(b.store.db.name)
    try:
        connects = b.platform.connects_by_target["alice"]
        first = await b.place_call(caller=caller, custom_data=f'{{"customer_id": "{caller}"}}')
        await eventually(lambda: _more(b, connects), message="connect sent to alice")
        taken = CAPTURE.take()
        # Up to the call's insert: what follows is the operator answering (racing this read).
        ends = next(i for i, c in enumerate(taken) if c[0] == "insert" and c[1] == "calls")
        arrival = taken[: ends + 1]
        await call_in_state(b, first["call_id"], "connected")
        second = await b.place_call(caller=caller + "0")
        assert second["state"] == "queued"
        CAPTURE.take()
        got = await b.client.get(f"/api/v1/calls/{second['call_id']}", headers=b.plat)
        assert (await got.json())["position"] == 1
        position = CAPTURE.take()
        card = await b.client.get(f"/api/v1/calls/{first['call_id']}/card", headers=auth)
        assert card.status == 200, await card.text()
        card_commands = [c for c in CAPTURE.take() if c[1] not in BATCHED]
    finally:
        CAPTURE.watch(None)
    examined = 0
    for name, _coll, command in card_commands:
        if name != "find":
            continue
        explained = await b.store.db.command(
            "explain",
            {k: v for k, v in command.items() if k in ("find", "filter", "sort", "limit")},
            verbosity="executionStats",
        )
        examined += int(explained["executionStats"]["totalDocsExamined"])
    # Leave alice idle again for the next measurement.
    for call_id in (first["call_id"], second["call_id"]):
        await call_in_state(b, call_id, "connected")
        resp = await b.client.post(f"/api/v1/calls/{call_id}/hangup", headers=auth)
        assert resp.status == 200, await resp.text()
    await operator_in(b, "alice", "idle")
    return Cost(_names(arrival), _names(position), _names(card_commands), examined)


async def _more(b: Backend, before: int) -> bool:
    return b.platform.connects_by_target["alice"] > before


async def _store_ended_calls(db_url: str, n: int) -> None:
    now = datetime.now(UTC)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(db_url)
    try:
        fast = client.get_default_database()["calls"].with_options(write_concern=WriteConcern(w=1))
        await _insert_ended_calls(fast, now, n)
    finally:
        await client.close()


async def _insert_ended_calls(fast: Any, now: datetime, n: int) -> None:
    chunk: list[dict[str, Any]] = []
    for i in range(n):
        at = now - timedelta(days=30, seconds=i)
        call = Call(
            call_id=uuid.uuid4().hex,
            group="default",
            priority=0,
            media=Media.VOICE,
            state=CallState.ENDED,
            created_at=at,
            enqueued_at=at,
            operator="alice",
            connected_at=at,
            ended_at=at + timedelta(seconds=60),
            outcome=Outcome.ANSWERED,
            hung_up_by=Party.CALLER,
        )
        chunk.append(
            {
                "_id": call.call_id,
                **call_doc(call),
                "session_id": f"old-{i}",
                "caller": f"+1666{i:07d}",
                "context": {"customer_id": f"c{i}"},
                "rev": 3,
            }
        )
        if len(chunk) == 5000:
            await fast.insert_many(chunk, ordered=False)
            chunk = []
    if chunk:
        await fast.insert_many(chunk, ordered=False)


def _quiet(b: Backend) -> Backend:
    # The sweep and the heartbeat send their own commands now and then: not this test's.
    b.app[TIMERS].remove("sweep")
    b.app[TIMERS].remove("heartbeat")
    return b


@pytest.mark.own_db_server
async def test_cost_does_not_grow_with_stored_calls(
    make_backend: Callable[..., Awaitable[Backend]], db_url: str
) -> None:
    first = _quiet(await make_backend())
    auth = await first.ready_operator("alice")
    empty = await _measure(first, auth, "+15550001111")
    await first.client.close()  # the process stops; months of history pile up
    await _store_ended_calls(db_url, STORED)
    b = _quiet(await make_backend())  # a new process on the same database
    assert await b.store.calls.estimated_document_count() >= STORED
    full = await _measure(b, auth, "+15550002222")
    # Arrival → connect: the operator's reservation and the call's insert, nothing that reads.
    assert empty.arrival == full.arrival
    assert [c for c in full.arrival if c.startswith("find")] == []
    # The queue position comes from the read view: no command at all.
    assert empty.position == full.position == []
    # The card: the same indexed queries, no more documents examined.
    assert empty.card == full.card
    assert full.examined <= empty.examined, (empty.examined, full.examined)
