"""Issue 15's named gaps: a late connect, the disposition race, the body limit on every route,
the WebSocket origin check and the service-level figures of `/queues`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from backend.adapters.documents import Doc
from backend.keys import SWEEPER
from backend.services.reports import SERVICE_LEVEL_S
from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call, operator_in
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot

MakeBackend = Callable[..., Awaitable[Backend]]
# The documented limit, written out: the test must not follow the code if the code moves.
MAX_BODY = 64 * 1024


# -- a late operator_connected ---------------------------------------------------------------


async def test_a_connect_after_the_offer_was_given_up_is_cancelled(backend: Backend) -> None:
    """The scenario bridges an operator after the backend gave up on that offer: the leg is
    hung up with `cancel`, and the call stays where it was (waiting again)."""
    b = backend
    b.platform.script("alice", Script(answer_after_s=None))  # rings; the test reports for it
    await b.ready_operator("alice")
    placed = await b.place_call()
    call_id, sid = placed["call_id"], placed["session_id"]
    offer_id = (await b.call(call_id))["offer"]["offer_id"]
    url = f"/api/v1/calls/{call_id}/events"
    failed = {"type": "operator_failed", "offer_id": offer_id, "code": 486, "reason": "busy"}
    resp = await b.client.post(url, json=failed, headers=b.plat)
    assert (await resp.json()) == {"ok": True, "applied": True}
    await b.engine.drain()
    assert (await b.call(call_id))["state"] == "queued"
    late = {"type": "operator_connected", "offer_id": offer_id}
    resp = await b.client.post(url, json=late, headers=b.plat)
    assert (await resp.json()) == {"ok": True, "applied": False}
    await b.engine.drain()
    cancels = [c for c in b.platform.sessions[sid].commands if c["command"] == "cancel"]
    assert cancels == [{"command": "cancel", "offer_id": offer_id}]
    assert (await b.call(call_id))["state"] == "queued"


async def test_a_connect_for_the_current_offer_is_not_cancelled(backend: Backend) -> None:
    b = backend
    b.platform.script("alice", Script(talk_s=None))
    await b.ready_operator("alice")
    placed = await b.place_call()
    await operator_in(b, "alice", "in_call")
    await b.engine.drain()
    commands = [c["command"] for c in b.platform.sessions[placed["session_id"]].commands]
    assert commands == ["connect"]


# -- the disposition guard under a race -----------------------------------------------------


async def test_the_operators_code_wins_over_the_wrap_up_timer_in_a_race(
    make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer reads the call (no code yet), the operator then chooses one, and only then
    does the timer write its own: the database guard must keep the operator's."""
    b = await make_backend(DESK_CONFIG)
    auth = await b.ready_operator("alice")
    call_id = (await connected_call(b, "alice"))["call_id"]
    assert (await b.client.post(f"/api/v1/calls/{call_id}/hangup", headers=auth)).status == 200
    await operator_in(b, "alice", "wrap_up")
    real_read = b.store.call_doc
    raced: list[int] = []

    async def read_then_the_operator_chooses(cid: str) -> Doc | None:
        doc: Doc | None = await real_read(cid)
        if not raced:
            raced.append(1)
            resp = await b.client.put(
                f"/api/v1/calls/{cid}/disposition", json={"code": "resolved"}, headers=auth
            )
            assert resp.status == 200, await resp.text()
        return doc

    monkeypatch.setattr(b.store, "call_doc", read_then_the_operator_chooses)
    assert b.engine.wrap_up_ending is not None
    await b.engine.wrap_up_ending("alice", call_id)
    assert raced
    doc = await real_read(call_id)
    assert doc is not None
    assert doc["desk"]["disposition"] == "resolved" and doc["desk"]["disposition_by"] == "alice"


# -- 64 KiB on every route that takes a body --------------------------------------------------


def _sized(n: int) -> bytes:
    """A JSON object of exactly n bytes."""
    head, tail = b'{"pad": "', b'"}'
    return head + b"x" * (n - len(head) - len(tail)) + tail


