"""An operator's profile, sessions and log-in compared whole: the reply to PUT, the stored
document, how many times the sessions were ended, the throttle's records, the error bodies.

Each scenario runs in a fixture and the test compares its last result: mutmut runs the tests
that reach a mutant in the order of their measured *call* time and stops at a time budget, and
a hundred integration tests reach these services. Done at set-up, a scenario is timed at ~0 s,
runs among the first, and a difference anywhere in it (an assert in the fixture) fails the test
as an error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from backend.adapters.documents import iso
from tests.conftest import Backend

PROFILE = {
    "name": "Olga",
    "email": "o@example.org",
    "password": "password-1",
    "role": "operator",
    "address": {"type": "user", "address": "olga"},
    "groups": [{"name": "default", "level": 2}],
}


async def _put(b: Backend, login: str, body: dict[str, Any]) -> tuple[int, Any]:
    resp = await b.client.put(f"/api/v1/operators/{login}", json=body, headers=b.admin)
    return resp.status, await resp.json()


async def _stored(b: Backend) -> dict[str, Any]:
    doc = await b.store.operators.find_one({"_id": "olga"})
    assert doc is not None
    return dict(doc)


async def _login(b: Backend, password: str) -> tuple[int, Any]:
    body = {"login": "olga", "password": password}
    resp = await b.client.post("/api/v1/auth/login", json=body)
    return resp.status, await resp.json()


def _view(doc: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """The operator as every reply shows it, from the stored document's clock values."""
    return {
        "login": "olga",
        "name": profile["name"],
        "email": profile["email"],
        "role": profile["role"],
        "address": profile["address"],
        "groups": profile["groups"],
        "presence": doc["presence"],
        "presence_since": iso(doc["presence_since"]),
        "reason": None,
        "activity": "idle",
        "activity_since": iso(doc["activity_since"]),
        "activity_until": None,
        "idle_since": iso(doc["idle_since"]),
        "last_seen": iso(doc.get("last_seen")),
        "offer_id": None,
        "call_id": None,
        "misses_in_row": 0,
        "ban_level": 0,
        "absence": None,
        "score": 50.0,
        "scores": {"answers": 0, "avg_answer_s": None, "misses": 0, "offers": 0, "talk_s": 0.0},
    }


