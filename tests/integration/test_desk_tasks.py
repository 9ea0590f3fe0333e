"""Voicemail tasks on the desk, in one process against the real database: a message left when
nobody of the group is online becomes a task, offered to the next Ready operator, accepted
and closed with (or, where no code is required, without) a disposition. Every refusal is
compared whole and writes nothing; the log entries of the accept and the close are compared
whole too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from tests.conftest import Backend
from tests.support.desk import call_in_state
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot

MakeBackend = Callable[..., Awaitable[Backend]]

TASK_CONFIG = """
[desk]
dispositions = ["resolved", "callback_needed"]

[voicemail]
max_length_s = 30

[[groups]]
name = "default"
no_agents_action = "voicemail"
require_disposition = true

[[groups]]
name = "sales"

[[groups]]
name = "support"
no_agents_action = "voicemail"
"""


def error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


async def post(b: Backend, path: str, auth: dict[str, str], **kw: Any) -> tuple[int, Any]:
    resp = await b.client.post(path, headers=auth, **kw)
    return resp.status, await resp.json()


async def raw(b: Backend, call_id: str) -> dict[str, Any]:
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None
    return dict(doc)


def entries(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The call's log entries of one kind, each with its time checked and taken out."""
    found = []
    for e in doc["log"]:
        if e["kind"] == kind:
            e = dict(e)
            assert isinstance(e.pop("at"), datetime)
            found.append(e)
    return found


async def voicemail_task(b: Backend, **fields: Any) -> str:
    """A call that finds nobody of its group online, leaves a message: a queued task."""
    placed = await b.place_call(**fields)
    assert placed["state"] == "voicemail"
    call_id = str(placed["call_id"])
    status, body = await post(
        b,
        f"/api/v1/calls/{call_id}/events",
        b.plat,
        json={
            "type": "voicemail_recorded",
            "url": f"https://rec.example/{call_id}",
            "duration_s": 7,
        },
    )
    assert status == 200, body
    return call_id


async def test_a_voicemail_task_is_accepted_and_closed_and_every_refusal_is_exact(
    make_backend: MakeBackend,
) -> None:
    b = await make_backend(TASK_CONFIG)
    walt = await b.ready_operator("walt", [("sales", 1)])  # online, but not of the group
    call_id = await voicemail_task(b)
    queued = await call_in_state(b, call_id, "queued")
    assert (queued["task"], queued["voicemail_s"]) == ("voicemail", 7)

    vera = await b.ready_operator("vera")
    offered = await call_in_state(b, call_id, "offering")
    assert offered["offer"]["operator"] == "vera"
    base = f"/api/v1/calls/{call_id}"

    await b.engine.drain()  # commands in flight write their log entries first
    await b.engine.drain()
    before = await Snapshot.take(b.store)
    not_offered = error("not_offered", f"task {call_id} is not offered to you now")
    assert await post(b, f"{base}/accept", walt) == (409, not_offered)
    assert await post(b, "/api/v1/calls/nope/accept", vera) == (
        404,
        error("not_found", "no call nope", "call_id"),
    )
    not_taken = error("not_taken", f"task {call_id} is not taken by you")
    assert await post(b, f"{base}/close", vera, json={}) == (409, not_taken)
    assert await post(b, f"{base}/close", walt, json={"disposition": "resolved"}) == (
        403,
        error("forbidden", "this call is not yours", "call_id"),
    )
    assert await post(b, "/api/v1/calls/nope/close", vera, json={}) == (
        404,
        error("not_found", "no call nope", "call_id"),
    )
    await before.assert_unchanged(b.store)

    assert await post(b, f"{base}/accept", vera) == (
        200,
        {"call_id": call_id, "state": "connected"},
    )
    doc = await raw(b, call_id)
    assert entries(doc, "task_accepted") == [{"kind": "task_accepted", "operator": "vera"}]
    assert entries(doc, "state")[-1] == {"kind": "state", "from": "offering", "to": "connected"}
    assert (doc["state"], doc["operator"]) == ("connected", "vera")

    await b.engine.drain()
    before = await Snapshot.take(b.store)
    assert await post(b, f"{base}/accept", vera) == (409, not_offered)
    assert await post(b, f"{base}/close", vera, json={"disposition": "lost"}) == (
        422,
        error(
            "invalid_field", "disposition: must be one of resolved, callback_needed", "disposition"
        ),
    )
    assert await post(b, f"{base}/close", vera, json={}) == (
        409,
        error(
            "disposition_required",
            "disposition: choose a disposition code before closing",
            "disposition",
        ),
    )
    await before.assert_unchanged(b.store)

    assert await post(b, f"{base}/close", vera, json={"disposition": "resolved"}) == (
        200,
        {"call_id": call_id, "state": "ended", "outcome": "voicemail"},
    )
    doc = await raw(b, call_id)
    assert isinstance(doc["desk"].pop("disposition_at"), datetime)
    assert doc["desk"] == {"disposition": "resolved", "disposition_by": "vera"}
    assert entries(doc, "task_closed") == [{"kind": "task_closed", "operator": "vera"}]
    assert (doc["state"], doc["outcome"], doc["end_reason"], doc["hung_up_by"]) == (
        "ended",
        "voicemail",
        "handled",
        "operator",
    )
    await b.engine.drain()
    before = await Snapshot.take(b.store)
    assert await post(b, f"{base}/close", vera, json={"disposition": "resolved"}) == (
        409,
        not_taken,
    )
    await before.assert_unchanged(b.store)

    # An ordinary call offered to an operator is answered on the phone, not accepted here.
    b.platform.script("walt", Script(answer_after_s=None))
    ringing = (await b.place_call(custom_data='{"category": "sales"}'))["call_id"]
    assert (await call_in_state(b, ringing, "offering"))["offer"]["operator"] == "walt"
    assert await post(b, f"/api/v1/calls/{ringing}/accept", walt) == (
        409,
        error("not_offered", f"task {ringing} is not offered to you now"),
    )
    assert (await b.call(ringing))["state"] == "offering"