async def test_the_64_kib_limit_on_every_route_that_takes_a_body(backend: Backend) -> None:
    b = backend
    await b.add_operator("root", role="admin")
    auth = await b.login("root")
    b.client.session.cookie_jar.clear()
    placed = await b.place_call()
    spec = await (await b.client.get("/api/v1/openapi.json")).json()
    values = {
        "call_id": placed["call_id"],
        "login": "root",
        "phone": "+15550000001",
        "name": "default",
    }
    taken: list[str] = []
    await b.engine.drain()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if "requestBody" not in op:
                continue
            url = path.format(**values)
            taken.append(f"{method.upper()} {path}")
            for size, too_large in ((MAX_BODY, False), (MAX_BODY + 1, True)):
                status, code = await _send(b, method, url, _sized(size), [b.plat, auth, {}])
                assert (code == "body_too_large") is too_large, (method, path, size, status)
                assert (status == 413) is too_large, (method, path, size, status)
    # Enough of them to be sure the walk saw the API (calls, events, operators, desk...).
    assert len(taken) >= 10, taken


async def _send(
    b: Backend, method: str, url: str, body: bytes, credentials: list[dict[str, str]]
) -> tuple[int, str | None]:
    """The answer under the first credential the route accepts."""
    status, code = 0, None
    for cred in credentials:
        headers = {**cred, "Content-Type": "application/json"}
        resp = await b.client.request(method.upper(), url, data=body, headers=headers)
        status = resp.status
        code = (await resp.json()).get("error", {}).get("code") if resp.status >= 400 else None
        if status not in (401, 403):
            break
    return status, code


# -- the WebSocket origin check ---------------------------------------------------------------


async def test_a_cookie_websocket_from_another_origin_is_refused(backend: Backend) -> None:
    b = backend
    await b.add_operator("amy")
    await b.login("amy")  # leaves the session cookie in the client, as a browser would
    base = b.client.make_url("")
    assert base.port is not None
    own, evil = f"http://{base.host}:{base.port}", f"http://{base.host}:{base.port + 1}"
    for origin in (evil, "http://attacker.example", "null"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await b.client.ws_connect("/api/v1/ws", headers={"Origin": origin})
        assert refused.value.status == 403, origin
    async with b.client.ws_connect("/api/v1/ws", headers={"Origin": own}) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "state" and first["operator"]["login"] == "amy"


# -- /queues: the day's service-level figures ---------------------------------------------------


async def test_queues_service_level_figures(backend: Backend) -> None:
    b = backend
    now = datetime.now(UTC)
    sl = SERVICE_LEVEL_S

    def call(waited_s: float, outcome: str) -> Doc:
        enqueued = now - timedelta(seconds=600)
        doc: Doc = {
            "_id": uuid.uuid4().hex,
            "session_id": uuid.uuid4().hex,
            "group": "default",
            "priority": 0,
            "media": "voice",
            "hung_up_by": "caller",
            "state": "ended",
            "outcome": outcome,
            "created_at": now,
            "enqueued_at": enqueued,
            "ended_at": enqueued + timedelta(seconds=waited_s + 30),
            "rev": 3,
        }
        if outcome == "answered":
            doc["connected_at"] = enqueued + timedelta(seconds=waited_s)
        else:
            doc["ended_at"] = enqueued + timedelta(seconds=waited_s)
        return doc

    docs = [
        call(5, "answered"),  # within the service level
        call(sl, "answered"),  # exactly at it: within
        call(sl + 10, "answered"),  # late
        call(3, "abandoned"),  # a short abandon counts as within
        call(sl + 30, "abandoned"),  # a long one does not
        call(1, "failed"),  # not settled: not in the service level
    ]
    await b.store.calls.insert_many(docs)
    resp = await b.client.get("/api/v1/queues", headers=b.admin)
    assert resp.status == 200
    group = next(g for g in (await resp.json())["groups"] if g["group"] == "default")
    today = group["today"]
    assert today == {
        "calls": 6,
        "answered": 3,
        "abandoned": 2,
        "failed": 1,
        "in_progress": 0,
        "asa_s": round((5 + sl + sl + 10) / 3, 1),
        "service_level": round(3 / 5, 3),
        "service_level_s": sl,
        "abandon_rate": round(2 / 6, 3),
        "overflowed": 0,
        "voicemails": {"left": 0, "handled": 0},
        "callbacks": {"requested": 0, "completed": 0, "failed": 0},
    }
    assert group["waiting"] == 0 and group["longest_wait_s"] == 0


FAR_EAST = "Pacific/Kiritimati"  # UTC+14: its day never starts at UTC midnight


def _far_east_midnight() -> datetime:
    """Today's midnight in FAR_EAST, in UTC (computed here, not by the code under test)."""
    local = datetime.now(ZoneInfo(FAR_EAST))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def test_queues_today_is_the_centers_day(make_backend: MakeBackend) -> None:
    """The center's midnight starts /queues' day, as on the live floor (it was UTC's)."""
    b = await make_backend(f'[center]\ntimezone = "{FAR_EAST}"\n')
    midnight = _far_east_midnight()
    for n, at in enumerate((midnight - timedelta(minutes=1), midnight + timedelta(minutes=1))):
        await b.store.calls.insert_one(
            {
                "_id": f"day-{n}",
                "session_id": f"day-{n}",
                "group": "default",
                "priority": 0,
                "media": "voice",
                "state": "ended",
                "outcome": "abandoned",
                "created_at": at,
                "enqueued_at": at,
                "ended_at": at + timedelta(seconds=5),
                "rev": 2,
            }
        )
    resp = await b.client.get("/api/v1/queues", headers=b.admin)
    assert resp.status == 200
    group = next(g for g in (await resp.json())["groups"] if g["group"] == "default")
    assert (group["today"]["calls"], group["today"]["abandoned"]) == (1, 1)


async def test_the_video_report_reads_days_and_times_in_the_centers_zone(
    make_backend: MakeBackend,
) -> None:
    b = await make_backend(f'[center]\ntimezone = "{FAR_EAST}"\n')
    midnight = _far_east_midnight()
    before, after = midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)
    await b.store.db["video_invites"].insert_many(
        [
            {"_id": "before", "operator": "amy", "sent_at": before},
            {"_id": "after", "operator": "bob", "sent_at": after},
        ]
    )

    async def report(query: str = "") -> dict[str, int]:
        resp = await b.client.get(f"/api/v1/reports/video{query}", headers=b.admin)
        assert resp.status == 200, await resp.text()
        return {r["operator"]: r["invites"] for r in (await resp.json())["operators"]}

    assert await report() == {"bob": 1}  # today, the center's
    # A time without an offset is the center's wall-clock time.
    local = before.astimezone(ZoneInfo(FAR_EAST)).replace(tzinfo=None)
    start, end = local - timedelta(minutes=1), local + timedelta(minutes=1)
    assert await report(f"?from={start.isoformat()}&to={end.isoformat()}") == {"amy": 1}


