"""Services called directly on a real database, with a clock the test sets: the operator's
figures for today, the log-in throttle's documents attempt by attempt (and its races), the
status history's batches, the audit record and the Web SDK login info, each compared whole."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.adapters.desk_store import DeskStore
from backend.adapters.mongo import Store, connect
from backend.auth import verify_password
from backend.domain.actions import StatusInterval
from backend.services import audit
from backend.services.desk_media import media_info
from backend.services.desk_today import today
from backend.services.login import (
    PER_LOGIN,
    HasherBusy,
    LoginThrottle,
    PasswordHasher,
    Throttled,
)
from backend.services.status_history import ROWS_PER_WRITE, StatusHistory
from backend.settings import VoximplantConfig
from tests.support.waiting import eventually

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return DAY + timedelta(seconds=seconds)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    client = connect(db_url)
    yield Store(client, client.get_default_database().name)
    await client.close()


def row(field: str, value: str, start: float, end: float, reason: str | None = None) -> Any:
    return {
        "operator": "ann",
        "field": field,
        "value": value,
        "reason": reason,
        "start": at(start),
        "end": at(end),
    }


async def test_today_counts_the_operators_day_whole(store: Store) -> None:
    await store.status_log.insert_many(
        [
            row("presence", "ready", -600, 100),  # from the day's start: 100 s
            row("activity", "idle", -600, 10),
            row("activity", "offered", 10, 12.57),  # answered in 2.57 s
            row("activity", "in_call", 12.57, 74.26),
            row("activity", "idle", 74.26, 80),
            row("activity", "offered", 80, 90),  # not answered
            row("activity", "idle", 90, 100),
            row("presence", "not_ready", 100, 130),
            row("activity", "offered", -50, -40),  # yesterday
            {**row("activity", "offered", 10, 11), "operator": "bob"},  # someone else's
        ]
    )
    await store.calls.insert_many(
        [
            {"_id": "c1", "operator": "ann", "connected_at": at(13), "ended_at": at(74.26)},
            {"_id": "c2", "operator": "ann", "connected_at": at(150)},  # talking now
            {"_id": "c3", "operator": "ann", "connected_at": at(-30), "ended_at": at(-10)},
            {"_id": "c4", "operator": "bob", "connected_at": at(20), "ended_at": at(30)},
        ]
    )
    op = {
        "_id": "ann",
        "presence": "ready",
        "presence_since": at(130),
        "activity": "in_call",
        "activity_since": at(150),
    }
    now = at(200)
    assert await today(DeskStore(store.db), op, now) == {
        "since": "2026-03-02T00:00:00+00:00",
        "offers": 2,
        "answered": 2,
        "not_answered": 1,
        "talk_s": 111.3,  # 61.26 s, and 50 s of the call under way (rounded, not to 2 places)
        "avg_talk_s": 55.6,
        "avg_answer_s": 2.6,
        "ready_s": 170.0,  # 100 s, then 70 s since 130
        "not_ready_s": 30.0,
        "time_s": {
            "presence": {"ready": 170.0, "not_ready": 30.0},
            "activity": {"idle": 25.7, "offered": 12.6, "in_call": 111.7},
        },
    }
    # A day with nothing in it: no averages, no Ready time.
    fresh = {**op, "_id": "cy", "presence": "offline", "activity": "idle"}
    assert await today(DeskStore(store.db), fresh, now) == {
        "since": "2026-03-02T00:00:00+00:00",
        "offers": 0,
        "answered": 0,
        "not_answered": 0,
        "talk_s": 0.0,
        "avg_talk_s": None,
        "avg_answer_s": None,
        "ready_s": 0.0,
        "not_ready_s": 0.0,
        "time_s": {"presence": {"offline": 70.0}, "activity": {"idle": 50.0}},
    }


class Clock:
    def __init__(self) -> None:
        self.now = at(0)

    def __call__(self) -> datetime:
        return self.now


def attempts_doc(key: str, attempts: int, last: float, delay_s: float) -> dict[str, Any]:
    return {
        "_id": key,
        "attempts": attempts,
        "last_at": at(last),
        "next_at": at(last + delay_s),
        "forget_s": 3600.0,
        "expire_at": at(last + 3600),
    }


async def test_the_login_throttle_documents_attempt_by_attempt(store: Store) -> None:
    clock = Clock()
    throttle = LoginThrottle(store.db, clock)
    coll = store.db["login_attempts"]

    async def docs() -> dict[str, Any]:
        return {d["_id"]: d for d in await coll.find().to_list(None)}

    for _ in range(3):
        await throttle.attempt("Ann", "10.0.0.1")
    # The third attempt is the last free one: the next waits 1 s.
    assert await docs() == {"login:ann": attempts_doc("login:ann", 3, 0, 1.0)}
    clock.now = at(0.5)
    with pytest.raises(Throttled) as refused:
        await throttle.attempt("ann", "10.0.0.1")
    assert refused.value.retry_after_s == 0.5
    assert await docs() == {"login:ann": attempts_doc("login:ann", 3, 0, 1.0)}, "not counted"
    clock.now = at(1)
    await throttle.attempt("ann", "10.0.0.1")
    assert (await docs())["login:ann"] == attempts_doc("login:ann", 4, 1, 2.0)

    # Failures count against the address, without delay until its free attempts are used.
    await throttle.failed("ann", "10.0.0.1")
    await throttle.failed("bob", "10.0.0.1")
    assert (await docs())["addr:10.0.0.1"] == attempts_doc("addr:10.0.0.1", 2, 1, 0.0)
    # An address that waits holds up every login from it.
    await coll.update_one({"_id": "addr:10.0.0.1"}, {"$set": {"next_at": at(8)}})
    clock.now = at(4)
    with pytest.raises(Throttled) as refused:
        await throttle.attempt("cy", "10.0.0.1")
    assert refused.value.retry_after_s == 4.0
    assert "login:cy" not in await docs()
    # A failure is counted even while the address waits.
    await throttle.failed("cy", "10.0.0.1")
    assert (await docs())["addr:10.0.0.1"] == attempts_doc("addr:10.0.0.1", 3, 4, 0.0)
    # A wait under a second holds up a login with no attempts of its own too.
    await coll.update_one({"_id": "addr:10.0.0.1"}, {"$set": {"next_at": at(4.5)}})
    with pytest.raises(Throttled) as refused:
        await throttle.attempt("dee", "10.0.0.1")
    assert refused.value.retry_after_s == 0.5
    assert "login:dee" not in await docs()

    # A success clears the login, not the address.
    await throttle.succeeded("ANN", "10.0.0.1")
    assert set(await docs()) == {"addr:10.0.0.1"}

    # An hour without attempts: forgotten, counted from zero again.
    await coll.insert_one(attempts_doc("login:dan", 9, 0, 256.0))
    clock.now = at(3601)
    await throttle.attempt("dan", "10.0.0.2")
    assert (await docs())["login:dan"] == attempts_doc("login:dan", 1, 3601, 0.0)


async def test_the_throttle_counts_exactly_under_races(store: Store) -> None:
    clock = Clock()
    throttle = LoginThrottle(store.db, clock)
    coll = store.db["login_attempts"]
    # Another process inserted the document since this one read "none": counted on top.
    await coll.insert_one(attempts_doc("login:eve", 1, 0, 0.0))
    await throttle._count("login:eve", PER_LOGIN, None, at(0))
    assert await coll.find_one({"_id": "login:eve"}) == attempts_doc("login:eve", 2, 0, 0.0)
    # A stale read (one attempt behind): the guard misses, the count is read again.
    stale = attempts_doc("login:eve", 1, 0, 0.0)
    await throttle._count("login:eve", PER_LOGIN, stale, at(0))
    assert await coll.find_one({"_id": "login:eve"}) == attempts_doc("login:eve", 3, 0, 1.0)
    # Read again, the count now says wait: refused, not counted.
    with pytest.raises(Throttled) as refused:
        await throttle._count("login:eve", PER_LOGIN, stale, at(0.25))
    assert refused.value.retry_after_s == 0.75
    # Failures are counted even while the key waits (check=False).
    await throttle._count("login:eve", PER_LOGIN, stale, at(0.5), check=False)
    assert await coll.find_one({"_id": "login:eve"}) == attempts_doc("login:eve", 4, 0.5, 2.0)
    # Ten concurrent failures at once: counted exactly, whoever wins each race.
    await asyncio.gather(
        *(throttle._count("login:fay", PER_LOGIN, None, at(0), check=False) for _ in range(10))
    )
    fay = await coll.find_one({"_id": "login:fay"})
    assert fay is not None and fay["attempts"] == 10


async def test_status_history_writes_every_row_in_batches(store: Store) -> None:
    history = StatusHistory(store, interval_s=0.01)
    assert (history.interval_s, history.rollup) == (0.01, None)
    rows = [
        StatusInterval(f"op{i}", "activity", "idle", None, at(i), at(i + 1.5))
        for i in range(ROWS_PER_WRITE + 1)
    ]
    history.add([])
    await history.flush()
    assert await store.status_log.count_documents({}) == 0
    history.start()
    history.add(rows)
    history.add([StatusInterval("ann", "presence", "not_ready", "break", at(0), at(2))])

    async def written() -> int:
        return await store.status_log.count_documents({})

    async def all_written() -> bool:
        return await written() == ROWS_PER_WRITE + 2

    assert await eventually(all_written, message="the batches written by the loop")
    await history.close()
    assert await written() == ROWS_PER_WRITE + 2
    ann = await store.status_log.find_one({"operator": "ann"}, {"_id": 0})
    assert ann == {
        "operator": "ann",
        "field": "presence",
        "value": "not_ready",
        "reason": "break",
        "start": at(0),
        "end": at(2),
        "seconds": 2.0,
    }
    last = await store.status_log.find_one({"operator": f"op{ROWS_PER_WRITE}"}, {"_id": 0})
    assert last is not None and last["start"] == at(ROWS_PER_WRITE)
    # close writes what is pending even when the loop has stopped already.
    history.add([StatusInterval("bo", "activity", "idle", None, at(0), at(1))])
    await history.close()
    assert await written() == ROWS_PER_WRITE + 3


async def test_a_failed_history_write_keeps_its_rows_and_is_tried_again(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A real refusal by the server (a unique index the rows break): logged with its
    traceback, tried again and again, the rows kept until the write succeeds."""
    await store.status_log.create_index("operator", unique=True, name="one_per_operator")
    await store.status_log.insert_one({"operator": "ann"})
    history = StatusHistory(store, interval_s=0.01)
    history.start()
    history.add([StatusInterval("ann", "activity", "idle", None, at(0), at(1))])

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "backend.services.status_history"]

    async def failed_twice() -> bool:
        return len(failures()) >= 2

    assert await eventually(failed_twice, message="two failed writes")
    assert {r.getMessage() for r in failures()} == {"status history write failed; retrying"}
    assert all(r.exc_info is not None for r in failures())
    await store.status_log.drop_index("one_per_operator")

    async def written() -> bool:
        return await store.status_log.count_documents({"operator": "ann", "value": "idle"}) == 1

    assert await eventually(written, message="the kept row written once the index is gone")
    await history.close()
    # Never started: closing only writes what is pending.
    await StatusHistory(store).close()


