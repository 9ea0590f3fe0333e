"""The status history and the report buckets go out in bounded writes: after thousands of
operators change at once, no single insert or upsert batch holds the database for long."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.domain import rollup
from backend.domain.actions import StatusInterval
from backend.services.status_history import BUCKETS_PER_WRITE, ROWS_PER_WRITE
from tests.conftest import Backend
from tests.support.commands import CAPTURE


async def test_a_large_batch_is_written_in_bounded_parts(backend: Backend) -> None:
    b = backend
    start = datetime(2026, 5, 4, 9, 0, 30, tzinfo=UTC)
    end = start + timedelta(minutes=5)
    logins = [f"op{i:04d}" for i in range(3 * ROWS_PER_WRITE // 2)]
    rows = [StatusInterval(login, "presence", "ready", None, start, end) for login in logins]
    await b.engine.drain()
    CAPTURE.watch(b.store.db.name)
    try:
        b.engine.history.add(rows)
        await b.engine.history.flush()
        sent = CAPTURE.take()
    finally:
        CAPTURE.watch(None)
    inserts = [len(c["documents"]) for name, coll, c in sent if coll == "status_log"]
    upserts = [len(c["updates"]) for name, coll, c in sent if coll == "report_buckets"]
    # Every operator's three buckets (quarter, hour, day) and the center's three.
    buckets = 3 * len(logins) + 3
    assert inserts == [ROWS_PER_WRITE, len(logins) - ROWS_PER_WRITE]
    assert max(upserts) == BUCKETS_PER_WRITE and sum(upserts) == buckets
    assert len(upserts) == -(-buckets // BUCKETS_PER_WRITE)
    # Nothing lost or counted twice across the parts.
    assert await b.store.status_log.count_documents({"start": start}) == len(logins)
    assert await b.store.report_buckets.count_documents({"start": {"$lte": start}}) == buckets
    day = rollup.bucket_start(start, "day", b.engine.rollup.tz)
    center = await b.store.report_buckets.find_one(
        {"_id": rollup.bucket_id((rollup.CENTER, "day", rollup.CENTER_KEY, day))}
    )
    assert center is not None
    assert center["c"]["presence"]["ready"] == 300.0 * len(logins)


async def test_a_batch_being_written_at_shutdown_is_not_lost(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = backend
    history = b.engine.history
    start = datetime(2026, 5, 4, 9, 0, 30, tzinfo=UTC)
    row = StatusInterval("ann", "presence", "ready", None, start, start + timedelta(minutes=1))
    await b.engine.drain()
    writing, release = asyncio.Event(), asyncio.Event()
    log_status = b.store.log_status

    async def slow(rows: list[Any]) -> None:
        writing.set()
        await release.wait()
        await log_status(rows)

    monkeypatch.setattr(b.store, "log_status", slow)
    history.add([row])  # the batch writer takes it within its interval
    await writing.wait()
    closing = asyncio.create_task(history.close())
    await asyncio.sleep(0)  # close() is waiting for the batch, not cancelling it
    assert not closing.done()
    release.set()
    await closing
    assert await b.store.status_log.count_documents({"operator": "ann", "start": start}) == 1
