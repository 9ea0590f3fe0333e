"""The `rev` guard and the claim, with the interleaving forced rather than hoped for under load.

Each test builds two decisions from the same old state (what two processes, or one process with
a stale view, would hold) and lets the second write arrive after the first. The second must match
nothing, and the document must stay exactly as the first write left it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain.model import Call, CallState, Media, Offer, Operator
from backend.keys import FEED
from backend.services.engine import ClaimResult
from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually


async def _idle_operator(b: Backend, login: str, *, routable: bool = True) -> Operator:
    await b.ready_operator(login)
    op: Operator | None = await b.store.operator(login)
    assert op is not None and op.routable is routable
    return op


async def _queued_call(b: Backend) -> Call:
    placed = await b.place_call()
    assert placed["state"] == "queued"
    call: Call | None = await b.store.call(placed["call_id"])
    assert call is not None
    return call


def _offered(op: Operator, call_id: str, offer_id: str) -> Operator:
    now = op.activity_since
    step = op_rules.offer(op, call_id, offer_id, now + timedelta(seconds=30), now)
    offered: Operator | None = step.state
    assert offered is not None
    return offered


def _offering(call: Call, op: Operator, offer_id: str) -> Call:
    now = call.created_at
    offer = Offer(offer_id, op.login, op.address, now, now + timedelta(seconds=30))
    step = call_rules.offer(call, offer)
    offering: Call | None = step.state
    assert offering is not None
    return offering


async def test_save_operator_twice_from_the_same_revision_writes_once(backend: Backend) -> None:
    b = backend
    old = await _idle_operator(b, "alice")
    now = old.activity_since
    first = await b.store.save_operator(old, _offered(old, "call-1", "offer-1"), now)
    assert first is not None and first.rev == old.rev + 1
    after_first = await Snapshot.take(b.store)
    # The second decision was made from the same revision: it must lose and write nothing.
    second = await b.store.save_operator(old, _offered(old, "call-2", "offer-2"), now)
    assert second is None
    await after_first.assert_unchanged(b.store)
    doc = await b.store.operators.find_one({"_id": "alice"})
    assert doc is not None and doc["offer_id"] == "offer-1" and doc["call_id"] == "call-1"


async def test_save_call_twice_from_the_same_revision_writes_once(backend: Backend) -> None:
    b = backend
    alice = await _idle_operator(b, "alice")
    await b.set_status(await b.login("alice"), "not_ready", "lunch")
    bob = await _idle_operator(b, "bob")
    await b.set_status(await b.login("bob"), "not_ready", "lunch")
    old = await _queued_call(b)
    now = old.created_at
    entry = [{"at": now, "kind": "test"}]
    first = await b.store.save_call(old, _offering(old, alice, "offer-a"), now, entry)
    assert first is not None and first.rev == old.rev + 1
    after_first = await Snapshot.take(b.store)
    second = await b.store.save_call(old, _offering(old, bob, "offer-b"), now, entry)
    assert second is None
    # Nothing written: not the state, not the offer, not even the log entry.
    await after_first.assert_unchanged(b.store)
    doc = await b.store.calls.find_one({"_id": old.call_id})
    assert doc is not None and doc["offer"]["operator"] == "alice"


async def test_a_claim_that_loses_the_operator_touches_nothing(backend: Backend) -> None:
    """A stale view offers an operator another process has just reserved."""
    b = backend
    stale = await _idle_operator(b, "alice")
    # Another process reserves Alice; this process's view does not hear of it.
    b.app[FEED].flowing.clear()
    taken = await b.store.save_operator(
        stale, _offered(stale, "c-other", "o-other"), stale.activity_since
    )
    assert taken is not None
    call = await _insert_queued_call(b)
    before = await Snapshot.take(b.store)
    result = await b.engine._claim(call, stale)
    assert result is ClaimResult.OPERATOR_LOST
    await b.engine.drain()
    # Neither the call nor Alice (still the other process's) was written; nothing was sent.
    await before.assert_unchanged(b.store)
    assert b.platform.connects_by_target["alice"] == 0
    b.app[FEED].flowing.set()


async def test_a_claim_that_loses_the_call_gives_the_operator_back(backend: Backend) -> None:
    """Two claims on one call from the same view: the second loses and releases its operator."""
    b = backend
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    call = await _queued_call(b)  # nobody Ready: it waits, and this copy of it will go stale
    await _idle_operator(b, "alice", routable=False)  # takes the call the moment she is Ready
    await eventually(lambda: _state(b, call.call_id, "connected"), message="alice answered")
    bob_before = await _idle_operator(b, "bob")  # nothing left for him
    await b.engine.drain()
    after_first = await Snapshot.take(b.store, exclude_operators=("bob",))
    result = await b.engine._claim(call, bob_before)
    assert result is ClaimResult.CALL_LOST
    await b.engine.drain()
    await after_first.assert_unchanged(b.store, exclude_operators=("bob",))
    bob = await b.store.operator("bob")
    assert bob is not None and bob.routable and bob.idle_since == bob_before.idle_since
    assert bob.offer_id is None and bob.call_id is None
    assert b.platform.connects_by_target["bob"] == 0


async def _insert_queued_call(b: Backend) -> Call:
    """A waiting call written by another process (not matched by this one)."""
    now = datetime.now(UTC)
    call = Call(
        call_id=uuid.uuid4().hex,
        group="default",
        priority=0,
        media=Media.VOICE,
        state=CallState.QUEUED,
        created_at=now,
        enqueued_at=now,
        deadline=now + timedelta(minutes=10),
    )
    sid = f"s-{call.call_id[:8]}"
    extra = {"session_id": sid, "access_url": b.platform.access_url(sid), "log": []}
    await b.store.insert_call(call, extra, now)
    return call


async def _state(b: Backend, call_id: str, state: str) -> bool:
    doc = await b.store.calls.find_one({"_id": call_id})
    return doc is not None and doc["state"] == state


async def test_a_help_offer_that_loses_the_operator_writes_nothing_and_answers_409(
    backend: Backend,
) -> None:
    """A stale view asks in an operator another process has just offered a customer's call."""
    b = backend
    alice = await b.ready_operator("alice")
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    placed = await b.place_call()
    await eventually(lambda: _state(b, placed["call_id"], "connected"), message="alice answered")
    stale = await _idle_operator(b, "bob")
    await b.engine.drain()
    b.app[FEED].flowing.clear()
    taken = await b.store.save_operator(
        stale, _offered(stale, "c-other", "o-other"), stale.activity_since
    )
    assert taken is not None
    before = await Snapshot.take(b.store)
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/parties",
        json={"to": {"type": "operator", "address": "bob"}},
        headers=alice,
    )
    body = await resp.json()
    assert resp.status == 409 and body["error"]["code"] == "not_routable", body
    assert "offered" in body["error"]["message"]
    await b.engine.drain()
    await before.assert_unchanged(b.store)
    assert b.platform.connects_by_target["bob"] == 0
    b.app[FEED].flowing.set()


async def test_a_customer_offer_that_loses_to_a_help_offer_touches_nothing(
    backend: Backend,
) -> None:
    """The reverse: the help offer reserved the operator first; a claim from the old revision
    (another process's stale view) loses the operator and writes nothing."""
    b = backend
    alice = await b.ready_operator("alice")
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    b.platform.script("bob", Script(answer_after_s=None))
    placed = await b.place_call()
    await eventually(lambda: _state(b, placed["call_id"], "connected"), message="alice answered")
    stale = await _idle_operator(b, "bob")
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/parties",
        json={"to": {"type": "operator", "address": "bob"}},
        headers=alice,
    )
    assert resp.status == 202, await resp.text()
    await b.engine.drain()
    call = await _insert_queued_call(b)
    before = await Snapshot.take(b.store)
    result = await b.engine._claim(call, stale)
    assert result is ClaimResult.OPERATOR_LOST
    await b.engine.drain()
    await before.assert_unchanged(b.store)
    bob = await b.store.operator("bob")
    assert bob is not None and bob.offer_id == (await resp.json())["party_id"]
    assert b.platform.connects_by_target["bob"] == 1  # the help offer's leg only
