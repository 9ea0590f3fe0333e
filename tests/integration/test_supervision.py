"""The live floor (pushed and GET), reports over a range in JSON and CSV, and staffing advice."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.domain import rollup
from backend.domain.actions import StatusInterval
from backend.keys import FLOOR_RELAY
from tests.conftest import Backend
from tests.support.commands import CAPTURE
from tests.support.desk import call_in_state, connected_call, operator_in
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

CONFIG = """
[supervision]
longest_wait_amber_s = 1
longest_wait_red_s = 600
floor_push_interval_s = 0.05

[[groups]]
name = "default"
wrap_up_s = 0

[[groups]]
name = "sales"

[[groups]]
name = "support"
"""


async def _next(ws: Any, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if predicate(msg):
                return dict(msg)

    return await asyncio.wait_for(read(), timeout)


def _op(floor: dict[str, Any], login: str) -> dict[str, Any]:
    return next(o for o in floor["operators"] if o["login"] == login)


async def test_the_floor_is_pushed_to_a_supervisor_after_each_change(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    await b.add_operator("sue", role="supervisor")
    await b.add_operator("olga", [("default", 2), ("sales", 1)])
    sup = await b.login("sue")
    olga = await b.login("olga")
    async with b.client.ws_connect("/api/v1/ws", headers=sup) as ws:
        await ws.send_str("floor")
        first = await _next(ws, lambda m: m["type"] == "floor")
        assert _op(first, "olga")["presence"] == "offline"
        assert {g["group"] for g in first["groups"]} == {"default", "sales", "support"}
        pushes = b.app[FLOOR_RELAY].pushes
        await b.set_status(olga, "not_ready", "lunch")
        msg = await _next(
            ws, lambda m: m["type"] == "floor" and _op(m, "olga")["presence"] == "not_ready"
        )
        row = _op(msg, "olga")
        assert row["reason"] == "lunch"
        assert row["groups"] == [{"name": "default", "level": 2}, {"name": "sales", "level": 1}]
        assert b.app[FLOOR_RELAY].pushes > pushes
        # A call with nobody ready waits; its row carries its group, priority and wait.
        placed = await b.place_call(custom_data="")
        msg = await _next(ws, lambda m: m["type"] == "floor" and m["waiting"])
        waiting = msg["waiting"][0]
        assert waiting["call_id"] == placed["call_id"]
        assert (waiting["group"], waiting["position"], waiting["preferred"]) == (
            "default",
            1,
            None,
        )
        group = next(g for g in msg["groups"] if g["group"] == "default")
        assert group["waiting"] == 1
        # Olga takes it: the floor shows her on the call.
        b.platform.script("olga", Script(answer_after_s=0.01, talk_s=None))
        await b.set_status(olga, "ready")
        msg = await _next(
            ws, lambda m: m["type"] == "floor" and _op(m, "olga")["activity"] == "in_call"
        )
        row = _op(msg, "olga")
        assert row["call_id"] == placed["call_id"]
        assert row["call"]["state"] == "connected"
        assert msg["waiting"] == []


async def test_an_operator_cannot_watch_the_floor(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    await b.add_operator("otto")
    auth = await b.login("otto")
    async with b.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await ws.send_str("floor")
        msg = await _next(ws, lambda m: m["type"] == "error")
        assert msg["code"] == "forbidden"
    resp = await b.client.get("/api/v1/operators/live", headers=auth)
    assert resp.status == 403
    resp = await b.client.get("/api/v1/reports/summary", headers=auth)
    assert resp.status == 403


async def test_live_operators_serves_the_floor(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    auth = await b.ready_operator("ann")
    placed = await connected_call(b, "ann")

    async def on_call() -> dict[str, Any] | None:
        resp = await b.client.get("/api/v1/operators/live", headers=b.admin)
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body if _op(body, "ann")["activity"] == "in_call" else None

    body = await eventually(on_call, message="ann in call on the floor")
    row = _op(body, "ann")
    assert (row["presence"], row["activity"], row["call_id"]) == (
        "ready",
        "in_call",
        placed["call_id"],
    )
    assert datetime.fromisoformat(row["since"]) == datetime.fromisoformat(row["activity_since"])
    assert body["thresholds"]["longest_wait_amber_s"] == 1
    assert auth  # ann's session stays open while the call is on


async def test_summary_counts_calls_and_time_in_every_status(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    auth = await b.ready_operator("ann")
    # Two answered calls, then one the caller gives up on while it waits.
    for _ in range(2):
        placed = await connected_call(b, "ann")
        resp = await b.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
        assert resp.status == 200, await resp.text()
        await call_in_state(b, placed["call_id"], "ended")
        await operator_in(b, "ann", "idle")
    await b.set_status(auth, "not_ready", "break")
    waiting = await b.place_call()
    event = {"type": "caller_hung_up"}
    resp = await b.client.post(
        f"/api/v1/calls/{waiting['call_id']}/events", json=event, headers=b.plat
    )
    assert resp.status == 200, await resp.text()
    await call_in_state(b, waiting["call_id"], "ended")
    # A stretch in video_reserved (issue 10's activity) reaches the reports like any other.
    now = b.engine.clock()
    b.engine.history.add(
        [
            StatusInterval(
                "ann", "activity", "video_reserved", None, now - timedelta(seconds=90), now
            )
        ]
    )
    await b.engine.drain()

    resp = await b.client.get("/api/v1/reports/summary", headers=b.admin)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["calls"], report["answered"], report["abandoned"]) == (3, 2, 1)
    # The caller hung up at once: a short abandon, left out of service level.
    assert report["abandoned_short"] == 1
    assert report["service_level"] == 1.0
    assert report["abandon_rate"] == round(1 / 3, 3)
    assert report["asa_s"] is not None and report["aht_s"] is not None
    assert report["outcomes"] == {"abandoned": 1, "answered": 2}
    default = next(g for g in report["groups"] if g["group"] == "default")
    assert default["calls"] == 3
    ann = next(o for o in report["operators"] if o["login"] == "ann")
    assert ann["answered"] == 2
    assert ann["activity"]["video_reserved"] == 90.0
    assert ann["activity"]["in_call"] > 0
    assert ann["presence"]["ready"] > 0  # the open stretch of today counts too
    assert sum(i["calls"] for i in report["intervals"]) == 3

    # The same as CSV, by Accept or by ?format=csv, one table at a time.
    resp = await b.client.get("/api/v1/reports/summary", headers={**b.admin, "Accept": "text/csv"})
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    total = next(r for r in rows if r["group"] == "all")
    assert (total["calls"], total["answered"], total["abandoned"]) == ("3", "2", "1")
    resp = await b.client.get("/api/v1/reports/summary?format=csv&table=operators", headers=b.admin)
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert rows[0]["login"] == "ann"
    assert float(rows[0]["activity_video_reserved_s"]) == 90.0


async def test_summary_by_interval_in_the_centers_time_zone(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG + '\n[center]\ntimezone = "Asia/Kolkata"\n')
    start = datetime(2026, 3, 2, 10, 7, tzinfo=UTC)
    b.engine.history.add(
        [StatusInterval("ghost", "presence", "ready", None, start, start + timedelta(hours=2))]
    )
    await b.engine.drain()
    q = "from=2026-03-02&to=2026-03-02&by=hour"
    body = await (await b.client.get(f"/api/v1/reports/summary?{q}", headers=b.admin)).json()
    assert body["from"] == "2026-03-02T00:00:00+05:30"
    assert len(body["intervals"]) == 24
    # 10:07 UTC is 15:37 in Kolkata: 23 minutes in the 15:00 hour.
    ops = {o["login"]: o for o in body["operators"]}
    assert ops["ghost"]["presence"]["ready"] == 7200.0
    body = await (
        await b.client.get(
            "/api/v1/reports/summary?from=2026-03-02T15:00:00&to=2026-03-02T16:00&by=15min",
            headers=b.admin,
        )
    ).json()
    assert [i["start"][11:16] for i in body["intervals"]] == ["15:00", "15:15", "15:30", "15:45"]
    ops = {o["login"]: o for o in body["operators"]}
    assert ops["ghost"]["presence"]["ready"] == 23 * 60.0


async def test_bad_report_parameters_are_refused_by_name(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    before = await Snapshot.take(b.store)
    for query, field in [
        ("from=yesterday", "from"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("group=nope", "group"),
        ("by=week", "by"),
        ("format=xml", "format"),
        ("table=calls", "table"),
        ("from=2020-01-01&to=2026-01-01&by=15min", "to"),
    ]:
        resp = await b.client.get(f"/api/v1/reports/summary?{query}", headers=b.admin)
        assert resp.status == 400, query
        assert (await resp.json())["error"]["field"] == field, query
    await before.assert_unchanged(b.store)


async def test_staffing_advice_from_the_last_hour(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    auth = await b.ready_operator("ann")
    placed = await connected_call(b, "ann")
    resp = await b.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
    assert resp.status == 200
    await call_in_state(b, placed["call_id"], "ended")
    await b.engine.drain()

    async def advice() -> dict[str, Any] | None:
        resp = await b.client.get("/api/v1/reports/staffing", headers=b.admin)
        assert resp.status == 200, await resp.text()
        groups = {g["group"]: g for g in (await resp.json())["groups"]}
        return groups["default"] if groups["default"]["calls_last_hour"] == 1 else None

    default = await eventually(advice, message="the call in the last hour")
    assert default["needed"] >= 1
    assert default["ready"] == 1
    assert default["arrival_rate_per_hour"] > 0
    assert default["target_service_level"] == 0.8


async def test_buckets_created_at_once_count_every_increment(backend: Backend) -> None:
    start = datetime(2026, 5, 4, 9, 15, tzinfo=UTC)
    key = (rollup.GROUP, "15min", "default", start)
    # Several batches creating the same new bucket at once (as two processes may).
    await asyncio.gather(
        *(
            backend.store.add_report_counters({key: {"calls": 1.0, "outcome.answered": 1.0}})
            for _ in range(6)
        )
    )
    stored = await backend.store.report_buckets.find_one({"_id": rollup.bucket_id(key)})
    assert stored is not None
    # The whole document is what the bench writes in one go for the same counters.
    assert stored == rollup.bucket_doc(key, {"calls": 6.0, "outcome.answered": 6.0})


async def test_a_floor_push_reads_nothing_from_the_database(make_backend: Any) -> None:
    b: Backend = await make_backend(CONFIG)
    await b.add_operator("sue", role="supervisor")
    await b.add_operator("olga")
    sup = await b.login("sue")
    async with b.client.ws_connect("/api/v1/ws", headers=sup) as ws:
        await ws.send_str("floor")
        await _next(ws, lambda m: m["type"] == "floor")
        CAPTURE.watch(b.store.db.name)
        try:
            # Another process's write: the stream brings it, the floor follows from memory.
            await b.store.operators.update_one(
                {"_id": "olga"},
                {"$set": {"presence": "not_ready", "reason": "training"}, "$inc": {"rev": 1}},
            )
            await _next(
                ws, lambda m: m["type"] == "floor" and _op(m, "olga")["reason"] == "training"
            )
            commands = CAPTURE.take()
        finally:
            CAPTURE.watch(None)
    touched = [
        (name, coll)
        for name, coll, _ in commands
        if coll in ("operators", "calls", "report_buckets", "status_log")
    ]
    assert touched == [("update", "operators")], commands
