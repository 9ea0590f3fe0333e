"""The read view proposes, the database decides: a stale view, a broken stream, a cold start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from backend.adapters.documents import call_doc, operator_doc
from backend.auth import hash_password
from backend.domain.model import Address, Call, CallState, Media, Skill, TargetType
from backend.domain.operators import new_operator
from backend.keys import FEED
from tests.conftest import Backend
from tests.support.fake_platform import FakePlatform, Script
from tests.support.waiting import eventually

MakeBackend = Callable[..., Awaitable[Backend]]


async def _db_docs(b: Backend) -> dict[str, list[dict[str, Any]]]:
    return {
        "operators": await b.store.operators.find({}, {"rev": 1}).to_list(None),
        "calls": await b.store.calls.find({}, {"rev": 1, "state": 1}).to_list(None),
    }


async def test_an_operator_taken_behind_the_view_is_not_offered(backend: Backend) -> None:
    b = backend
    await b.ready_operator("alice")
    feed = b.app[FEED]
    await eventually(lambda: _routable(b, "alice"), message="alice routable in the view")
    # Another process reserves Alice; this process's view does not hear of it yet.
    feed.flowing.clear()
    stored = await b.store.operators.find_one({"_id": "alice"})
    assert stored is not None
    await b.store.operators.update_one(
        {"_id": "alice", "rev": stored["rev"]},
        {
            "$set": {"activity": "offered", "offer_id": "o-other", "call_id": "c-other"},
            "$inc": {"rev": 1},
        },
    )
    assert b.engine.view.operator("alice").routable  # type: ignore[union-attr]  # stale
    before = b.engine.lost_races
    placed = await b.place_call()
    # The guarded reservation lost, the view learnt, the call waits: nobody rang twice.
    assert placed["state"] == "queued"
    assert b.engine.lost_races > before
    assert b.platform.connects_by_target["alice"] == 0
    assert not b.engine.view.operator("alice").routable  # type: ignore[union-attr]
    feed.flowing.set()
    op = await b.store.operators.find_one({"_id": "alice"})
    assert op is not None and op["offer_id"] == "o-other"


async def test_a_call_taken_behind_the_view_is_not_offered_again(backend: Backend) -> None:
    b = backend
    await b.add_operator("alice")
    placed = await b.place_call()
    call_id = placed["call_id"]
    feed = b.app[FEED]
    # Another process offers the call to Bob; this view still has it queued.
    feed.flowing.clear()
    stored = await b.store.calls.find_one({"_id": call_id})
    assert stored is not None
    await b.store.calls.update_one(
        {"_id": call_id, "rev": stored["rev"]},
        {"$set": {"state": "offering", "offer": {**_offer("o-bob", "bob")}}, "$inc": {"rev": 1}},
    )
    view_call = b.engine.view.call(call_id)
    assert view_call is not None and view_call.state is CallState.QUEUED  # stale
    auth = await b.login("alice")
    await b.set_status(auth, "ready")
    # Alice's claim on the call lost; she is Ready and idle again, with her place kept.
    op = await b.store.operators.find_one({"_id": "alice"})
    assert op is not None and op["activity"] == "idle" and op["presence"] == "ready"
    assert b.platform.connects_by_target["alice"] == 0
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None and doc["offer"]["operator"] == "bob"
    feed.flowing.set()
    await eventually(lambda: _view_state(b, call_id, CallState.OFFERING), message="view caught up")


async def test_the_view_survives_a_broken_stream_under_load(
    make_backend: MakeBackend,
) -> None:
    """Process A routes; process B changes operators; A's stream breaks, resumes, rebuilds."""
    a = await make_backend()
    b = await make_backend()
    for i in range(4):
        await a.add_operator(f"op{i}")
        a.platform.script(f"op{i}", Script(answer_after_s=0.01, talk_s=0.05))
    feed = a.app[FEED]
    placed: list[str] = []
    for round_ in range(4):
        # B makes the operators Ready while A's stream is down: A must learn it on resume.
        await feed.restart_stream()
        if round_ == 2:
            feed.forget_resume_token()  # as if the history moved on: A must rebuild
            await feed.restart_stream()
        for i in range(4):
            auth = await b.login(f"op{i}")
            await b.set_status(auth, "ready")
        for _ in range(3):
            placed.append((await a.place_call())["call_id"])

    async def all_answered() -> bool:
        docs = await a.store.calls.find({"_id": {"$in": placed}}, {"outcome": 1}).to_list(None)
        return all(d.get("outcome") == "answered" for d in docs) and len(docs) == len(placed)

    await eventually(all_answered, timeout=30, message="every call answered")
    assert feed.resumes >= 1 and feed.rebuilds >= 2
    await a.engine.drain()

    async def same() -> bool:
        return not feed.matches_database(await _db_docs(a))

    await eventually(same, message="A's view equals the database")


