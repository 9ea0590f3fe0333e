"""Overflow to spare numbers: threshold, least used first, busy → next, hours, limits, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

A, B = "+15550000101", "+15550000102"


def overflow_config(
    *, cap: int = 5, concurrent: int = 1, hours_a: str = "", hours_b: str = ""
) -> str:
    def spare(number: str, hours: str) -> str:
        h = f'hours = ["{hours}"]\n' if hours else ""
        return (
            f'[[spare_numbers]]\nnumber = "{number}"\nname = "Spare {number[-1]}"\n'
            f"max_concurrent = {concurrent}\ndaily_cap = {cap}\n{h}"
        )

    return (
        "rules = []\n\n[routing]\noverflow_retry_s = 1\n\n"
        f'[[groups]]\nname = "default"\noverflow_after_s = 1\nspares = ["{A}", "{B}"]\n\n'
        + spare(A, hours_a)
        + spare(B, hours_b)
    )


async def _call(b: Backend, call_id: str, *states: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] in states else None


async def _spares(b: Backend) -> dict[str, dict[str, Any]]:
    resp = await b.client.get("/api/v1/queues", headers=b.admin)
    group = next(g for g in (await resp.json())["groups"] if g["group"] == "default")
    return {s["number"]: s for s in group["spares"]}


@pytest.fixture
async def to_a_spare(make_backend: Any) -> dict[str, Any]:
    """A call past its threshold goes to a spare and ends there; compared whole on the way.

    A fixture, so that mutmut (which runs the tests reaching a mutant fastest *call* first,
    up to a time budget) runs it among the first: see tests/integration/test_exact_calls.py."""
    b: Backend = await make_backend(overflow_config())
    b.platform.script(A, Script(talk_s=None))
    placed = await b.place_call()
    assert placed["state"] == "queued"
    call = await eventually(lambda: _call(b, placed["call_id"], "overflow_connected"), timeout=6)
    assert call["spare"]["number"] == A
    connect = b.platform.sessions[placed["session_id"]].commands[-1]
    assert connect["target"] == {"type": "pstn", "address": A}
    assert connect["headers"]["X-Overflow"] == "1"
    assert (await _spares(b))[A]["active"] == 1
    # Compared whole: the spare's attempt on the call, its log entry, the connect, the slot.
    raw = await b.store.calls.find_one({"_id": placed["call_id"]})
    assert raw is not None
    call_id, spare = placed["call_id"], raw["spare"]
    offer_id, at = spare["offer_id"], spare["created_at"]
    assert connect == {
        "command": "connect",
        "call_id": call_id,
        "offer_id": offer_id,
        "target": {"type": "pstn", "address": A},
        "video": False,
        "ring_timeout_s": 10,
        "headers": {"X-Call-Id": call_id, "X-Offer-Id": offer_id, "X-Overflow": "1"},
    }
    sent = next(e for e in raw["log"] if e["kind"] == "command" and e["command"] == connect)
    assert spare == {
        "offer_id": offer_id,
        "number": A,
        "created_at": at,
        "expires_at": at + timedelta(seconds=11),  # ring_timeout_s + offer_grace_s
        "sent_at": sent["at"],
        "fallback": False,
    }
    offered = [e for e in raw["log"] if e["kind"] == "spare_offer"]
    assert offered == [{"at": at, "kind": "spare_offer", "number": A, "offer_id": offer_id}]
    assert raw["spares_tried"] == [A]
    slots = b.store.calls.database["spare_slots"]
    assert [d async for d in slots.find({}, sort=[("_id", 1)])] == [
        {"_id": f"{A}#0", "number": A, "call_id": call_id, "taken_at": at},
        {"_id": f"{B}#0", "number": B, "call_id": None, "taken_at": None},
    ]
    resp = await b.client.post(
        f"/api/v1/calls/{placed['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    assert resp.status == 200
    ended = await b.call(placed["call_id"])
    assert ended["outcome"] == "overflowed" and ended["spare"]["number"] == A
    assert [d async for d in slots.find({"number": A})] == [
        {"_id": f"{A}#0", "number": A, "call_id": None, "taken_at": None}
    ]
    return (await _spares(b))[A]


async def test_a_call_waiting_past_the_threshold_goes_to_a_spare(
    to_a_spare: dict[str, Any],
) -> None:
    assert (to_a_spare["active"], to_a_spare["used_today"]) == (0, 1)


async def test_a_busy_spare_hands_on_to_the_next(make_backend: Any) -> None:
    b: Backend = await make_backend(overflow_config())
    b.platform.script(A, Script(fail_code=486))
    b.platform.script(B, Script(talk_s=None))
    placed = await b.place_call()
    call = await eventually(lambda: _call(b, placed["call_id"], "overflow_connected"), timeout=8)
    assert call["spare"]["number"] == B
    assert b.platform.connects_by_target[A] == 1
    assert (await _spares(b))[A]["active"] == 0  # the busy spare's slot is free again


async def test_spares_closed_the_call_keeps_its_place_for_an_operator(make_backend: Any) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%a").lower()
    closed = f"{later} 09:00-10:00"
    b: Backend = await make_backend(overflow_config(hours_a=closed, hours_b=closed))
    placed = await b.place_call()

    await eventually(
        lambda: b.store.calls.find_one(
            {"_id": placed["call_id"], "state": "queued", "next_overflow_at": {"$ne": None}}
        ),
        timeout=6,
        message="an overflow round that found no spare",
    )
    assert b.platform.connects_by_target[A] == b.platform.connects_by_target[B] == 0
    b.platform.script("opal", Script(talk_s=None))
    await b.ready_operator("opal")
    call = await eventually(lambda: _call(b, placed["call_id"], "connected"))
    assert call["operator"] == "opal" and call["enqueued_at"] == call["created_at"]


async def test_concurrency_limit_and_daily_cap(make_backend: Any) -> None:
    b: Backend = await make_backend(overflow_config(cap=1))
    b.platform.script(A, Script(talk_s=None))
    b.platform.script(B, Script(talk_s=None))
    calls = [await b.place_call() for _ in range(3)]
    ids = [c["call_id"] for c in calls]

    async def two_on_spares() -> list[dict[str, Any]] | None:
        states = [await b.call(i) for i in ids]
        on = [c for c in states if c["state"] == "overflow_connected"]
        return states if len(on) == 2 else None

    states = await eventually(two_on_spares, timeout=8)
    assert {c["spare"]["number"] for c in states if c["spare"]} == {A, B}
    waiting = next(c for c in states if c["state"] == "queued")
    # One call each is today's cap: ending them frees the slots but not the cap.
    for c in states:
        if c["state"] == "overflow_connected":
            await b.client.post(
                f"/api/v1/calls/{c['call_id']}/events",
                json={"type": "operator_hung_up"},
                headers=b.plat,
            )
    usage = await _spares(b)
    assert usage[A]["used_today"] == usage[B]["used_today"] == 1
    assert usage[A]["active"] == usage[B]["active"] == 0
    await eventually(
        lambda: b.store.calls.find_one(
            {"_id": waiting["call_id"], "next_overflow_at": {"$ne": None}}
        ),
        timeout=6,
        message="a round that found both spares at their cap",
    )
    assert (await b.call(waiting["call_id"]))["state"] == "queued"
    assert b.platform.connects_by_target[A] == b.platform.connects_by_target[B] == 1


def one_line_config(*, cap: int = 5) -> str:
    """One spare number with one line; a long retry, so only a freed line can explain a move."""
    return (
        "rules = []\n\n[routing]\noverflow_retry_s = 120\n\n"
        f'[[groups]]\nname = "default"\noverflow_after_s = 1\nspares = ["{A}"]\n\n'
        f'[[spare_numbers]]\nnumber = "{A}"\nname = "Spare line"\n'
        f"max_concurrent = 1\ndaily_cap = {cap}\n"
    )


async def _one_on_the_line_one_waiting(b: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
    """Call 1 talks on the spare's only line; call 2 is past its threshold and found it busy."""
    b.platform.script(A, Script(talk_s=None))
    first = await b.place_call()
    await eventually(lambda: _call(b, first["call_id"], "overflow_connected"), timeout=6)
    second = await b.place_call()
    await eventually(
        lambda: b.store.calls.find_one(
            {"_id": second["call_id"], "state": "queued", "next_overflow_at": {"$ne": None}}
        ),
        timeout=6,
        message="call 2's overflow round finding the line busy",
    )
    return first, second