async def test_a_task_of_a_group_without_required_code_closes_without_one(
    make_backend: MakeBackend,
) -> None:
    b = await make_backend(TASK_CONFIG)
    call_id = await voicemail_task(b, custom_data='{"category": "support"}')
    sam = await b.ready_operator("sam", [("support", 1)])
    await call_in_state(b, call_id, "offering")
    base = f"/api/v1/calls/{call_id}"
    assert await post(b, f"{base}/accept", sam) == (200, {"call_id": call_id, "state": "connected"})
    # Taken over behind this process's back between the desk's check and the guarded write
    # (the task still names sam's offer): the close is refused and writes nothing.
    await b.store.calls.update_one(
        {"_id": call_id}, {"$set": {"operator": "zed"}, "$inc": {"rev": 1}}
    )
    await b.engine.drain()
    before = await Snapshot.take(b.store)
    assert await post(b, f"{base}/close", sam, json={}) == (
        409,
        error("not_taken", f"task {call_id} is not taken by you"),
    )
    await before.assert_unchanged(b.store)
    await b.store.calls.update_one(
        {"_id": call_id}, {"$set": {"operator": "sam"}, "$inc": {"rev": 1}}
    )
    assert await post(b, f"{base}/close", sam, json={}) == (
        200,
        {"call_id": call_id, "state": "ended", "outcome": "voicemail"},
    )
    doc = await raw(b, call_id)
    assert "desk" not in doc, "no code given, none required: nothing recorded"
    assert entries(doc, "task_closed") == [{"kind": "task_closed", "operator": "sam"}]


async def test_a_close_refused_after_a_takeover_keeps_no_code(make_backend: MakeBackend) -> None:
    """The code rides on the close's guarded write: taken over between the desk's check and
    that write, the close is refused and the code is not recorded either (it was, before)."""
    b = await make_backend(TASK_CONFIG)
    call_id = await voicemail_task(b)
    vera = await b.ready_operator("vera")
    await call_in_state(b, call_id, "offering")
    base = f"/api/v1/calls/{call_id}"
    assert await post(b, f"{base}/accept", vera) == (
        200,
        {"call_id": call_id, "state": "connected"},
    )
    await b.store.calls.update_one(
        {"_id": call_id}, {"$set": {"operator": "zed"}, "$inc": {"rev": 1}}
    )
    await b.engine.drain()
    before = await Snapshot.take(b.store)
    assert await post(b, f"{base}/close", vera, json={"disposition": "resolved"}) == (
        409,
        error("not_taken", f"task {call_id} is not taken by you"),
    )
    await before.assert_unchanged(b.store)
    assert "desk" not in await raw(b, call_id)
    await b.store.calls.update_one(
        {"_id": call_id}, {"$set": {"operator": "vera"}, "$inc": {"rev": 1}}
    )
    assert await post(b, f"{base}/close", vera, json={"disposition": "callback_needed"}) == (
        200,
        {"call_id": call_id, "state": "ended", "outcome": "voicemail"},
    )
    doc = await raw(b, call_id)
    assert {k: v for k, v in doc["desk"].items() if k != "disposition_at"} == {
        "disposition": "callback_needed",
        "disposition_by": "vera",
    }
    assert doc["created_at"] < doc["desk"]["disposition_at"] <= doc["ended_at"]
    # This process's copy has it too (the stream's echo of its own write is skipped).
    known = b.engine.call_doc(call_id)
    assert known is not None and known["desk"] == doc["desk"]
