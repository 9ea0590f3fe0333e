"""An operator's overdue offer or call is settled from the call, the record of truth.

Each test forces the state a crash or a lost write leaves behind: the operator's half written
behind this process's view (as another process would), the operator's deadline passed, the
call's not yet (so only `operator_deadline` can act, whichever process's sweep calls it). The
operator must then follow the call exactly: the call's own decision applied to the call, or the
matching transition applied to the operator.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from pymongo import ReturnDocument

from backend.adapters.documents import operator_from
from backend.domain.model import Activity, Operator
from backend.keys import FEED, SWEEPER
from tests.conftest import Backend
from tests.support.desk import call_in_state, connected_call, operator_in
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

PAST = timedelta(seconds=30)
LATER = timedelta(seconds=300)
# The sales group's wrap-up differs from the default policy's (0 s in the tests), so the
# policy of the call's group is the one applied; a pause long enough to stay put while read.
CONFIG = """
[routing]
no_answer_delay_s = 60

[[groups]]
name = "default"

[[groups]]
name = "sales"
wrap_up_s = 7

[[groups]]
name = "support"

[calls]
max_parties = 4
"""
SALES = json.dumps({"category": "sales"})


@pytest.fixture
async def b(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    return await make_backend(CONFIG)


def _ms(at: datetime) -> datetime:
    """A time as the database keeps it (milliseconds)."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def _op(b: Backend, login: str) -> Operator:
    op: Operator | None = await b.store.operator(login)
    assert op is not None
    return op


async def _settled(b: Backend, login: str, before: Operator) -> Operator:
    """The operator once written again after `before` (by this call or a sweep racing it)."""

    async def probe() -> Operator | None:
        op = await _op(b, login)
        return op if op.rev > before.rev else None

    settled: Operator = await eventually(probe, timeout=5, message=f"{login} settled")
    return settled


async def _op_doc(b: Backend, login: str) -> dict[str, Any]:
    doc = await b.store.operators.find_one({"_id": login})
    assert doc is not None
    return dict(doc)


async def _behind(
    b: Backend, login: str, op_set: dict[str, Any], call_id: str = "", call_set: Any = None
) -> Operator:
    """Write the call, then the operator, behind the view, as another process would; return
    the operator exactly as written (a sweep may settle it at once, before this returns)."""
    if call_set is not None:
        await b.store.calls.update_one({"_id": call_id}, {"$set": call_set, "$inc": {"rev": 1}})
        # In the view before the operator falls due: a sweep settling them reads this call.
        await b.view_synced()
    doc = await b.store.operators.find_one_and_update(
        {"_id": login}, {"$set": op_set, "$inc": {"rev": 1}}, return_document=ReturnDocument.AFTER
    )
    assert doc is not None
    await b.view_synced()
    return operator_from(doc)


async def test_an_offer_whose_call_still_rings_it_expires_on_the_call(b: Backend) -> None:
    """The call is offering the operator's offer: the call's expiry decides (a counted miss,
    the call back at the head), not a release of the operator alone."""
    await b.add_operator("ann", [("sales", 1)])
    placed = await b.place_call(custom_data=SALES)
    call_id = placed["call_id"]
    now = _ms(b.engine.clock())
    past = now - PAST
    offer = {
        "offer_id": "o-1",
        "operator": "ann",
        "target": {"type": "user", "address": "ann"},
        "created_at": past,
        "expires_at": past,
        "sent_at": past,  # the phone rang: a no-answer is the operator's
    }
    before = await _behind(
        b,
        "ann",
        {
            "presence": "ready",
            "activity": "offered",
            "activity_since": past,
            "offer_id": "o-1",
            "call_id": call_id,
            "activity_until": past,
            "last_seen": now,
        },
        call_id,
        {"state": "offering", "offer": offer, "deadline": now + LATER, "attempts": 1},
    )
    await b.engine.operator_deadline("ann")
    after = await _settled(b, "ann", before)
    assert after.activity_until is not None
    assert after == replace(
        before,
        activity=Activity.PAUSED_NO_ANSWER,
        activity_since=after.activity_since,
        activity_until=after.activity_since + timedelta(seconds=60),
        offer_id=None,
        call_id=None,
        misses_in_row=1,
        stats=replace(before.stats, misses=1),
        rev=before.rev + 1,
    )
    assert after.activity_since >= now
    call = await b.call(call_id)
    assert (call["state"], call["attempts"], call["offer"]) == ("queued", 1, None)
    kinds = [(e["kind"], e.get("from"), e.get("to")) for e in call["log"] if e["kind"] == "state"]
    assert kinds[-1] == ("state", "offering", "queued")
    cancels = [e["command"] for e in call["log"] if e.get("command", {}).get("command") == "cancel"]
    assert cancels == [{"command": "cancel", "offer_id": "o-1"}]