async def test_a_freed_spare_line_goes_at_once_to_the_waiting_call(make_backend: Any) -> None:
    b: Backend = await make_backend(one_line_config())
    first, second = await _one_on_the_line_one_waiting(b)

    resp = await b.client.post(
        f"/api/v1/calls/{first['call_id']}/events",
        json={"type": "operator_hung_up"},
        headers=b.plat,
    )
    assert resp.status == 200
    # Not `overflow_retry_s` (120 s) later: the line is offered the moment it is free.
    call = await eventually(
        lambda: _call(b, second["call_id"], "overflow_offering", "overflow_connected"),
        timeout=3,
        message="the waiting call taking the freed line",
    )
    assert call["spare"]["number"] == A
    assert b.platform.connects_by_target[A] == 2


async def test_a_later_call_does_not_take_a_free_line_from_a_waiting_one(
    make_backend: Any,
) -> None:
    b: Backend = await make_backend(one_line_config(cap=2))
    first, second = await _one_on_the_line_one_waiting(b)
    # The line comes free without anyone offering it (a slot freed outside the routing, as
    # the sweep does for a dead process, or a raised limit): call 2 still waits for a retry.
    freed = await b.store.calls.database["spare_slots"].update_one(
        {"number": A, "call_id": first["call_id"]}, {"$set": {"call_id": None, "taken_at": None}}
    )
    assert freed.modified_count == 1
    third = await b.place_call()
    # Call 3 passes its threshold one second later and finds the line free: it must leave it
    # (and the day's last call) to call 2, which has waited longer.
    call = await eventually(
        lambda: _call(b, second["call_id"], "overflow_offering", "overflow_connected"),
        timeout=4,
        message="the longest-waiting call taking the free line",
    )
    assert call["spare"]["number"] == A
    later = await b.call(third["call_id"])
    assert later["state"] == "queued" and later["spare"] is None
    usage = await _spares(b)
    assert usage[A]["used_today"] == 2
