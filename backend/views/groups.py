"""Groups: a supervisor closes or reopens a group now, whatever its hours; administrators
create, change and delete groups and set the context rules (stored in the database)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from backend.keys import ENGINE, STORE
from backend.services import audit, group_settings
from backend.services.group_settings import Groups, Rules
from backend.settings import GroupConfig, GroupSettings, InvalidGroupsOrRules, RuleConfig
from backend.views.access import require_admin, require_supervisor
from backend.views.errors import ApiError, read_json


class ClosedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    closed: StrictBool


async def put_closed(request: web.Request) -> web.Response:
    """PUT /api/v1/groups/{name}/closed {"closed": true | false} (supervisors, admins).

    Kept in the database (`groups`), so every process sees it through its change stream."""
    user = await require_supervisor(request)
    name = request.match_info["name"]
    engine = request.app[ENGINE]
    if engine.settings.group(name) is None:
        raise ApiError(404, "not_found", f"no group {name!r}", "name")
    body = await read_json(request, ClosedIn)
    now = engine.clock()
    by = str(user["_id"]) if user else "admin"
    await request.app[STORE].set_group_closed(name, body.closed, by, now)
    engine.feed.local_group(name, body.closed)
    fallbacks = engine.fallbacks
    open_now = fallbacks.is_open(name, now) if fallbacks is not None else not body.closed
    return web.json_response({"group": name, "closed": body.closed, "open_now": open_now})


# -- administration: the groups' settings (admins) ------------------------------------------


def _group_view(g: GroupConfig, request: web.Request) -> dict[str, Any]:
    view = request.app[ENGINE].view
    return {**group_settings.group_out(g), "closed": view.closed_now(g.name)}


def _action_keys(body: GroupSettings) -> list[str]:
    return [
        key
        for key in ("closed_action", "no_agents_action", "max_wait_action")
        if (getattr(body, key) or "").startswith("group:")
    ]


def _refusal(e: InvalidGroupsOrRules, body: GroupSettings | None = None) -> ApiError:
    """Start-up's words for the refusal, and the field of the request they are about."""
    key = e.key
    if key.startswith("groups.") and key.count(".") >= 2:
        field = key.split(".", 2)[2]  # groups.<name>.closed_action
    elif key == "groups" and body is not None and (actions := _action_keys(body)):
        field = actions[0]  # a loop of group actions: the first action that sends onwards
    else:
        field = re.sub(r"\[(\d+)\]", r".\1", key)  # rules[2].group -> rules.2.group
    return ApiError(422, "invalid_field", str(e), field)


async def list_groups(request: web.Request) -> web.Response:
    """GET /api/v1/groups (admins): every group with its settings, as stored now."""
    await require_admin(request)
    groups = request.app[ENGINE].settings.config.groups
    return web.json_response({"groups": [_group_view(g, request) for g in groups]})


async def get_group(request: web.Request) -> web.Response:
    await require_admin(request)
    name = request.match_info["name"]
    g = request.app[ENGINE].settings.group(name)
    if g is None:
        raise ApiError(404, "not_found", f"no group {name!r}", "name")
    return web.json_response(_group_view(g, request))


async def put_group(request: web.Request) -> web.Response:
    """PUT /api/v1/groups/{name} (admins): create or replace a group's settings, checked as
    start-up checks `[[groups]]` (the same models), applied by every process without restart."""
    admin = await require_admin(request)
    name = request.match_info["name"]
    body = await read_json(request, GroupSettings)
    try:
        group = GroupConfig.model_validate({**body.model_dump(), "name": name})
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "name"
        raise ApiError(422, "invalid_field", f"{field}: {first['msg']}", field) from None
    engine = request.app[ENGINE]

    def proposed(groups: Groups, rules: Rules) -> tuple[list[GroupConfig], Rules]:
        names = [g.name for g in groups]
        out = list(groups)
        if name in names:
            out[names.index(name)] = group
        else:
            out.append(group)
        return out, rules

    try:
        (old_groups, _), _after = await group_settings.change(engine, audit.who(admin), proposed)
    except InvalidGroupsOrRules as e:
        raise _refusal(e, body) from None
    before = next((g for g in old_groups if g.name == name), None)
    await audit.record(
        engine.store,
        admin,
        "group_updated" if before else "group_created",
        name,
        group_settings.group_out(before) if before else None,
        group_settings.group_out(group),
        engine.clock(),
    )
    return web.json_response(_group_view(group, request), status=200 if before else 201)


