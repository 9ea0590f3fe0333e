"""What a process killed half-way leaves behind is finished by the sweep of any other process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

PAST = timedelta(seconds=30)


async def _op(b: Backend, login: str) -> dict[str, Any]:
    return await b.operator(login)


async def test_operator_reserved_for_a_call_that_never_got_the_offer(backend: Backend) -> None:
    """Killed between the two guarded writes of a claim: the operator is released, no penalty."""
    backend.platform.script("wes", Script(talk_s=None))
    await backend.add_operator("wes")
    placed = await backend.place_call()  # queued: wes is not ready yet
    now = backend.engine.clock()
    await backend.store.operators.update_one(
        {"_id": "wes"},
        {
            "$set": {
                "presence": "ready",
                "activity": "offered",
                "offer_id": "lost-offer",
                "call_id": placed["call_id"],
                "activity_until": now - PAST,
                "last_seen": now,
            },
            "$inc": {"rev": 1},
        },
    )
    await backend.view_synced()
    await backend.engine.operator_deadline("wes")
    # Released with its place kept and no miss, then it takes the waiting call.
    call = await eventually(lambda: _state(backend, placed["call_id"], "connected"))
    assert call["operator"] == "wes"
    assert (await _op(backend, "wes"))["scores"]["misses"] == 0


async def test_offer_never_sent_expires_without_penalty(backend: Backend) -> None:
    """Killed after the claim, before the connect went out: requeued, operator released."""
    backend.platform.script("xena", Script(talk_s=None))
    await backend.add_operator("xena")
    placed = await backend.place_call()  # queued: xena is not ready yet
    now = backend.engine.clock()
    past = now - PAST
    # Both halves of a claim, written by a process that died before sending `connect`.
    await backend.store.operators.update_one(
        {"_id": "xena"},
        {
            "$set": {
                "presence": "ready",
                "activity": "offered",
                "offer_id": "dead-offer",
                "call_id": placed["call_id"],
                "activity_until": past,
                "last_seen": now,
            },
            "$inc": {"rev": 1},
        },
    )
    offer = {
        "offer_id": "dead-offer",
        "operator": "xena",
        "target": {"type": "user", "address": "xena"},
        "created_at": past,
        "expires_at": past,
        "sent_at": None,
    }
    await backend.store.calls.update_one(
        {"_id": placed["call_id"]},
        {
            "$set": {"state": "offering", "offer": offer, "deadline": past, "attempts": 1},
            "$inc": {"rev": 1},
        },
    )
    await backend.view_synced()
    await backend.engine.call_deadline(placed["call_id"])
    # Requeued at the head, xena released with no miss, and offered the call again.
    again = await eventually(lambda: _state(backend, placed["call_id"], "connected"))
    assert again["attempts"] == 2 and again["operator"] == "xena"
    assert again["offer"]["offer_id"] != "dead-offer"
    assert (await _op(backend, "xena"))["scores"]["misses"] == 0
    cancels = [e for e in again["log"] if e.get("command", {}).get("command") == "cancel"]
    assert cancels and cancels[0]["command"]["offer_id"] == "dead-offer"


async def test_operator_left_in_a_call_that_has_ended(backend: Backend) -> None:
    """The call ended but the operator's update was lost: wrap-up (here zero), then idle."""
    backend.platform.script("yuri", Script(talk_s=None))
    await backend.ready_operator("yuri")
    placed = await backend.place_call()
    await eventually(lambda: _state(backend, placed["call_id"], "connected"))
    now = backend.engine.clock()
    await backend.store.calls.update_one(
        {"_id": placed["call_id"]},
        {"$set": {"state": "ended", "outcome": "answered", "ended_at": now, "deadline": None}},
    )
    await backend.store.operators.update_one(
        {"_id": "yuri"}, {"$set": {"activity_until": now - PAST}, "$inc": {"rev": 1}}
    )
    await backend.view_synced()
    await backend.engine.operator_deadline("yuri")
    assert (await _op(backend, "yuri"))["activity"] == "idle"


async def test_the_sweep_finds_due_work_by_itself(backend: Backend) -> None:
    """No timer in this process knows about the deadline: only the sweep can find it."""
    await backend.add_operator("zoe")
    auth = await backend.login("zoe")
    await backend.set_status(auth, "ready")
    now = backend.engine.clock()
    await backend.store.operators.update_one(
        {"_id": "zoe"},
        {
            "$set": {"activity": "banned", "activity_until": now - PAST, "ban_level": 1},
            "$inc": {"rev": 1},
        },
    )

    async def idle() -> bool:
        activity: str = (await _op(backend, "zoe"))["activity"]
        return activity == "idle"

    await eventually(idle, timeout=5, message="the sweep to lift the ban")


async def test_a_restarted_backend_routes_a_call_queued_before(make_backend: Any) -> None:
    first: Backend = await make_backend()
    placed = await first.place_call()
    await first.client.close()  # the whole app shuts down
    second: Backend = await make_backend()
    second.platform.sessions.update(first.platform.sessions)
    second.platform.base_url = first.platform.base_url  # the session's access URL is the old one
    first.platform.backend_urls[:] = second.platform.backend_urls
    first.platform.script("amy", Script(talk_s=None))
    await second.ready_operator("amy")
    call = await eventually(lambda: _state(second, placed["call_id"], "connected"))
    assert call["operator"] == "amy"


async def _state(b: Backend, call_id: str, state: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] == state else None