@pytest.fixture
async def profile_updates_end_sessions_only_when_they_must(backend: Backend) -> tuple[int, Any]:
    b = backend
    assert await _put(b, "olga", {k: v for k, v in PROFILE.items() if k != "password"}) == (
        422,
        {
            "error": {
                "code": "invalid_field",
                "message": "password: password is required for a new operator",
                "field": "password",
            }
        },
    )
    assert await b.store.operators.count_documents({}) == 0
    status, reply = await _put(b, "olga", PROFILE)
    doc = await _stored(b)
    assert (status, reply) == (201, _view(doc, PROFILE))
    created = doc["created_at"]
    assert isinstance(created, datetime) and str(doc.pop("password_hash")).startswith("scrypt$")
    assert doc == {
        "_id": "olga",
        "rev": 0,
        "name": "Olga",
        "email": "o@example.org",
        "role": "operator",
        "address": {"type": "user", "address": "olga"},
        "groups": [{"name": "default", "level": 2}],
        "group_names": ["default"],
        "presence": "offline",
        "presence_since": created,
        "reason": None,
        "activity": "idle",
        "activity_since": created,
        "activity_until": None,
        "idle_since": created,
        "offer_id": None,
        "call_id": None,
        "misses_in_row": 0,
        "ban_level": 0,
        "absence": None,
        "score": 50.0,
        "stats": {
            "answer_s_total": 0.0,
            "answers": 0,
            "misses": 0,
            "offers": 0,
            "talk_s_total": 0.0,
        },
        "video_invite": None,
        "created_at": created,
        "updated_at": created,
    }
    # A wrong password: refused, counted for the login and the address; the right one clears
    # the login's count (the address keeps its own).
    refused = {
        "error": {"code": "bad_credentials", "message": "wrong login or password", "field": None}
    }
    assert await _login(b, "wrong-password") == (401, refused)
    attempts = b.store.operators.database["login_attempts"]
    counted = {d["_id"]: d["attempts"] async for d in attempts.find({})}
    assert counted == {"login:olga": 1, "addr:127.0.0.1": 1}
    status, body = await _login(b, "password-1")
    assert (status, body["operator"]) == (200, _view(doc, PROFILE))
    assert [d["_id"] async for d in attempts.find({})] == ["addr:127.0.0.1"]
    old = {"Authorization": f"Bearer {body['token']}"}
    assert (await b.client.get("/api/v1/me", headers=old)).status == 200
    # Ready counts as seen now; Not ready with its reason does not touch last_seen.
    ready = await b.set_status(old, "ready")
    doc = await _stored(b)
    seen = doc["last_seen"]
    assert isinstance(seen, datetime) and doc["created_at"] < seen <= doc["presence_since"]
    assert (ready["presence"], ready["reason"], ready["last_seen"]) == ("ready", None, iso(seen))
    lunch = await b.set_status(old, "not_ready", "lunch")
    doc = await _stored(b)
    assert (lunch["presence"], lunch["reason"], doc["last_seen"]) == ("not_ready", "lunch", seen)
    await b.set_status(old, "offline")

    def epoch(d: dict[str, Any]) -> int:
        return int(d.get("session_epoch", 0))

    # The profile alone: the session stays, nothing ended.
    renamed = {**PROFILE, "name": "Olga K", "groups": [{"name": "sales", "level": 3}]}
    del renamed["password"]
    status, reply = await _put(b, "olga", renamed)
    doc = await _stored(b)
    assert (status, reply) == (200, _view(doc, renamed))
    assert (doc["rev"], doc["name"], doc["group_names"], epoch(doc)) == (4, "Olga K", ["sales"], 0)
    assert (await b.client.get("/api/v1/me", headers=old)).status == 200
    # Another role: every session ends, before the change and after it.
    promoted = {**renamed, "role": "supervisor"}
    status, reply = await _put(b, "olga", promoted)
    doc = await _stored(b)
    assert (status, reply, doc["rev"], epoch(doc)) == (200, _view(doc, promoted), 5, 2)
    assert (await b.client.get("/api/v1/me", headers=old)).status == 401
    # A new password: the same, twice more; the old password no longer logs in.
    status, reply = await _put(b, "olga", {**promoted, "password": "password-2"})
    doc = await _stored(b)
    assert (status, reply, doc["rev"], epoch(doc)) == (200, _view(doc, promoted), 6, 4)
    assert await _login(b, "password-1") == (401, refused)
    status, body = await _login(b, "password-2")
    assert (status, body["operator"]) == (200, _view(doc, promoted))
    # Olga manages a contact. On vacation she keeps it and her sessions; dismissed, she loses
    # both, and the right password is refused with its own error.
    phone = "+15551110000"
    resp = await b.client.put(
        f"/api/v1/contacts/{phone}/manager", json={"manager": "olga"}, headers=b.admin
    )
    assert resp.status == 200, await resp.text()
    [contact] = [c async for c in b.store.contacts.find({})]
    for reason, rev, sessions in (("vacation", 7, 4), ("dismissed", 8, 5)):
        resp = await b.client.put(
            "/api/v1/operators/olga/absence", json={"reason": reason}, headers=b.admin
        )
        assert resp.status == 200
        doc = await _stored(b)
        assert (doc["absence"]["reason"], doc["rev"], epoch(doc)) == (reason, rev, sessions)
        if reason == "vacation":
            assert [c async for c in b.store.contacts.find({})] == [contact]
    [released] = [c async for c in b.store.contacts.find({})]
    assert released["updated_at"] > contact["updated_at"]
    assert released == {**contact, "manager": None, "updated_at": released["updated_at"]}
    assert b.engine.view.manager_of([f"phone:{phone}"]) is None
    return await _login(b, "password-2")


async def test_profile_updates_end_sessions_only_when_they_must(
    profile_updates_end_sessions_only_when_they_must: tuple[int, Any],
) -> None:
    assert profile_updates_end_sessions_only_when_they_must == (
        403,
        {
            "error": {
                "code": "dismissed",
                "message": "this operator has been dismissed",
                "field": None,
            }
        },
    )