async def delete_group(request: web.Request) -> web.Response:
    """DELETE /api/v1/groups/{name} (admins): refused (409) while anything still uses it."""
    admin = await require_admin(request)
    name = request.match_info["name"]
    engine = request.app[ENGINE]
    if engine.settings.group(name) is None:
        raise ApiError(404, "not_found", f"no group {name!r}", "name")
    if name == engine.settings.config.routing.default_group:
        raise ApiError(409, "group_in_use", f"{name} is the default group (routing.default_group)")
    logins, calls = group_settings.users_of(engine, name)
    if logins:
        raise ApiError(
            409,
            "group_in_use",
            f"operators are in {name} ({', '.join(logins)}): take them out of it first",
        )
    if calls:
        raise ApiError(409, "group_in_use", f"{calls} call(s) of {name} have not ended yet")

    def proposed(groups: Groups, rules: Rules) -> tuple[list[GroupConfig], Rules]:
        for i, rule in enumerate(rules):
            if rule.group == name:
                raise ApiError(409, "group_in_use", f"rules[{i}] sends calls to {name}")
        for g in groups:
            for key, action in zip(
                ("closed_action", "no_agents_action", "max_wait_action"), g.actions(), strict=True
            ):
                if action is not None and action.type == "group" and action.target == name:
                    raise ApiError(
                        409, "group_in_use", f"group {g.name}'s {key} sends calls to {name}"
                    )
        return [g for g in groups if g.name != name], rules

    try:
        (old_groups, _), _after = await group_settings.change(engine, audit.who(admin), proposed)
    except InvalidGroupsOrRules as e:
        raise ApiError(409, "group_in_use", str(e)) from None
    before = next((g for g in old_groups if g.name == name), None)
    # The supervisor's switch goes with it: a group made again later starts open.
    await engine.store.groups.delete_one({"_id": name})
    await audit.record(
        engine.store,
        admin,
        "group_deleted",
        name,
        group_settings.group_out(before) if before else None,
        None,
        engine.clock(),
    )
    return web.json_response({"deleted": name})


# -- administration: the context rules (admins) ---------------------------------------------


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: tuple[RuleConfig, ...]


async def get_rules(request: web.Request) -> web.Response:
    """GET /api/v1/rules (admins): the context rules in force, first match wins."""
    await require_admin(request)
    rules = request.app[ENGINE].settings.config.rules
    return web.json_response({"rules": [group_settings.rule_out(r) for r in rules]})


async def put_rules(request: web.Request) -> web.Response:
    """PUT /api/v1/rules {"rules": [...]} (admins): the whole list, checked as start-up checks
    `[[rules]]`, applied by every process without restart."""
    admin = await require_admin(request)
    body = await read_json(request, RulesIn)
    engine = request.app[ENGINE]
    try:
        (_, old_rules), _after = await group_settings.change(
            engine, audit.who(admin), lambda groups, _rules: (groups, body.rules)
        )
    except InvalidGroupsOrRules as e:
        raise _refusal(e) from None
    after = [group_settings.rule_out(r) for r in body.rules]
    await audit.record(
        engine.store,
        admin,
        "rules_updated",
        "rules",
        {"rules": [group_settings.rule_out(r) for r in old_rules]},
        {"rules": after},
        engine.clock(),
    )
    return web.json_response({"rules": after})
