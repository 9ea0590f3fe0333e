"""Shutdown stops its background tasks even when a cancel is lost (CPython gh-86296)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from backend.cancelling import cancel_and_wait


async def _swallows(times: int, stopped: list[str]) -> None:
    """Loses its first `times` cancels, as a task inside 3.11's asyncio.wait_for can."""
    lost = 0
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if lost == times:
                stopped.append("cancelled")
                raise
            lost += 1
            asyncio.current_task().uncancel()  # type: ignore[union-attr]


async def test_a_task_that_lost_its_cancel_is_cancelled_again() -> None:
    stopped: list[str] = []
    task = asyncio.create_task(_swallows(2, stopped))
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], timeout_s=30) is True
    assert task.cancelled() and stopped == ["cancelled"]


async def test_one_cancel_is_not_enough_for_such_a_task() -> None:
    """What shutdown did before: cancel once and wait. The task runs on."""
    stopped: list[str] = []
    task = asyncio.create_task(_swallows(1, stopped))
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.2)
    assert not done and stopped == []
    assert await cancel_and_wait([task]) is True and stopped == ["cancelled"]


async def test_a_task_that_never_stops_is_given_up_on_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, "backend.cancelling"):
        assert await cancel_and_wait([task], timeout_s=0.3) is False
    assert not task.done()
    assert caplog.messages == ["1 task(s) still running 0.3 s after their cancel"]
    release.set()
    task.cancel()
    await task


async def test_done_tasks_and_errors_do_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    failed = asyncio.create_task(fails())
    finished = asyncio.create_task(asyncio.sleep(0))
    sleeping = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.ERROR, "backend.cancelling"):
        assert await cancel_and_wait([failed, finished, sleeping]) is True
    assert sleeping.cancelled() and finished.result() is None
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] == [failed.exception()]
