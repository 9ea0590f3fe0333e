"""Every administrative change is in the audit log: who, when, before and after."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.support.snapshots import Snapshot


async def _audit(b: Backend, headers: dict[str, str]) -> list[dict[str, Any]]:
    resp = await b.client.get("/api/v1/audit", headers=headers)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["entries"])


async def test_operator_changes_and_absences_are_audited(backend: Backend) -> None:
    b = backend
    await b.add_operator("ada", role="admin")
    ada = await b.login("ada")
    await b.add_operator("bob", name="Bob")
    body = {
        "name": "Robert",
        "role": "supervisor",
        "address": {"type": "user", "address": "bob"},
        "groups": [{"name": "default", "level": 4}],
        "password": "a-new-password",
    }
    resp = await b.client.put("/api/v1/operators/bob", json=body, headers=ada)
    assert resp.status == 200, await resp.text()
    resp = await b.client.put(
        "/api/v1/operators/bob/absence", json={"reason": "vacation"}, headers=ada
    )
    assert resp.status == 200, await resp.text()
    resp = await b.client.delete("/api/v1/operators/bob/absence", headers=b.admin)
    assert resp.status == 200, await resp.text()

    entries = await _audit(b, ada)
    assert [(e["action"], e["who"], e["target"]) for e in entries[:4]] == [
        ("absence_removed", "admin token", "bob"),
        ("absence_set", "ada", "bob"),
        ("operator_updated", "ada", "bob"),
        ("operator_created", "admin token", "bob"),
    ]
    removed, absent, updated, created = entries[:4]
    assert created["before"] is None and created["after"]["name"] == "Bob"
    assert (updated["before"]["name"], updated["after"]["name"]) == ("Bob", "Robert")
    assert (updated["before"]["role"], updated["after"]["role"]) == ("operator", "supervisor")
    assert updated["after"]["groups"] == [{"name": "default", "level": 4}]
    assert updated["password_changed"] is True
    assert "password_hash" not in str(updated)
    assert absent["before"] == {"absence": None}
    assert absent["after"]["absence"]["reason"] == "vacation"
    assert removed["after"] == {"absence": None}
    assert entries[0]["at"] >= entries[1]["at"]


async def test_a_refused_change_is_not_audited(backend: Backend) -> None:
    b = backend
    await b.add_operator("cid")
    before = await _audit(b, b.admin)
    snap = await Snapshot.take(b.store)
    bad = {
        "name": "Cid",
        "address": {"type": "user", "address": "cid"},
        "groups": [{"name": "nowhere", "level": 1}],
    }
    resp = await b.client.put("/api/v1/operators/cid", json=bad, headers=b.admin)
    assert resp.status == 422
    assert (await resp.json())["error"]["field"] == "groups.0.name"
    await snap.assert_unchanged(b.store)
    assert await _audit(b, b.admin) == before


async def test_the_audit_log_is_for_administrators(backend: Backend) -> None:
    b = backend
    await b.add_operator("sue", role="supervisor")
    sue = await b.login("sue")
    resp = await b.client.get("/api/v1/audit", headers=sue)
    assert resp.status == 403
    resp = await b.client.get("/api/v1/audit?limit=0", headers=b.admin)
    assert resp.status == 400
    assert (await resp.json())["error"]["field"] == "limit"
    page = await b.client.get("/admin", headers=sue)
    assert page.status == 403
