"""Timers: APScheduler fires the deadlines stored on documents, in the process that set them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler


class Timers:
    def __init__(self) -> None:
        self.scheduler: Any = AsyncIOScheduler(timezone="UTC")

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def at(self, key: str, when: datetime, fn: Callable[[str], Awaitable[None]], arg: str) -> None:
        """Run `fn(arg)` at `when`; a newer timer with the same key replaces the old one.

        `fn` must be a coroutine function itself (not a lambda returning a coroutine):
        APScheduler decides by inspecting it whether to await it on the loop.
        """
        self.scheduler.add_job(
            fn,
            "date",
            args=[arg],
            run_date=when,
            id=key,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    def remove(self, key: str) -> None:
        if self.scheduler.get_job(key) is not None:
            self.scheduler.remove_job(key)

    def every(self, key: str, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        self.scheduler.add_job(
            fn,
            "interval",
            seconds=seconds,
            id=key,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
