"""Groups: a supervisor closes or reopens a group now, whatever its hours."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool

from backend.keys import ENGINE, STORE
from backend.views.access import require_supervisor
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
