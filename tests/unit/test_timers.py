"""The keyed deadlines behind one APScheduler job (backend/adapters/scheduler.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.adapters.scheduler import ALARM, Timers


async def test_deadlines_fire_in_time_order_newest_per_key_and_not_when_removed() -> None:
    timers = Timers()
    timers.start()
    fired: list[str] = []
    done = asyncio.Event()

    async def note(arg: str) -> None:
        fired.append(arg)
        if arg == "last":
            done.set()

    try:
        now = datetime.now(UTC)
        ms = timedelta(milliseconds=1)
        timers.at("op:a", now + 60 * ms, note, "a-first")
        timers.at("op:a", now + 120 * ms, note, "a-replaced")  # the newer one counts
        timers.at("call:b", now + 30 * ms, note, "b")
        timers.at("call:c", now + 40 * ms, note, "c-removed")
        timers.remove("call:c")
        timers.at("call:d", now - 10 * ms, note, "d-overdue")  # already due: at once
        timers.at("call:z", now + 200 * ms, note, "last")
        # One APScheduler job carries them all, armed for the earliest.
        assert [job.id for job in timers.scheduler.get_jobs()] == [ALARM]
        assert timers.pending() == 4
        await asyncio.wait_for(done.wait(), 5)
        assert fired == ["d-overdue", "b", "a-replaced", "last"]
        assert timers.pending() == 0
    finally:
        timers.stop()


async def test_a_failing_deadline_does_not_stop_the_others() -> None:
    timers = Timers()
    timers.start()
    fired: list[str] = []
    done = asyncio.Event()

    async def boom(arg: str) -> None:
        raise RuntimeError(arg)

    async def note(arg: str) -> None:
        fired.append(arg)
        done.set()

    try:
        now = datetime.now(UTC)
        timers.at("x", now, boom, "x")
        timers.at("y", now + timedelta(milliseconds=20), note, "y")
        await asyncio.wait_for(done.wait(), 5)
        assert fired == ["y"]
    finally:
        timers.stop()
