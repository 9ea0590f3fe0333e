"""Overflow to spare numbers end to end: the real inbound scenario in the emulator dials the
spare the backend names (callPSTN), real backend processes decide which spare and when.

No operator is Ready, so a call still queued after overflow_after_s (1 s here) goes to the
least used open spare; a busy spare hands on to the next; with every spare closed the call
keeps its place and an operator who becomes Ready later takes it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from tests.e2e.conftest import LiveBackend, MakeLiveBackend, registered_call_id, scenarios_for
from tests.e2e.emulator import EmulatorClient, Session
from tests.support.waiting import eventually

A, B = "+15550000101", "+15550000102"


def overflow_config(hours: str = "") -> str:
    def spare(number: str, name: str) -> str:
        h = f'hours = ["{hours}"]\n' if hours else ""
        return (
            f'[[spare_numbers]]\nnumber = "{number}"\nname = "{name}"\n'
            f'max_concurrent = 1\ndaily_cap = 5\ntimezone = "UTC"\n{h}enabled = true\n\n'
        )

    return (
        "rules = []\n\n"
        "[routing]\noverflow_retry_s = 1\n\n"
        f'[[groups]]\nname = "default"\noverflow_after_s = 1\nspares = ["{A}", "{B}"]\n\n'
        + spare(A, "Spare A")
        + spare(B, "Spare B")
    )


async def call_state(backend: LiveBackend, call_id: str, **expected: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if all(call.get(k) == v for k, v in expected.items()) else None

    found = await eventually(probe, timeout=15, message=f"call {call_id} with {expected}")
    assert found is not None
    return found


async def spare_usage(backend: LiveBackend) -> dict[str, dict[str, Any]]:
    queues = await backend._json("GET", "/api/v1/queues", (200,), headers=backend.admin)
    group = next(g for g in queues["groups"] if g["group"] == "default")
    return {s["number"]: s for s in group["spares"]}


async def pstn_dialled(session: Session) -> list[str]:
    return [str(e["address"]) for e in await session.entries("dialled") if e["type"] == "pstn"]


async def test_a_queued_call_overflows_to_the_first_spare(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(overflow_config())
    await emulator.script_callee(A, "answer", after_ms=50)
    session = await emulator.place_call(scenarios_for(tmp_path, backend), callerid="+15557770001")
    call_id = await registered_call_id(session, backend)
    await call_state(backend, call_id, state="queued")

    dialled = await session.wait("dialled", {"type": "pstn"}, timeout=10)
    assert dialled["address"] == A
    command = await session.wait("access_request", {"body": {"command": "connect"}})
    assert command["body"]["target"] == {"type": "pstn", "address": A}
    assert command["body"]["headers"]["X-Overflow"] == "1"
    assert command["reply"]["ok"] is True
    assert dialled["callerid"] == "+15557770001"
    assert dialled["t"] >= 1000, "not before overflow_after_s"
    await session.wait("bridged", after=dialled["seq"])
    call = await call_state(backend, call_id, state="overflow_connected")
    assert call["spare"]["number"] == A
    assert (await spare_usage(backend))[A]["active"] == 1

    await session.hangup_leg(A)  # the person at the spare number hangs up
    await session.wait("said", {"text": {"$contains": "Goodbye"}})
    await session.wait("terminated")
    call = await call_state(backend, call_id, state="ended")
    assert call["outcome"] == "overflowed"
    assert call["spare"]["number"] == A
    usage = (await spare_usage(backend))[A]
    assert usage["active"] == 0 and usage["used_today"] == 1
    assert await session.entries("asr_created") == [], "no pin question after a spare"
    assert await session.problems() == []


async def test_a_busy_spare_hands_on_to_the_next(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(overflow_config())
    await emulator.script_callee(A, "busy", after_ms=50)
    await emulator.script_callee(B, "answer", after_ms=50)
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    call_id = await registered_call_id(session, backend)

    first = await session.wait("dialled", {"type": "pstn"}, timeout=10)
    assert first["address"] == A
    busy = await session.wait("ended", {"leg": first["leg"], "how": "failed", "code": 486})
    second = await session.wait("dialled", {"type": "pstn"}, after=busy["seq"], timeout=10)
    assert second["address"] == B
    await session.wait("bridged", after=second["seq"])
    call = await call_state(backend, call_id, state="overflow_connected")
    assert call["spare"]["number"] == B
    usage = await spare_usage(backend)
    assert usage[A]["active"] == 0 and usage[B]["active"] == 1
    assert await pstn_dialled(session) == [A, B]

    await session.hangup_caller()
    await session.wait("terminated")
    call = await call_state(backend, call_id, state="ended")
    assert call["outcome"] == "overflowed" and call["spare"]["number"] == B
    assert await session.problems() == []


async def test_all_spares_closed_the_call_stays_queued_for_a_later_operator(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path, db_url: str
) -> None:
    # Open only on a weekday two days from now: closed at this moment.
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%a").lower()
    backend = await make_live_backend(overflow_config(hours=f"{later} 09:00-10:00"))
    await emulator.script_callee(A, "answer", after_ms=50)
    await emulator.script_callee(B, "answer", after_ms=50)
    await emulator.script_callee("opal", "answer", after_ms=50)
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    call_id = await registered_call_id(session, backend)

    client: MongoClient[dict[str, Any]] = MongoClient(db_url)
    calls = client.get_default_database()["calls"]

    async def next_round() -> Any:
        doc = await asyncio.to_thread(calls.find_one, {"_id": call_id}, {"next_overflow_at": 1})
        return doc.get("next_overflow_at") if doc else None

    try:
        # Two overflow rounds (overflow_retry_s = 1) that found no open spare.
        first = await eventually(next_round, timeout=10, message="an overflow round")

        async def another_round() -> Any:
            at = await next_round()
            return at if at and at != first else None

        await eventually(another_round, timeout=10, message="a second overflow round")
    finally:
        client.close()
    call = await call_state(backend, call_id, state="queued")
    assert call["spare"] is None and call["position"] == 1
    assert all(not s["open_now"] for s in (await spare_usage(backend)).values())

    await backend.ready_operator("opal")
    await session.wait("dialled", {"address": "opal"})
    await session.wait("bridged")
    call = await call_state(backend, call_id, state="connected", operator="opal")
    assert call["enqueued_at"] == call["created_at"], "the call kept its place"
    assert await pstn_dialled(session) == []
    await session.hangup_caller()
    await session.wait("terminated")
    await call_state(backend, call_id, state="ended", outcome="answered")
    assert await session.problems() == []
