"""Groups' settings and context rules live in the database: seeded once from the configuration,
changed through the API by administrators, applied by every process without a restart (proven
by routing), refused as start-up refuses them, audited."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from backend.keys import FEED
from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

MakeBackend = Callable[..., Awaitable[Backend]]


async def _get(b: Backend, path: str, headers: dict[str, str] | None = None) -> Any:
    resp = await b.client.get(path, headers=headers or b.admin)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _put(b: Backend, path: str, body: dict[str, Any], status: int = 200) -> Any:
    resp = await b.client.put(path, json=body, headers=b.admin)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _audit(b: Backend) -> list[dict[str, Any]]:
    return list((await _get(b, "/api/v1/audit?limit=200"))["entries"])


async def test_the_configuration_seeds_the_database_once(make_backend: MakeBackend) -> None:
    a = await make_backend()
    groups = (await _get(a, "/api/v1/groups"))["groups"]
    assert [g["name"] for g in groups] == ["default", "sales", "support"]
    sales = await _get(a, "/api/v1/groups/sales")
    assert (sales["priority"], sales["strategy"], sales["closed"]) == (60, None, False)
    rules = (await _get(a, "/api/v1/rules"))["rules"]
    assert rules[0] == {"group": "sales", "category": "sales|pricing|order", "headers": {}}
    assert len(rules) == 3
    await _put(a, "/api/v1/groups/sales", {"priority": 70, "wrap_up_s": 30})

    # A process started later with another configuration keeps the database's.
    b = await make_backend('rules = []\n[[groups]]\nname = "default"\n')
    assert [g["name"] for g in (await _get(b, "/api/v1/groups"))["groups"]] == [
        "default",
        "sales",
        "support",
    ]
    sales = await _get(b, "/api/v1/groups/sales")
    assert (sales["priority"], sales["wrap_up_s"]) == (70, 30)
    assert (await _get(b, "/api/v1/rules"))["rules"] == rules
    assert b.engine.settings.policy("sales").wrap_up_s == 30
    stored = await b.store.routing_settings.find_one({})
    assert stored is not None and stored["rev"] == 2


async def test_a_change_made_through_one_process_routes_calls_in_the_other(
    make_backend: MakeBackend,
) -> None:
    a = await make_backend()
    b = await make_backend()  # a second process on the same database

    # A new group and a rule for it, made through a: b routes a call by them.
    b.app[FEED].flowing.clear()  # b's stream held back, as a slow one would be
    created = await _put(a, "/api/v1/groups/vip", {"priority": 90}, status=201)
    assert created["name"] == "vip" and created["priority"] == 90
    # b does not know it yet, but takes an operator in it: its database has it.
    assert b.engine.settings.group("vip") is None
    await b.add_operator("val", [("vip", 1)])
    b.app[FEED].flowing.set()
    rules = (await _get(a, "/api/v1/rules"))["rules"]
    await _put(a, "/api/v1/rules", {"rules": [{"group": "vip", "category": "gold"}, *rules]})
    await b.view_synced()
    await b.set_status(await b.login("val"), "ready")
    b.platform.script("val", Script(talk_s=None))
    placed = await b.place_call(custom_data=json.dumps({"category": "gold"}))
    assert placed["state"] == "offering"
    call = await b.call(placed["call_id"])
    assert (call["group"], call["priority"], call["offer"]["operator"]) == ("vip", 90, "val")

    # A group's action set through a: b's next call to the empty group takes it.
    before = await b.place_call(custom_data=json.dumps({"category": "support"}))
    assert before["state"] == "queued" and "action" not in before
    await _put(a, "/api/v1/groups/support", {"no_agents_action": "voicemail"})
    await b.view_synced()
    after = await b.place_call(custom_data=json.dumps({"category": "support"}))
    assert after["state"] == "voicemail"
    assert after["action"]["type"] == "voicemail"


async def test_a_new_strategy_reorders_the_other_process_operators(
    make_backend: MakeBackend,
) -> None:
    a = await make_backend()
    b = await make_backend()
    # Ben answers a call, then Ann goes Ready: Ben has been idle longer, Ann has fewer calls.
    await b.ready_operator("ben", [("default", 1)])
    b.platform.script("ben", Script(answer_after_s=0.01, talk_s=0.05))
    first = await b.place_call()

    async def ben_idle_again() -> bool:
        call = await b.call(first["call_id"])
        op = await b.operator("ben")
        return bool(call["state"] == "ended" and op["activity"] == "idle")

    await eventually(ben_idle_again, message="ben's call over")
    await b.ready_operator("ann", [("default", 1)])
    assert [op.login for op in b.engine.view.routable("default", 5)] == ["ben", "ann"]

    await _put(a, "/api/v1/groups/default", {"strategy": "fewest_calls"})
    await b.view_synced()
    # b files the group's operators again in the new order, without a restart.
    assert [op.login for op in b.engine.view.routable("default", 5)] == ["ann", "ben"]
    b.platform.script("ann", Script(talk_s=None))
    second = await b.place_call()
    assert (await b.call(second["call_id"]))["offer"]["operator"] == "ann"


async def test_refused_changes_write_nothing_and_name_the_field(backend: Backend) -> None:
    b = backend
    await _put(b, "/api/v1/groups/sales", {"priority": 60, "no_agents_action": "group:support"})
    sales = await _get(b, "/api/v1/groups/sales")
    support = await _get(b, "/api/v1/groups/support")
    rules = await _get(b, "/api/v1/rules")
    audit = await _audit(b)
    snap = await Snapshot.take(b.store)
    cases: list[tuple[str, dict[str, Any], str | None, str]] = [
        # support -> sales -> support: start-up refuses such a loop, so does the API.
        ("support", {"closed_action": "group:sales"}, "closed_action", "make a loop"),
        (
            "support",
            {"max_wait_s": 60, "max_wait_action": "group:sales"},
            "max_wait_action",
            "loop",
        ),
        ("support", {"no_agents_action": "group:nowhere"}, "no_agents_action", "no group named"),
        ("support", {"no_agents_action": "dance"}, "no_agents_action", ""),
        ("support", {"strategy": "random"}, "strategy", ""),
        ("support", {"wrap_up_s": -1}, "wrap_up_s", ""),
        ("support", {"hours": ["mon-fri 9-18"]}, "hours", "expected like"),
        ("support", {"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ("support", {"holidays": ["25/12/2026"]}, "holidays", "expected a date"),
        ("support", {"spares": ["+15550001111"]}, "spares", "not in spare_numbers"),
        ("support", {"target_service_level": 1.5}, "target_service_level", ""),
        ("support", {"colour": "blue"}, "colour", ""),
        ("support", {"max_wait_s": 60}, None, "set both or neither"),
        ("bad name!", {}, "name", ""),
    ]
    for name, body, field, words in cases:
        resp = await b.client.put(f"/api/v1/groups/{name}", json=body, headers=b.admin)
        assert resp.status == 422, (name, body, await resp.text())
        error = (await resp.json())["error"]
        assert error["field"] == field, (body, error)
        assert words in error["message"], (body, error)
    rule_cases: list[tuple[dict[str, Any], str, str]] = [
        ({"rules": [{"group": "nowhere"}]}, "rules.0.group", "no group named 'nowhere'"),
        (
            {"rules": [{"group": "sales"}, {"group": "sales", "page": "("}]},
            "rules.1.page",
            "regular",
        ),
        ({"rules": [{"group": "sales", "media": "fax"}]}, "rules.0.media", ""),
        ({"rules": "all"}, "rules", ""),
        ({}, "rules", ""),
    ]
    for body, field, words in rule_cases:
        resp = await b.client.put("/api/v1/rules", json=body, headers=b.admin)
        assert resp.status == 422, (body, await resp.text())
        error = (await resp.json())["error"]
        assert error["field"] == field and words in error["message"], (body, error)
    await snap.assert_unchanged(b.store)
    # Field by field, through the API too, and nothing audited.
    assert await _get(b, "/api/v1/groups/sales") == sales
    assert await _get(b, "/api/v1/groups/support") == support
    assert await _get(b, "/api/v1/rules") == rules
    assert await _audit(b) == audit
    assert b.engine.settings.group("support") is not None
    assert b.engine.settings.group("support").closed_action is None  # type: ignore[union-attr]


async def test_a_group_in_use_is_not_deleted(backend: Backend) -> None:
    b = backend
    await b.add_operator("opal", [("support", 1)])
    await _put(b, "/api/v1/groups/spare", {}, status=201)
    await _put(b, "/api/v1/groups/night", {"closed_action": "group:spare"}, status=201)
    waiting = await b.place_call(custom_data=json.dumps({"category": "sales"}))
    assert waiting["state"] == "queued"
    snap = await Snapshot.take(b.store)
    audit = await _audit(b)
    cases = [
        ("default", 409, "default group"),
        ("support", 409, "opal"),
        ("sales", 409, "1 call(s) of sales"),
        ("spare", 409, "group night's closed_action sends calls to spare"),
        ("nowhere", 404, "no group"),
    ]
    for name, status, words in cases:
        resp = await b.client.delete(f"/api/v1/groups/{name}", headers=b.admin)
        assert resp.status == status, (name, await resp.text())
        assert words in (await resp.json())["error"]["message"], name
    await snap.assert_unchanged(b.store)
    assert await _audit(b) == audit
    await _put(b, "/api/v1/rules", {"rules": [{"group": "night", "kiosk": "k1"}]})
    snap = await Snapshot.take(b.store)
    resp = await b.client.delete("/api/v1/groups/night", headers=b.admin)
    assert resp.status == 409
    assert "rules[0] sends calls to night" in (await resp.json())["error"]["message"]
    await snap.assert_unchanged(b.store)

    # Free at last: deleted, and gone in the API, the settings and the audit log.
    await _put(b, "/api/v1/rules", {"rules": []})
    resp = await b.client.delete("/api/v1/groups/night", headers=b.admin)
    assert resp.status == 200, await resp.text()
    resp = await b.client.get("/api/v1/groups/night", headers=b.admin)
    assert resp.status == 404
    assert b.engine.settings.group("night") is None
    deleted = (await _audit(b))[0]
    assert (deleted["action"], deleted["target"], deleted["after"]) == (
        "group_deleted",
        "night",
        None,
    )
    assert deleted["before"]["closed_action"] == "group:spare"


async def test_changes_are_audited_with_before_and_after(backend: Backend) -> None:
    b = backend
    await b.add_operator("ada", role="admin")
    ada = await b.login("ada")
    resp = await b.client.put("/api/v1/groups/sales", json={"wrap_up_s": 20}, headers=ada)
    assert resp.status == 200, await resp.text()
    resp = await b.client.put("/api/v1/groups/vip", json={"priority": 95}, headers=ada)
    assert resp.status == 201, await resp.text()
    resp = await b.client.put(
        "/api/v1/rules", json={"rules": [{"group": "vip", "customer_id": "V.*"}]}, headers=ada
    )
    assert resp.status == 200, await resp.text()
    rules, created, updated = (await _audit(b))[:3]
    assert (updated["action"], updated["who"], updated["target"]) == (
        "group_updated",
        "ada",
        "sales",
    )
    assert (updated["before"]["wrap_up_s"], updated["after"]["wrap_up_s"]) == (None, 20)
    assert updated["before"]["priority"] == 60 and updated["after"]["priority"] == 50
    assert (created["action"], created["before"], created["after"]["priority"]) == (
        "group_created",
        None,
        95,
    )
    assert rules["action"] == "rules_updated" and len(rules["before"]["rules"]) == 3
    assert rules["after"] == {"rules": [{"group": "vip", "customer_id": "V.*", "headers": {}}]}


async def test_only_administrators_change_groups_and_rules(backend: Backend) -> None:
    b = backend
    await b.add_operator("sue", role="supervisor")
    sue = await b.login("sue")
    snap = await Snapshot.take(b.store)
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/groups", None),
        ("GET", "/api/v1/groups/sales", None),
        ("PUT", "/api/v1/groups/sales", {"priority": 10}),
        ("DELETE", "/api/v1/groups/support", None),
        ("GET", "/api/v1/rules", None),
        ("PUT", "/api/v1/rules", {"rules": []}),
    ]
    for method, path, body in requests:
        resp = await b.client.request(method, path, json=body, headers=sue)
        assert resp.status == 403, (method, path, await resp.text())
        resp = await b.client.request(method, path, json=body, headers=b.plat)
        assert resp.status in (401, 403), (method, path)  # the scenario's token is no admin
    await snap.assert_unchanged(b.store)


class _Racing:
    """The real collection, with another process's write landing just before this one's first
    guarded replace (as when two administrators save at the same instant)."""

    def __init__(self, coll: Any, other_write: Callable[[], Awaitable[Any]]) -> None:
        self.coll = coll
        self.other_write: Callable[[], Awaitable[Any]] | None = other_write

    def __getattr__(self, name: str) -> Any:
        return getattr(self.coll, name)

    async def replace_one(self, *args: Any, **kwargs: Any) -> Any:
        if self.other_write is not None:
            write, self.other_write = self.other_write, None
            await write()
        return await self.coll.replace_one(*args, **kwargs)


async def test_two_administrators_at_once_cannot_make_a_loop_together(
    make_backend: MakeBackend,
) -> None:
    a = await make_backend()
    b = await make_backend()
    # Each change alone is allowed; together they would send support -> sales -> support.
    a.store.routing_settings = _Racing(
        a.store.routing_settings,
        lambda: _put(b, "/api/v1/groups/sales", {"no_agents_action": "group:support"}),
    )
    resp = await a.client.put(
        "/api/v1/groups/support", json={"closed_action": "group:sales"}, headers=a.admin
    )
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["field"] == "closed_action" and "make a loop" in error["message"]
    stored = await b.store.routing_settings.find_one({})
    assert stored is not None
    by_name = {g["name"]: g for g in stored["groups"]}
    assert by_name["sales"]["no_agents_action"] == "group:support"
    assert by_name["support"]["closed_action"] is None
    assert stored["rev"] == 2
