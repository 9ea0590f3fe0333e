"""One routes table."""

from __future__ import annotations

from aiohttp import web

from backend.keys import STORE
from backend.views import operators, platform, ws


def setup_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.post("/api/v1/calls", platform.post_call, name="calls"),
            web.get("/api/v1/calls/{call_id}", platform.get_call, name="call"),
            web.post("/api/v1/calls/{call_id}/events", platform.post_event, name="call_events"),
            web.post("/api/v1/auth/login", operators.login, name="login"),
            web.post("/api/v1/auth/logout", operators.logout, name="logout"),
            web.get("/api/v1/me", operators.me, name="me"),
            web.post("/api/v1/me/status", operators.set_status, name="me_status"),
            web.get("/api/v1/me/status_history", operators.status_history, name="me_history"),
            web.get("/api/v1/ws", ws.websocket, name="ws"),
            web.get("/api/v1/operators", operators.list_operators, name="operators"),
            web.get("/api/v1/operators/{login}", operators.get_operator, name="operator"),
            web.put("/api/v1/operators/{login}", operators.put_operator, name="operator_put"),
            web.get(
                "/api/v1/operators/{login}/status_history",
                operators.status_history,
                name="operator_history",
            ),
            web.get("/api/v1/queues", operators.queues, name="queues"),
            web.get("/healthz", health, name="health"),
        ]
    )


async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers: this process answers and its database does too."""
    await request.app[STORE].db.command("ping")
    return web.json_response({"ok": True})