async def test_an_offer_whose_call_was_answered_is_answered_on_the_operator(b: Backend) -> None:
    """The call says the operator answered (their own write was lost): in call, one answer
    more, no answer time added (the call does not know it), the in-call check armed."""
    await b.add_operator("bea")
    placed = await b.place_call()
    call_id = placed["call_id"]
    now = _ms(b.engine.clock())
    past = now - PAST
    before = await _behind(
        b,
        "bea",
        {
            "presence": "ready",
            "activity": "offered",
            "activity_since": past,
            "offer_id": "o-2",
            "call_id": call_id,
            "activity_until": past,
            "misses_in_row": 2,
            "ban_level": 1,
            "stats": {
                "offers": 3,
                "answers": 1,
                "misses": 2,
                "answer_s_total": 4.5,
                "talk_s_total": 10.0,
            },
            "last_seen": now,
        },
        call_id,
        {
            "state": "connected",
            "operator": "bea",
            "connected_at": past,
            "deadline": now + LATER,
            "offer": None,
        },
    )
    await b.engine.operator_deadline("bea")
    after = await _settled(b, "bea", before)
    doc = await _op_doc(b, "bea")
    assert after == replace(
        before,
        activity=Activity.IN_CALL,
        activity_since=doc["updated_at"],
        activity_until=doc["updated_at"] + timedelta(seconds=600),
        offer_id=None,
        misses_in_row=0,
        ban_level=0,
        stats=replace(before.stats, answers=2, answer_s_total=4.5),
        rev=before.rev + 1,
    )
    assert doc["updated_at"] >= now


async def test_a_call_still_going_is_checked_again_later(b: Backend) -> None:
    """In call, the call connected to them: nothing changes but the next check's time."""
    placed = await _connected(b, "cyd", SALES)
    now = _ms(b.engine.clock())
    before = await _behind(b, "cyd", {"activity_until": now - PAST})
    assert before.activity is Activity.IN_CALL and before.call_id == placed["call_id"]
    await b.engine.operator_deadline("cyd")
    after = await _settled(b, "cyd", before)
    doc = await _op_doc(b, "cyd")
    assert doc["updated_at"] >= now
    assert after == replace(
        before, activity_until=doc["updated_at"] + timedelta(seconds=600), rev=before.rev + 1
    )


async def test_a_call_that_ended_finishes_the_operator_with_its_talk_time(b: Backend) -> None:
    """The call ended (the operator's update lost): wrap-up of the call's group, the talk
    time from the call's own connected and ended times."""
    placed = await _connected(b, "dan", SALES)
    now = _ms(b.engine.clock())
    connected = now - timedelta(seconds=50)
    ended = connected + timedelta(seconds=42, milliseconds=500)
    before = await _behind(
        b,
        "dan",
        {"activity_until": now - PAST},
        placed["call_id"],
        {
            "state": "ended",
            "outcome": "answered",
            "connected_at": connected,
            "ended_at": ended,
            "deadline": None,
        },
    )
    await b.engine.operator_deadline("dan")
    after = await _settled(b, "dan", before)
    assert after.activity_since >= now
    assert after == replace(
        before,
        activity=Activity.WRAP_UP,
        activity_since=after.activity_since,
        activity_until=after.activity_since + timedelta(seconds=7),
        stats=replace(before.stats, talk_s_total=before.stats.talk_s_total + 42.5),
        rev=before.rev + 1,
    )