@pytest.mark.own_db_server
async def test_a_process_started_with_1000_waiting_calls_routes_them(
    make_backend: MakeBackend, db_url: str
) -> None:
    """1,000 calls and 10 operators are in the database before the process starts."""
    platform = FakePlatform([], "platform-secret")
    await platform.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(db_url, tz_aware=True)
    try:
        db = client.get_default_database()
        now = datetime.now(UTC)
        password = hash_password("password-1")
        await db.operators.insert_many(
            [
                {
                    "_id": f"op{i}",
                    **operator_doc(
                        new_operator(
                            f"op{i}", Address(TargetType.USER, f"op{i}"), (Skill("default"),), now
                        )
                    ),
                    "name": f"Op {i}",
                    "email": "",
                    "role": "operator",
                    "password_hash": password,
                    "rev": 0,
                }
                for i in range(10)
            ]
        )
        docs = []
        for i in range(1000):
            sid = f"cold-{i}-{uuid.uuid4().hex[:6]}"
            at = now - timedelta(seconds=1000 - i)
            call = Call(
                call_id=uuid.uuid4().hex,
                group="default",
                priority=0,
                media=Media.VOICE,
                state=CallState.QUEUED,
                created_at=at,
                enqueued_at=at,
                deadline=now + timedelta(minutes=10),
            )
            docs.append(
                {
                    "_id": call.call_id,
                    **call_doc(call),
                    "session_id": sid,
                    "access_url": platform.access_url(sid),
                    "caller": f"+1555{i:07d}",
                    "rev": 0,
                    "log": [],
                }
            )
        await db.calls.insert_many(docs)
        # The process starts: its view is built from the database, every call in order.
        b = await make_backend()
        platform.backend_urls.append(str(b.client.make_url("")).rstrip("/"))
        view = b.engine.view
        assert view.waiting_count("default") == 1000
        assert view.position(view.calls[docs[0]["_id"]]) == 1
        assert view.position(view.calls[docs[999]["_id"]]) == 1000
        for i in range(10):
            platform.script(f"op{i}", Script(answer_after_s=0.0, talk_s=0.0))
            await b.set_status(await b.login(f"op{i}"), "ready")

        async def all_answered() -> bool:
            left: int = await b.store.calls.count_documents({"state": {"$ne": "ended"}})
            return left == 0

        await eventually(all_answered, timeout=240, interval=0.5, message="1,000 calls answered")
        outcomes = await (
            await b.store.calls.aggregate(
                [{"$group": {"_id": {"o": "$outcome", "r": "$end_reason"}, "n": {"$sum": 1}}}]
            )
        ).to_list(None)
        assert outcomes == [{"_id": {"o": "answered", "r": None}, "n": 1000}], outcomes
        # Longest waiting first: the first call was connected before the last one.
        a = await b.store.calls.find_one({"_id": docs[0]["_id"]})
        z = await b.store.calls.find_one({"_id": docs[999]["_id"]})
        assert a is not None and z is not None and a["connected_at"] < z["connected_at"]
    finally:
        await platform.close()
        await client.close()


def _user(login: str) -> Address:
    return Address(TargetType.USER, login)


def _offer(offer_id: str, login: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "offer_id": offer_id,
        "operator": login,
        "target": {"type": "user", "address": login},
        "created_at": now,
        "expires_at": now + timedelta(seconds=30),
        "sent_at": None,
    }


async def _routable(b: Backend, login: str) -> bool:
    op = b.engine.view.operator(login)
    return bool(op is not None and op.routable)


async def _view_state(b: Backend, call_id: str, state: CallState) -> bool:
    await asyncio.sleep(0)
    call = b.engine.view.call(call_id)
    return call is not None and call.state is state