async def test_audit_record_and_media_info_whole(store: Store) -> None:
    await audit.record(
        store,
        {"_id": "root"},
        "operator.update",
        "ann",
        {"name": "A"},
        {"name": "Ann"},
        at(5),
        note="renamed",
    )
    await audit.record(store, None, "group.close", "sales", None, None, at(6))
    entries = await store.audit.find({}, {"_id": 0}).sort("at", 1).to_list(None)
    assert entries == [
        {
            "at": at(5),
            "who": "root",
            "action": "operator.update",
            "target": "ann",
            "before": {"name": "A"},
            "after": {"name": "Ann"},
            "note": "renamed",
        },
        {
            "at": at(6),
            "who": "admin token",
            "action": "group.close",
            "target": "sales",
            "before": None,
            "after": None,
        },
    ]

    desk = DeskStore(store.db)
    ann = {"_id": "ann", "address": {"type": "user", "address": "ann"}}
    full = VoximplantConfig(account="acme", application="desk", node="NODE_2")

    def off(reason: str) -> dict[str, Any]:
        return {"enabled": False, "username": None, "node": None, "reason": reason}

    assert await media_info(desk, VoximplantConfig(account="acme"), ann) == off(
        "media is not connected: Voximplant is not configured"
    )
    assert await media_info(desk, VoximplantConfig(application="desk"), ann) == off(
        "media is not connected: Voximplant is not configured"
    )
    assert await media_info(desk, VoximplantConfig(account="acme", application="desk"), ann) == (
        off("media is not connected: [voximplant] node is not set")
    )
    by_phone = {"_id": "ann", "address": {"type": "pstn", "address": "+15550001111"}}
    assert await media_info(desk, full, by_phone) == off(
        "media is not connected: calls reach you by phone or SIP"
    )
    assert await media_info(desk, full, {"_id": "ann"}) == off(
        "media is not connected: calls reach you by phone or SIP"
    )
    assert await media_info(desk, full, ann) == off(
        "media is not connected: no Voximplant login is set for you"
    )
    await desk.set_media_user("ann", "ann.sdk", "0" * 32, at(0))
    assert await media_info(desk, full, ann) == {
        "enabled": True,
        "username": "ann.sdk@desk.acme.voximplant.com",
        "node": "NODE_2",
        "reason": None,
    }