async def test_a_call_gone_or_never_connected_finishes_the_operator_with_no_talk(
    b: Backend,
) -> None:
    """No call at all (the default policy: no wrap-up; an offer for it released), and an
    ended call that never connected (no talk time to take from it)."""
    await b.add_operator("eve")
    now = _ms(b.engine.clock())
    before = await _behind(
        b,
        "eve",
        {
            "presence": "ready",
            "activity": "in_call",
            "call_id": "no-such-call",
            "activity_until": now - PAST,
            "stats": {"offers": 1, "answers": 1, "talk_s_total": 3.0},
            "last_seen": now,
        },
    )
    await b.engine.operator_deadline("eve")
    after = await _settled(b, "eve", before)
    assert after.activity_since >= now
    assert after == replace(
        before,
        activity=Activity.IDLE,
        activity_since=after.activity_since,
        idle_since=after.activity_since,
        activity_until=None,
        call_id=None,
        rev=before.rev + 1,
    )

    # Offered for a call that is nowhere: the offer is released (no miss), place kept.
    await b.add_operator("gil")
    before = await _behind(
        b,
        "gil",
        {
            "presence": "ready",
            "activity": "offered",
            "offer_id": "o-lost",
            "call_id": "no-such-call",
            "activity_until": now - PAST,
            "stats": {"offers": 2},
            "last_seen": now,
        },
    )
    await b.engine.operator_deadline("gil")
    after = await _settled(b, "gil", before)
    assert after == replace(
        before,
        activity=Activity.IDLE,
        activity_since=after.activity_since,
        activity_until=None,
        offer_id=None,
        call_id=None,
        stats=replace(before.stats, offers=1),
        rev=before.rev + 1,
    )

    await b.add_operator("fay", [("sales", 1)])
    placed = await b.place_call(custom_data=SALES)
    before = await _behind(
        b,
        "fay",
        {
            "presence": "ready",
            "activity": "in_call",
            "call_id": placed["call_id"],
            "activity_until": now - PAST,
            "last_seen": now,
        },
        placed["call_id"],
        {"state": "ended", "outcome": "abandoned", "ended_at": now, "deadline": None},
    )
    await b.engine.operator_deadline("fay")
    after = await _settled(b, "fay", before)
    assert after == replace(
        before,
        activity=Activity.WRAP_UP,
        activity_since=after.activity_since,
        activity_until=after.activity_since + timedelta(seconds=7),
        rev=before.rev + 1,
    )


async def test_a_help_offer_follows_its_party_answered_or_gone(b: Backend) -> None:
    """A helper's offer is recorded by their party on the call: a party on the line is an
    answer (no answer time), a party that left releases the offer with no miss."""
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]

    gus = await _ringing_helper(b, call_id, alice, "gus", "connected")
    await b.engine.operator_deadline("gus")
    after = await _settled(b, "gus", gus)
    doc = await _op_doc(b, "gus")
    assert after == replace(
        gus,
        activity=Activity.IN_CALL,
        activity_since=doc["updated_at"],
        activity_until=doc["updated_at"] + timedelta(seconds=600),
        offer_id=None,
        stats=replace(gus.stats, answers=gus.stats.answers + 1),
        rev=gus.rev + 1,
    )

    now = _ms(b.engine.clock())  # before hal falls due (a sweep may settle hal at once)
    hal = await _ringing_helper(b, call_id, alice, "hal", "left")
    assert hal.stats.offers == 1
    await b.engine.operator_deadline("hal")
    after = await _settled(b, "hal", hal)
    assert after == replace(
        hal,
        activity=Activity.IDLE,
        activity_since=after.activity_since,
        activity_until=None,
        offer_id=None,
        call_id=None,
        stats=replace(hal.stats, offers=0),
        rev=hal.rev + 1,
    )
    assert after.activity_since >= now
    await call_in_state(b, call_id, "connected")


async def _ringing_helper(
    b: Backend, call_id: str, owner: dict[str, str], login: str, party_state: str
) -> Operator:
    """A helper asked in and ringing; then, behind the view, their party in `party_state`
    (the write that told the operator lost) and their offer overdue."""
    await b.ready_operator(login)
    b.platform.script(login, Script(answer_after_s=None, talk_s=None))  # rings on
    resp = await b.client.post(
        f"/api/v1/calls/{call_id}/parties",
        json={"to": {"type": "operator", "address": login}},
        headers=owner,
    )
    assert resp.status == 202, await resp.text()
    party_id = (await resp.json())["party_id"]
    await operator_in(b, login, "offered")
    stored = await b.store.calls.find_one({"_id": call_id})
    assert stored is not None
    parties = [
        {**p, "state": party_state} if p["party_id"] == party_id else p for p in stored["parties"]
    ]
    now = _ms(b.engine.clock())
    op = await _behind(b, login, {"activity_until": now - PAST}, call_id, {"parties": parties})
    assert (op.activity, op.offer_id, op.call_id) == (Activity.OFFERED, party_id, call_id)
    return op


