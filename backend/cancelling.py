"""Stopping background tasks at shutdown, also when a cancel gets lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

# How often a task that is still running is cancelled again.
RECANCEL_S = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], timeout_s: float = 10.0) -> bool:
    """Cancel the tasks and wait until they are done. Returns True if they all finished
    within `timeout_s`.

    The cancel is repeated every RECANCEL_S, because Python 3.11's `asyncio.wait_for` drops
    a cancel that arrives just as the awaitable it wraps completes (CPython gh-86296).
    PyMongo awaits server selection that way, so a task looping on a database that has gone
    would never see that cancel and would keep a shutdown waiting forever.
    Task exceptions are retrieved and logged, not raised: the other tasks still get stopped.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    every = set(tasks)
    pending = {t for t in every if not t.done()}
    finished = every - pending
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            log.warning("%d task(s) still running %g s after their cancel", len(pending), timeout_s)
            break
        for t in pending:
            t.cancel()
        done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_S, left))
        finished |= done
    for t in finished:
        if not t.cancelled() and (e := t.exception()) is not None:
            log.error("task %r ended with an error at shutdown", t, exc_info=e)
    return not pending
