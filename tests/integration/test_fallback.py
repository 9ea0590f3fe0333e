"""No caller left waiting for nobody, through the API on a real database: the supervisor's
closed switch (every process agrees through its change stream; bad requests write nothing), and
a group's number:<E.164> action dialled like an overflow spare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

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
    ended = await call_in_state(backend, placed["call_id"], "ended")
    assert ended["outcome"] == "failed" and ended["end_reason"] == "number_failed"
    # The attempt, its log entry and the command, whole: the group's ring timeout plus the
    # offer's grace, no pool slot (fallback), the overflow header.
    call_id = placed["call_id"]
    doc = await backend.store.calls.find_one({"_id": call_id})
    assert doc is not None
    spare = doc["spare"]
    offer_id = spare["offer_id"]
    assert spare["expires_at"] - spare["created_at"] == timedelta(seconds=11)
    assert (spare["number"], spare["fallback"]) == ("+15550001111", True)
    [entry] = [e for e in doc["log"] if e["kind"] == "spare_offer"]
    assert entry == {
        "at": spare["created_at"],
        "kind": "spare_offer",
        "number": "+15550001111",
        "offer_id": offer_id,
        "fallback": True,
    }
    assert connect == {
        "command": "connect",
        "call_id": call_id,
        "offer_id": offer_id,
        "target": {"type": "pstn", "address": "+15550001111"},
        "video": False,
        "ring_timeout_s": 10,
        "headers": {"X-Call-Id": call_id, "X-Offer-Id": offer_id, "X-Overflow": "1"},
    }

    async def said_sorry() -> dict[str, object] | None:
        hangups = [c for c in session.commands if c.get("command") == "hangup"]
        return hangups[0] if hangups else None

    hangup = await eventually(said_sorry, message="the goodbye")
    assert hangup is not None and "could not put you through" in str(hangup["say"])


async def test_max_wait_moves_the_call_and_announces_it_exactly(make_backend: MakeBackend) -> None:
    """After max_wait_s the call goes to its group's max_wait_action: one guarded write with
    its log entry, and the announcement sent to the scenario, both compared whole."""
    backend = await make_backend(
        'rules = []\n\n[[groups]]\nname = "default"\nmax_wait_s = 1\n'
        'max_wait_action = "group:support"\n\n[[groups]]\nname = "support"\n'
        'max_wait_s = 60\nmax_wait_action = "goodbye"\n'
    )
    auth = await backend.ready_operator("dora")
    await backend.set_status(auth, "not_ready", "break")  # online: the call waits for her
    placed = await backend.place_call()
    assert placed["state"] == "queued" and "action" not in placed
    moved = await eventually(
        lambda: _in_group(backend, placed["call_id"], "support"),
        message="moved by max_wait",
    )
    assert moved is not None
    # The new group's own maximum wait starts at the move, to the millisecond (the log entry
    # and the deadline are one moment: two clock reads once made it 60.001 s).
    [entry] = [e for e in moved["log"] if e["kind"] == "fallback"]
    assert moved["max_wait_at"] - entry["at"] == timedelta(seconds=60)
    session = backend.platform.sessions[placed["session_id"]]

    async def announced() -> dict[str, object] | None:
        sent = [c for c in session.commands if c.get("command") == "action"]
        return sent[0] if sent else None

    assert await eventually(announced, message="the announcement") == {
        "command": "action",
        "action": {
            "type": "group",
            "why": "max_wait",
            "say": "We are sorry to keep you waiting so long. "
            "We are putting you through to another team. Please stay on the line.",
        },
    }
    assert backend.engine.fallbacks is not None
    assert await backend.engine.fallbacks.max_wait(placed["call_id"]) is False, "done once"
    doc = await backend.store.calls.find_one({"_id": placed["call_id"]})
    assert doc is not None
    [entry] = [e for e in doc["log"] if e["kind"] == "fallback"]  # the refusal logs nothing
    assert isinstance(entry.pop("at"), datetime)
    assert entry == {"kind": "fallback", "why": "max_wait"}
    assert await backend.engine.fallbacks.max_wait("nope") is False
    assert await backend.engine.fallbacks.dial_number("nope", "+15550001111") is False


async def _in_group(backend: Backend, call_id: str, group: str) -> dict[str, Any] | None:
    doc = await backend.store.calls.find_one({"_id": call_id})
    return dict(doc) if doc is not None and doc["group"] == group else None