async def _quiet(b: Backend) -> None:
    """The look this process's own writes scheduled has been taken: only what comes next
    can schedule another."""

    async def idle() -> bool:
        return b.engine._rebalance_due is None

    await eventually(idle, message="the scheduled rebalance")
    await b.engine.drain()


async def _connected(b: Backend, login: str, custom_data: str) -> dict[str, Any]:
    await b.ready_operator(login, [("sales", 1)])
    placed = await connected_call(b, login, custom_data=custom_data)
    await operator_in(b, login, "in_call")  # the operator's own write follows the call's
    return placed


async def test_a_session_another_process_registered_answers_with_its_call(b: Backend) -> None:
    """The scenario repeated a session that another process inserted and this one has not
    heard of yet: the insert fails on the session's unique key and the reply is the other
    process's call (200, not created), whether the call was to wait, to be offered (the
    operator reserved for it is given back) or to be refused at once. A new session of the
    closed group is created (201) and known here as stored."""
    await b.ready_operator("ivy", [("sales", 1)])
    resp = await b.client.put(
        "/api/v1/groups/support/closed", json={"closed": True}, headers=b.admin
    )
    assert resp.status == 200, await resp.text()
    template = await b.store.calls.find_one({"_id": (await b.place_call())["call_id"]})
    assert template is not None
    ivy = await _op(b, "ivy")
    b.app[FEED].flowing.clear()  # the other process's inserts do not reach this view
    groups = {1: "default", 2: "sales", 3: "support"}
    for n, group in groups.items():
        await b.store.calls.insert_one(
            {
                **template,
                "_id": f"elsewhere-{n}",
                "session_id": f"dup-{n}",
                "group": group,
                "state": "ended",
                "outcome": "abandoned",
                "ended_at": template["created_at"],
                "deadline": None,
            }
        )
    # Queued, offered to ivy, refused at once (its group is closed): three ways of inserting.
    for n, custom in ((1, ""), (2, SALES), (3, json.dumps({"category": "support"}))):
        body = {
            "session_id": f"dup-{n}",
            "access_url": b.platform.access_url(f"dup-{n}"),
            "caller": "+15550000002",
            "custom_data": custom,
        }
        resp = await b.client.post("/api/v1/calls", json=body, headers=b.plat)
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {
            "call_id": f"elsewhere-{n}",
            "state": "ended",
            "group": groups[n],
            "media": "voice",
            "outcome": "abandoned",
        }
    assert await b.store.calls.count_documents({}) == 4
    # Reserved for the second, then given back: idle, its offer not counted, place kept.
    after = await _op(b, "ivy")
    assert after == replace(ivy, activity_since=after.activity_since, rev=ivy.rev + 2)
    assert b.platform.connects_by_target["ivy"] == 0
    b.app[FEED].flowing.set()
    # A new session of the closed group: inserted ended at once, and created.
    body = {
        "session_id": "fresh-3",
        "access_url": b.platform.access_url("fresh-3"),
        "caller": "+15550000003",
        "custom_data": json.dumps({"category": "support"}),
    }
    resp = await b.client.post("/api/v1/calls", json=body, headers=b.plat)
    stored = await b.store.calls.find_one({"session_id": "fresh-3"})
    assert stored is not None
    assert resp.status == 201
    assert await resp.json() == {
        "call_id": stored["_id"],
        "state": "ended",
        "group": "support",
        "media": "voice",
        "outcome": "rejected",
        "action": stored["action"],
    }
    # This process's copy is the stored call but its log (kept in the database only).
    known = b.engine.call_doc(stored["_id"])
    assert known is not None
    assert known == {k: v for k, v in stored.items() if k not in ("log", "updated_at")}
    assert stored["updated_at"] == stored["created_at"] == stored["ended_at"]


async def test_a_background_task_that_fails_is_logged_with_its_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """A spawned task's failure is logged with its exception; a cancelled one is not."""
    engine = backend.engine
    boom = RuntimeError("boom")

    async def fails() -> None:
        raise boom

    async def waits() -> None:
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="backend.services.engine"):
        engine.spawn(fails())
        others = set(engine._tasks)
        engine.spawn(waits())
        [waiting] = engine._tasks - others
        waiting.cancel()
        await engine.drain()
    assert not engine._tasks
    records = [
        (r.getMessage(), r.exc_info[1] if r.exc_info else None)
        for r in caplog.records
        if r.name == "backend.services.engine"
    ]
    assert records == [("background task failed", boom)]


