"""No caller left waiting for nobody, through the API on a real database: the supervisor's
closed switch (every process agrees through its change stream; bad requests write nothing), and
a group's number:<E.164> action dialled like an overflow spare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.conftest import Backend
from tests.support.desk import call_in_state
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

MakeBackend = Callable[..., Awaitable[Backend]]

GROUPS = """
rules = []

[[groups]]
name = "default"
no_agents_action = "number:+15550001111"

[[groups]]
name = "support"
"""


async def test_the_closed_switch_is_shared_and_bad_requests_write_nothing(
    make_backend: MakeBackend,
) -> None:
    a = await make_backend(GROUPS)
    b = await make_backend(GROUPS)  # a second process on the same database
    before = await Snapshot.take(a.store)
    cases = [
        ("nope", {"closed": True}, a.admin, 404, "name"),
        ("support", {"closed": "yes"}, a.admin, 422, "closed"),
        ("support", {"closed": True, "extra": 1}, a.admin, 422, "extra"),
        ("support", {"closed": True}, a.plat, 401, None),
    ]
    for name, body, headers, status, field in cases:
        resp = await a.client.put(f"/api/v1/groups/{name}/closed", json=body, headers=headers)
        assert resp.status == status, await resp.text()
        if field is not None:
            assert (await resp.json())["error"]["field"] == field
    await before.assert_unchanged(a.store)

    resp = await a.client.put(
        "/api/v1/groups/support/closed", json={"closed": True}, headers=a.admin
    )
    assert resp.status == 200
    assert await resp.json() == {"group": "support", "closed": True, "open_now": False}

    async def b_knows() -> bool:
        return b.engine.view.closed_now("support")

    assert await eventually(b_knows, message="the other process sees the switch")
    fallbacks = b.engine.fallbacks
    assert fallbacks is not None and not fallbacks.is_open("support", b.engine.clock())
    await a.client.put("/api/v1/groups/support/closed", json={"closed": False}, headers=a.admin)

    async def b_reopened() -> bool:
        return not b.engine.view.closed_now("support")

    assert await eventually(b_reopened, message="the other process sees it reopened")


async def test_a_number_action_dials_the_number_and_a_failure_says_sorry(
    make_backend: MakeBackend,
) -> None:
    backend = await make_backend(GROUPS)
    backend.platform.script("+15550001111", Script(fail_code=486))
    placed = await backend.place_call()
    assert placed["action"]["type"] == "number"
    assert placed["action"]["target"] == "+15550001111"
    session = backend.platform.sessions[placed["session_id"]]

    async def dialled() -> dict[str, object] | None:
        connects = [c for c in session.commands if c.get("command") == "connect"]
        return connects[0] if connects else None

    connect = await eventually(dialled, message="the number dialled")
    assert connect is not None
    assert connect["target"] == {"type": "pstn", "address": "+15550001111"}
    ended = await call_in_state(backend, placed["call_id"], "ended")
    assert ended["outcome"] == "failed" and ended["end_reason"] == "number_failed"

    async def said_sorry() -> dict[str, object] | None:
        hangups = [c for c in session.commands if c.get("command") == "hangup"]
        return hangups[0] if hangups else None

    hangup = await eventually(said_sorry, message="the goodbye")
    assert hangup is not None and "could not put you through" in str(hangup["say"])
