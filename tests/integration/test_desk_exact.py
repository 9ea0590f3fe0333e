"""The desk's call endpoints compared whole: the card (call, contact with its manager and merged
personal data, history, CRM), the replies to a note, a disposition, personal data, a hang-up and
the end of wrap-up, what each stores (notes, the disposition, the contact, the hang-up's log
entry and command), and every refusal's whole error body, writing nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.adapters import crm
from backend.presenters import call_view
from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call, operator_in, wrapped_up_call
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

MakeBackend = Callable[..., Awaitable[Backend]]


@pytest.fixture
async def desk(make_backend: MakeBackend) -> Backend:
    return await make_backend(DESK_CONFIG)


def error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


async def send(
    b: Backend, method: str, path: str, auth: dict[str, str], **kw: Any
) -> tuple[int, Any]:
    resp = await b.client.request(method, path, headers=auth, **kw)
    return resp.status, await resp.json()


async def raw(b: Backend, call_id: str) -> dict[str, Any]:
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None
    return dict(doc)


def close_to(text: str, stored: datetime) -> bool:
    """A time in a reply (microseconds) and the same time stored (milliseconds)."""
    return abs(datetime.fromisoformat(text) - stored) < timedelta(milliseconds=1)


async def test_the_card_and_the_desk_writes_are_exact(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    await desk.add_operator("bob", name="Bob Boss")
    contacts = desk.store.db["contacts"]
    # The customer's record is the more specific one: its manager and its name win.
    await contacts.insert_one(
        {"_id": "customer:C-7", "manager": "bob", "personal": {"name": "Ann Customer"}}
    )
    await contacts.insert_one(
        {
            "_id": "phone:+15550001111",
            "manager": "ghost",
            "personal": {"name": "Ann Phone", "email": "ann@example.com"},
        }
    )
    context = '{"customer_id": "C-7", "category": "billing"}'
    first = await wrapped_up_call(desk, "alice", auth, caller="+15550001111", custom_data=context)
    base = f"/api/v1/calls/{first}"

    status, note = await send(desk, "POST", f"{base}/notes", auth, json={"text": "wants a refund"})
    assert status == 201
    [stored_note] = (await raw(desk, first))["desk"]["notes"]
    assert close_to(note.pop("at"), stored_note["at"])
    assert note == {"operator": "alice", "text": "wants a refund"}

    await desk.engine.drain()  # commands in flight write their log entries first
    await desk.engine.drain()
    before = await Snapshot.take(desk.store)
    assert await send(desk, "PUT", f"{base}/disposition", auth, json={"code": "lost"}) == (
        422,
        error("invalid_field", "code: must be one of resolved, callback_needed", "code"),
    )
    bad = {"fields": {"name": "Ann", "age": "40"}}
    assert await send(desk, "PUT", f"{base}/personal", auth, json=bad) == (
        422,
        error(
            "invalid_field",
            "fields.age: not a personal data field (known: name, email)",
            "fields.age",
        ),
    )
    assert await send(desk, "POST", "/api/v1/me/wrap_up/finish", auth) == (
        409,
        error(
            "disposition_required",
            "disposition: choose a disposition code before finishing wrap-up",
            "disposition",
        ),
    )
    await before.assert_unchanged(desk.store)

    assert await send(desk, "PUT", f"{base}/disposition", auth, json={"code": "resolved"}) == (
        200,
        {"call_id": first, "disposition": "resolved"},
    )
    stored_desk = (await raw(desk, first))["desk"]
    assert isinstance(stored_desk.pop("disposition_at"), datetime)
    assert stored_desk == {
        "notes": [stored_note],
        "disposition": "resolved",
        "disposition_by": "alice",
    }
    # Saved on the customer's record; the reply merges it with the number's record.
    personal = {"fields": {"name": "Ann Saved"}}
    assert await send(desk, "PUT", f"{base}/personal", auth, json=personal) == (
        200,
        {"call_id": first, "personal": {"name": "Ann Saved", "email": "ann@example.com"}},
    )
    saved = await contacts.find_one({"_id": "customer:C-7"})
    assert saved is not None and isinstance(saved.pop("updated_at"), datetime)
    assert saved == {"_id": "customer:C-7", "manager": "bob", "personal": {"name": "Ann Saved"}}

    assert await send(desk, "POST", "/api/v1/me/wrap_up/finish", auth) == (200, {"ok": True})
    await operator_in(desk, "alice", "idle")
    assert await send(desk, "POST", "/api/v1/me/wrap_up/finish", auth) == (
        409,
        error("not_in_wrap_up", "nothing to finish: you are idle"),
    )

    # The same customer again, from the same number: the card compared whole.
    second = (await connected_call(desk, "alice", caller="+15550001111", custom_data=context))[
        "call_id"
    ]
    # An older call from the same number under no customer id: found by the number only.
    earlier = await raw(desk, first)
    older = {
        **earlier,
        "_id": "older",
        "session_id": "older-session",
        "context": {},
        "created_at": earlier["created_at"] - timedelta(days=1),
        "desk": {"notes": []},
    }
    await desk.store.calls.insert_one(older)
    status, card = await send(desk, "GET", f"/api/v1/calls/{second}/card", auth)
    assert status == 200
    doc = await raw(desk, second)
    waited = (doc["connected_at"] - doc["enqueued_at"]).total_seconds()
    assert card == {
        "call": {
            **call_view(doc),
            "notes": [],
            "disposition": None,
            "waited_s": round(waited, 1),
        },
        "contact": {
            "key": "customer:C-7",
            "phone": "+15550001111",
            "customer_id": "C-7",
            "manager": {"login": "bob", "name": "Bob Boss"},
            "personal": {"name": "Ann Saved", "email": "ann@example.com"},
        },
        "history": [
            {
                "call_id": first,
                "caller": "+15550001111",
                "customer_id": "C-7",
                "media": "voice",
                "group": "default",
                "state": "ended",
                "outcome": "answered",
                "operator": "alice",
                "created_at": earlier["created_at"].isoformat(),
                "notes": [
                    {
                        "at": stored_note["at"].isoformat(),
                        "operator": "alice",
                        "text": "wants a refund",
                    }
                ],
                "disposition": "resolved",
            },
            {
                "call_id": "older",
                "caller": "+15550001111",
                "customer_id": None,
                "media": "voice",
                "group": "default",
                "state": "ended",
                "outcome": "answered",
                "operator": "alice",
                "created_at": older["created_at"].isoformat(),
                "notes": [],
                "disposition": None,
            },
        ],
        "previous_call": None,
        "crm": crm.CrmResult("not_configured").as_json(),
        "require_disposition": True,
    }

    # A manager nobody knows any more: named, with no name.
    await contacts.update_one({"_id": "customer:C-7"}, {"$unset": {"manager": ""}})
    status, card = await send(desk, "GET", f"/api/v1/calls/{second}/card", auth)
    assert card["contact"]["manager"] == {"login": "ghost", "name": ""}
    # No record names one: the manager the call had (from the PIN question) is shown.
    await contacts.update_many({}, {"$unset": {"manager": ""}})
    await desk.store.calls.update_one({"_id": second}, {"$set": {"manager": "bob"}})
    status, card = await send(desk, "GET", f"/api/v1/calls/{second}/card", auth)
    assert card["contact"]["manager"] == {"login": "bob", "name": "Bob Boss"}

    # The call's hundredth note is the last.
    notes = [{"at": doc["created_at"], "operator": "alice", "text": str(n)} for n in range(99)]
    await desk.store.calls.update_one({"_id": second}, {"$set": {"desk.notes": notes}})
    url = f"/api/v1/calls/{second}/notes"
    status, _ = await send(desk, "POST", url, auth, json={"text": "the last"})
    assert status == 201
    await desk.engine.drain()
    before = await Snapshot.take(desk.store)
    assert await send(desk, "POST", url, auth, json={"text": "one more"}) == (
        409,
        error("too_many_notes", "a call takes at most 100 notes", "text"),
    )
    await before.assert_unchanged(desk.store)


async def test_hangup_refusals_and_a_call_with_no_contact_are_exact(desk: Backend) -> None:
    auth = await desk.ready_operator("alice")
    carl = await desk.login((await desk.add_operator("carl"))["login"])
    placed = await connected_call(
        desk, "alice", caller="+15550003333", custom_data='{"customer_id": "C-9"}'
    )
    await operator_in(desk, "alice", "in_call")  # the operator's write follows the call's
    call_id = placed["call_id"]
    base = f"/api/v1/calls/{call_id}"

    await desk.engine.drain()
    before = await Snapshot.take(desk.store)
    assert await send(desk, "GET", f"{base}/card", carl) == (
        403,
        error("forbidden", "this call is not yours", "call_id"),
    )
    assert await send(desk, "GET", "/api/v1/calls/nope/card", auth) == (
        404,
        error("not_found", "no call nope", "call_id"),
    )
    not_connected = error("not_connected", f"call {call_id} is not connected to you")
    assert await send(desk, "POST", f"{base}/hangup", carl) == (409, not_connected)
    assert await send(desk, "POST", "/api/v1/calls/nope/hangup", auth) == (
        404,
        error("not_found", "no call nope", "call_id"),
    )
    await before.assert_unchanged(desk.store)

    # A new contact: stored under the customer id, with the number and the id.
    personal = {"fields": {"name": "Bea"}}
    assert await send(desk, "PUT", f"{base}/personal", auth, json=personal) == (
        200,
        {"call_id": call_id, "personal": {"name": "Bea", "email": ""}},
    )
    contact = await desk.store.db["contacts"].find_one({"_id": "customer:C-9"})
    assert contact is not None
    assert contact.pop("created_at") == contact.pop("updated_at")
    assert contact == {
        "_id": "customer:C-9",
        "phone": "+15550003333",
        "customer_id": "C-9",
        "personal": personal["fields"],
    }

    reason = {"reason": "caller_rude"}
    assert await send(desk, "POST", f"{base}/hangup", auth, json=reason) == (
        200,
        {"call_id": call_id, "state": "ended"},
    )
    doc = await raw(desk, call_id)
    [entry] = [e for e in doc["log"] if e["kind"] == "hangup_requested"]
    assert isinstance(entry.pop("at"), datetime)
    assert entry == {"kind": "hangup_requested", "operator": "alice", "reason": "caller_rude"}
    session = desk.platform.sessions[placed["session_id"]]

    async def hung_up() -> dict[str, Any] | None:
        sent = [c for c in session.commands if c.get("command") == "hangup"]
        return sent[0] if sent else None

    assert await eventually(hung_up, message="the hangup command") == {
        "command": "hangup",
        "reason": "caller_rude",
    }
    assert await send(desk, "POST", f"{base}/hangup", auth) == (409, not_connected)

    await send(desk, "PUT", f"{base}/disposition", auth, json={"code": "resolved"})
    assert await send(desk, "POST", "/api/v1/me/wrap_up/finish", auth) == (200, {"ok": True})
    await operator_in(desk, "alice", "idle")

    # No number, no customer id: no contact to show or to save.
    nobody = (await connected_call(desk, "alice", caller=""))["call_id"]
    await operator_in(desk, "alice", "in_call")
    status, card = await send(desk, "GET", f"/api/v1/calls/{nobody}/card", auth)
    assert status == 200
    assert card["contact"] == {
        "key": None,
        "phone": "",
        "customer_id": None,
        "manager": None,
        "personal": {"name": "", "email": ""},
    }
    assert (card["history"], card["previous_call"]) == ([], None)
    await desk.engine.drain()
    before = await Snapshot.take(desk.store)
    assert await send(desk, "PUT", f"/api/v1/calls/{nobody}/personal", auth, json=personal) == (
        409,
        error("no_contact", "the call has neither a number nor a customer id"),
    )
    await before.assert_unchanged(desk.store)
