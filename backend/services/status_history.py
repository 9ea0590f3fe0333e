"""The operators' status history, written in small batches off the routing path."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from backend.adapters.documents import Doc
from backend.adapters.mongo import Store
from backend.cancelling import cancel_and_wait
from backend.domain.actions import StatusInterval
from backend.services.rollup import Rollup

log = logging.getLogger(__name__)

# The most status rows per insert and report buckets per upsert batch. The embedded database
# commits (and journals) each upsert of a batch on its own, 2-13 ms each here, and serves other
# commands in between: with 200, routing writes waited at most 0.3 s while a batch ran (50 made
# batches shorter but added commands per routed call; docs/benchmarks.md).
ROWS_PER_WRITE = 500
BUCKETS_PER_WRITE = 200


class StatusHistory:
    """Collects finished status intervals and inserts them together every `interval_s`.

    One insert per batch instead of one per change: under load most routing writes would
    otherwise be history rows. A process killed mid-batch loses at most `interval_s` of
    history, never routing state.
    """

    def __init__(self, store: Store, interval_s: float = 0.2, rollup: Rollup | None = None) -> None:
        self.store = store
        # Report counters ride along with the batch (services/rollup.py).
        self.rollup = rollup
        self.interval_s = interval_s
        self._pending: list[StatusInterval] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def add(self, intervals: list[StatusInterval]) -> None:
        if intervals:
            self._pending.extend(intervals)
            if self.rollup is not None:
                self.rollup.intervals(intervals)
            self._wake.set()

    def call_ended(self, doc: Doc) -> None:
        """A call this process ended: its figures go into the report buckets."""
        if self.rollup is not None:
            self.rollup.call_ended(doc)
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def flush(self) -> None:
        # One flush at a time (the loop's and a drain's): two batches would otherwise race
        # to create the same report bucket.
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        # Bounded writes: the embedded database serves one command at a time, so one insert of
        # every row, or one upsert of every bucket, after 10,000 operators changed at once held
        # routing for seconds (4.9 s for the buckets). Routing's writes go in between these.
        rows, self._pending = self._pending, []
        for i in range(0, len(rows), ROWS_PER_WRITE):
            try:
                await self.store.log_status(rows[i : i + ROWS_PER_WRITE])
            except Exception:
                # Keep the rows for the next attempt rather than lose the history.
                self._pending[:0] = rows[i:]
                raise
        if self.rollup is None:
            return
        items = list(self.rollup.take().items())
        for i in range(0, len(items), BUCKETS_PER_WRITE):
            try:
                await self.store.add_report_counters(dict(items[i : i + BUCKETS_PER_WRITE]))
            except Exception:
                # This part and the rest go again; the parts written are not put back.
                self.rollup.put_back(dict(items[i:]))
                raise

    async def _run(self) -> None:
        delay = self.interval_s
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
                delay = self.interval_s
            except Exception:
                log.exception("status history write failed; retrying")
                # What was kept goes again without waiting for the next row.
                self._wake.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._task is not None:
            # A batch being written finishes first: cancelled inside its write, the rows it
            # had taken would be lost (they are no longer pending for the last flush below).
            async with self._flushing:
                self._task.cancel()
            await cancel_and_wait([self._task])
        with contextlib.suppress(Exception):
            await self.flush()
