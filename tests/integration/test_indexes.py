"""Every filter the backend really sends is served by an index (or by `_id`), never a scan.

The filters are captured with PyMongo's command monitoring while the backend routes calls,
serves the card, the contacts and the queue figures, and then explained one by one: a filter
added to the code later is checked without anyone listing it here.
"""

from __future__ import annotations

from typing import Any

from backend.keys import SWEEPER
from tests.conftest import Backend
from tests.support.commands import CAPTURE
from tests.support.desk import connected_call
from tests.support.fake_platform import Script
from tests.support.waiting import eventually


def _stages(plan: dict[str, Any]) -> list[str]:
    out = [plan.get("stage", "")]
    for key in ("inputStage", "outerStage", "innerStage"):
        if key in plan:
            out += _stages(plan[key])
    for child in plan.get("inputStages", []):
        out += _stages(child)
    return out


def _shape(f: Any) -> Any:
    if isinstance(f, dict):
        return tuple(sorted((k, _shape(v)) for k, v in f.items()))
    if isinstance(f, list):
        return ("list", len(f))
    return type(f).__name__


async def test_every_filter_the_backend_sends_uses_an_index(make_backend: Any) -> None:
    b: Backend = await make_backend()
    CAPTURE.watch(b.store.db.name)
    try:
        # A routed call through to wrap-up, with the card, history and contacts served.
        auth = await b.ready_operator("alice")
        call = await connected_call(
            b, "alice", caller="+15550001111", custom_data='{"customer_id": "c7"}'
        )
        card = await b.client.get(f"/api/v1/calls/{call['call_id']}/card", headers=auth)
        assert card.status == 200, await card.text()
        # A supervisor listens in (the "on another call?" query).
        await b.add_operator("sue", [("sales", 1)], role="supervisor")
        sue = await b.login("sue")
        listen = await b.client.post(
            f"/api/v1/calls/{call['call_id']}/supervise", json={"mode": "listen"}, headers=sue
        )
        assert listen.status == 202, await listen.text()
        # A video invitation (logged in development), its page, Video Reserved and its report.
        invite = await b.client.post(
            f"/api/v1/calls/{call['call_id']}/video_invite", json={}, headers=auth
        )
        assert invite.status == 201, await invite.text()
        resp = await b.client.post(f"/api/v1/calls/{call['call_id']}/hangup", headers=auth)
        assert resp.status == 200, await resp.text()
        page = await b.client.get(
            (await invite.json())["link"].split(b.engine.settings.public_url)[1]
        )
        assert page.status == 200
        await eventually(lambda: _activity(b, "alice", "video_reserved"), message="reserved")
        release = await b.client.post("/api/v1/me/video/release", headers=auth)
        assert release.status == 200, await release.text()
        report = await b.client.get("/api/v1/reports/video", headers=b.admin)
        assert report.status == 200, await report.text()
        today = await b.client.get("/api/v1/me/today", headers=auth)
        assert today.status == 200, await today.text()
        # A queued call, its position, a manager set and looked up, the queue figures.
        await b.set_status(auth, "not_ready", "break")
        waiting = await b.place_call(caller="+15550002222")
        assert waiting["state"] == "queued"
        got = await b.client.get(f"/api/v1/calls/{waiting['call_id']}", headers=b.plat)
        assert (await got.json())["position"] == 1
        put = await b.client.put(
            "/api/v1/contacts/+15550003333/manager", json={"manager": "alice"}, headers=b.admin
        )
        assert put.status in (200, 201), await put.text()
        queues = await b.client.get("/api/v1/queues", headers=b.admin)
        assert queues.status == 200
        # The supervisor's reports (all groups, one group, by 15 minutes) and staffing advice.
        for params in ("", "?group=default", "?by=15min&format=csv&table=operators"):
            report = await b.client.get(f"/api/v1/reports/summary{params}", headers=b.admin)
            assert report.status == 200, await report.text()
        staffing = await b.client.get("/api/v1/reports/staffing", headers=b.admin)
        assert staffing.status == 200, await staffing.text()
        b.platform.script("alice", Script(answer_after_s=0.01, talk_s=0.05))
        await b.set_status(auth, "ready")
        await eventually(lambda: _ended(b, waiting["call_id"]), message="queued call answered")
        await b.engine.drain()
        # The sweep's own queries, the way the timer runs them.
        await b.app[SWEEPER].sweep()
        await b.app[SWEEPER].heartbeat()
        captured = CAPTURE.filters()
    finally:
        CAPTURE.watch(None)
    seen = {(name, coll, repr(_shape(f))): (coll, f) for name, coll, f in captured}
    assert len(seen) >= 5, seen  # the flow above sends many kinds of query
    failures = []
    for (name, coll, _), (_, query) in seen.items():
        if set(query) == {"_id"} or ("_id" in query and not isinstance(query["_id"], dict)):
            continue  # by primary key
        if "$or" in query:
            failures.append(f"{name} {coll}: top-level $or {list(query)}")
            continue
        explained = await b.store.db.command("explain", {"find": coll, "filter": query})
        stages = _stages(explained["queryPlanner"]["winningPlan"])
        if "COLLSCAN" in stages or "IXSCAN" not in stages:
            failures.append(f"{name} {coll} {sorted(query)}: {stages}")
    assert not failures, "\n".join(failures)


async def _ended(b: Backend, call_id: str) -> dict[str, Any] | None:
    call = await b.call(call_id)
    return call if call["state"] == "ended" else None


async def _activity(b: Backend, login: str, activity: str) -> dict[str, Any] | None:
    op = await b.operator(login)
    return op if op["activity"] == activity else None
