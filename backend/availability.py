"""Fast, well-formed 503s while the database is unreachable.

`DB_STATE` (set by `python -m backend` when it supervises the embedded database) says whether
the database is up; while it is not, every request is answered at once with 503 in the API's
error shape instead of waiting for server selection. A request that meets a lost connection
anyway gets the same answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pymongo.errors import ConnectionFailure

from backend.adapters.embedded_db import DatabaseState
from backend.views.errors import error_response

DB_STATE = web.AppKey("db_state", DatabaseState)
RETRY_AFTER_S = 1


def unavailable(reason: str) -> web.Response:
    resp = error_response(503, "database_unavailable", f"the database is unavailable: {reason}")
    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


@web.middleware
async def database_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    state = request.app.get(DB_STATE)
    if state is not None and not state.up:
        return unavailable(state.reason or "restarting")
    try:
        return await handler(request)
    except ConnectionFailure as e:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise
        return unavailable(type(e).__name__)