async def test_a_deadline_due_this_very_moment_is_acted_on(b: Backend) -> None:
    """`activity_until` equal to now is due: a pause ends, and so does a wrap-up that names
    its call (the call is not consulted: only offers and calls in progress are settled), into
    Video Reserved when the operator sent a video invitation."""
    await b.add_operator("pat")
    await b.add_operator("quinn")
    at = _ms(b.engine.clock())
    real = b.engine.clock
    b.engine.clock = lambda: at
    try:
        pat = await _behind(
            b,
            "pat",
            {
                "presence": "ready",
                "activity": "paused_no_answer",
                "activity_until": at,
                "last_seen": at,
            },
        )
        quinn = await _behind(
            b,
            "quinn",
            {
                "presence": "ready",
                "activity": "wrap_up",
                "call_id": "some-call",
                "activity_until": at,
                "last_seen": at,
            },
        )
        for login, before in (("pat", pat), ("quinn", quinn)):
            await b.engine.operator_deadline(login)
            assert await _settled(b, login, before) == replace(
                before,
                activity=Activity.IDLE,
                activity_since=at,
                idle_since=at,
                activity_until=None,
                call_id=None,
                rev=before.rev + 1,
            )
        # A wrap-up after a call with a video invitation pending: Video Reserved for the
        # configured time (300 s by default) instead of idle.
        await b.add_operator("rex")
        rex = await _behind(
            b,
            "rex",
            {
                "presence": "ready",
                "activity": "wrap_up",
                "call_id": "voice-call",
                "video_invite": "inv-1",
                "activity_until": at,
                "last_seen": at,
            },
        )
        await b.engine.operator_deadline("rex")
        assert await _settled(b, "rex", rex) == replace(
            rex,
            activity=Activity.VIDEO_RESERVED,
            activity_since=at,
            activity_until=at + timedelta(seconds=300),
            call_id=None,
            rev=rex.rev + 1,
        )
    finally:
        b.engine.clock = real


async def test_a_change_made_behind_the_view_is_matched_by_the_backstop(
    b: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No process matched it (another wrote it and died): an operator made Ready and idle,
    or a call queued, is matched once the change reaches the view, without the sweep."""

    async def no_sweep_rebalance() -> None:
        pass

    monkeypatch.setattr(b.app[SWEEPER], "rebalance", no_sweep_rebalance)
    b.platform.script("kim", Script(talk_s=None))
    b.platform.script("lou", Script(answer_after_s=None, talk_s=None))  # rings on
    await b.add_operator("kim")
    first = await b.place_call()  # queued: kim is not ready
    await _quiet(b)
    now = _ms(b.engine.clock())
    await b.store.operators.update_one(
        {"_id": "kim"},
        {"$set": {"presence": "ready", "last_seen": now}, "$inc": {"rev": 1}},
    )
    call = await call_in_state(b, first["call_id"], "connected")
    assert call["operator"] == "kim"

    await b.ready_operator("lou")  # nothing waits: lou stays idle
    await _quiet(b)
    template = await b.store.calls.find_one({"_id": first["call_id"]})
    assert template is not None
    queued = {
        k: v
        for k, v in template.items()
        if k not in ("offer", "operator", "connected_at", "log", "parties", "deadline")
    }
    await b.store.calls.insert_one(
        {**queued, "_id": "behind", "session_id": "behind", "state": "queued", "rev": 0}
    )
    call = await call_in_state(b, "behind", "offering")
    assert call["offer"]["operator"] == "lou"


async def test_a_call_in_progress_past_its_check_asks_the_session_how_it_is(b: Backend) -> None:
    """The in-call check: the scenario is asked for its status, the next check armed."""
    placed = await _connected(b, "sid", SALES)
    now = _ms(b.engine.clock())
    await b.store.calls.update_one(
        {"_id": placed["call_id"]}, {"$set": {"deadline": now - PAST}, "$inc": {"rev": 1}}
    )
    await b.view_synced()
    await b.engine.call_deadline(placed["call_id"])
    await b.engine.drain()
    commands = b.platform.sessions[placed["session_id"]].commands
    assert [c for c in commands if c["command"] != "connect"] == [{"command": "status"}]
    doc = await b.store.calls.find_one({"_id": placed["call_id"]})
    assert doc is not None and doc["deadline"] - doc["updated_at"] == timedelta(seconds=600)