async def test_refused_oversized_bodies_write_nothing(backend: Backend) -> None:
    await backend.add_operator("root", role="admin")
    before = await Snapshot.take(backend.store)
    body = {"name": "x" * MAX_BODY, "password": "password-1"}
    resp = await backend.client.put("/api/v1/operators/root", json=body, headers=backend.admin)
    assert resp.status == 413
    await before.assert_unchanged(backend.store)


# -- the presence grace's lower bound -------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_an_operator_with_an_open_socket_stays_ready_however_long(
    make_backend: MakeBackend,
) -> None:
    """Her socket is on process A, which keeps her seen; process B sweeps on a clock moved
    forward by most of the grace each time, for many graces: B must never mark her absent."""
    grace = 10.0
    config = (
        f"[routing]\npresence_grace_s = {grace}\n"
        "heartbeat_interval_s = 3600\nsweep_interval_s = 3600\n"  # both driven by the test
    )
    a = await make_backend(config)
    b = await make_backend(config)
    clock = _Clock()
    a.engine.clock = b.engine.clock = clock
    await a.add_operator("vera")
    auth = await a.login("vera")
    async with a.client.ws_connect("/api/v1/ws", headers=auth) as ws:
        await ws.receive_json(timeout=5)
        await a.set_status(auth, "ready")
        assert not b.app[SWEEPER].hub.connected("vera")
        for _ in range(30):  # 30 times 0.9 grace: far longer than the grace itself
            await a.app[SWEEPER].heartbeat()
            clock.now += timedelta(seconds=grace * 0.9)
            await b.app[SWEEPER].sweep()
            op = await b.store.operator("vera")
            assert op is not None and op.presence.value == "ready", op
    # And the upper bound, on the same clock: socket gone, one grace later she is not Ready.
    await a.app[SWEEPER].heartbeat()  # no socket now: last_seen stays where it was
    clock.now += timedelta(seconds=grace * 1.01)
    await b.app[SWEEPER].sweep()
    op = await b.store.operator("vera")
    assert op is not None and op.presence.value == "not_ready" and op.reason == "disconnected"