async def test_password_hasher_runs_in_its_own_bounded_pool() -> None:
    """scrypt in a pool of its own (no database: here for its 1 s of hashing)."""
    hasher = PasswordHasher(threads=1, queue=1)
    try:
        name = await hasher._run(lambda: threading.current_thread().name)
        assert name.startswith("scrypt_")
        stored = await hasher.hash("pw-1")
        assert stored != "pw-1" and verify_password("pw-1", stored)
        assert await hasher.verify("pw-1", stored) is True
        assert await hasher.verify("pw-2", stored) is False
        assert await hasher.verify("pw-1", None) is False
        assert await hasher.verify("pw-1", "") is False
        # One thread and one place in the queue: a third hash meanwhile is refused at once.
        release = threading.Event()
        held = [asyncio.ensure_future(hasher._run(release.wait, 5)) for _ in range(2)]

        async def full() -> bool:
            return hasher._slots.locked()

        assert await eventually(full, message="both slots taken")
        with pytest.raises(HasherBusy) as busy:
            await hasher._run(lambda: None)
        assert str(busy.value) == "more than 2 log-ins at once"
        release.set()
        assert await asyncio.gather(*held) == [True, True]
    finally:
        hasher.close()
    with pytest.raises(RuntimeError):
        await hasher._run(lambda: None)
    default = PasswordHasher()
    try:
        assert default._limit == 2 + 64
    finally:
        default.close()
