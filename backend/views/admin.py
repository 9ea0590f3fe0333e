"""Administration in the browser: the page, and the audit log it shows."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from backend.keys import ENGINE, STORE
from backend.presenters import _iso_all
from backend.views.access import current_operator, require_admin
from backend.views.errors import ApiError

AUDIT_LIMIT = 200


async def get_audit(request: web.Request) -> web.Response:
    await require_admin(request)
    text = request.query.get("limit", "")
    if text and (not text.isdigit() or not 1 <= int(text) <= AUDIT_LIMIT):
        raise ApiError(400, "invalid", f"limit: a whole number from 1 to {AUDIT_LIMIT}", "limit")
    limit = int(text) if text else 50
    now = request.app[ENGINE].clock()
    entries = await request.app[STORE].audit_entries(now, limit)
    return web.json_response({"entries": _iso_all(entries)})


async def admin_page(request: web.Request) -> web.StreamResponse:
    op = await current_operator(request)
    if op is None:
        raise web.HTTPFound("/login")
    if op.get("role") != "admin":
        refused = {"title": "Not allowed", "operator": op}
        return aiohttp_jinja2.render_template("forbidden.html", request, refused, status=403)
    config = request.app[ENGINE].settings.config  # the groups as stored now
    context: dict[str, Any] = {
        "title": "Administration",
        "operator": op,
        "is_supervisor": True,
        "is_admin": True,
        "groups": [g.name for g in config.groups],
        "default_strategy": config.routing.strategy.value.replace("_", " "),
        "default_wrap_up_s": config.routing.wrap_up_s,
        "center_timezone": config.center.timezone,
    }
    return aiohttp_jinja2.render_template("admin.html", request, context)
