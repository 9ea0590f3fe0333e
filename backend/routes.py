"""One routes table."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pymongo.errors import PyMongoError

from backend import openapi
from backend.availability import unavailable
from backend.keys import STORE
from backend.views import (
    admin,
    affinity,
    desk,
    groups,
    operators,
    pages,
    parties,
    platform,
    supervise,
    supervision,
    video,
    ws,
)

HEALTH_TIMEOUT_S = 0.9


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
            # Before /operators/{login}: "live" is not a login.
            web.get("/api/v1/operators/live", supervision.operators_live, name="operators_live"),
            web.get("/api/v1/reports/summary", supervision.summary, name="reports_summary"),
            web.get("/api/v1/reports/staffing", supervision.staffing, name="reports_staffing"),
            web.get("/api/v1/operators/{login}", operators.get_operator, name="operator"),
            web.put("/api/v1/operators/{login}", operators.put_operator, name="operator_put"),
            web.get(
                "/api/v1/operators/{login}/status_history",
                operators.status_history,
                name="operator_history",
            ),
            web.get("/api/v1/queues", operators.queues, name="queues"),
            web.put("/api/v1/groups/{name}/closed", groups.put_closed, name="group_closed"),
            web.get("/api/v1/groups", groups.list_groups, name="groups"),
            web.get("/api/v1/groups/{name}", groups.get_group, name="group"),
            web.put("/api/v1/groups/{name}", groups.put_group, name="group_put"),
            web.delete("/api/v1/groups/{name}", groups.delete_group, name="group_delete"),
            web.get("/api/v1/rules", groups.get_rules, name="rules"),
            web.put("/api/v1/rules", groups.put_rules, name="rules_put"),
            web.put(
                "/api/v1/contacts/{phone}/manager",
                affinity.put_contact_manager,
                name="contact_manager",
            ),
            web.put(
                "/api/v1/calls/{call_id}/manager", affinity.put_call_manager, name="call_manager"
            ),
            web.put("/api/v1/operators/{login}/absence", affinity.put_absence, name="absence_put"),
            web.delete(
                "/api/v1/operators/{login}/absence", affinity.delete_absence, name="absence_delete"
            ),
            web.get("/healthz", health, name="health"),
            web.get("/api/v1/openapi.json", openapi.serve, name="openapi"),
            # The operator desk: pages, then its API.
            web.get("/", pages.index, name="index"),
            web.get("/login", pages.login_page, name="login_page"),
            web.get("/favicon.ico", pages.favicon, name="favicon"),
            web.get("/desk", pages.desk_page, name="desk_page"),
            web.get("/supervisor", pages.supervisor_page, name="supervisor_page"),
            web.get("/admin", admin.admin_page, name="admin_page"),
            web.get("/api/v1/audit", admin.get_audit, name="audit"),
            web.get("/api/v1/me/today", desk.get_today, name="me_today"),
            web.post("/api/v1/me/wrap_up/finish", desk.post_finish_wrap_up, name="wrap_up_finish"),
            web.get("/api/v1/me/media", desk.get_media, name="me_media"),
            web.post("/api/v1/me/media/login_hash", desk.post_media_hash, name="me_media_hash"),
            web.put("/api/v1/operators/{login}/voximplant", desk.put_media_user, name="media_user"),
            web.get("/api/v1/calls/{call_id}/card", desk.get_card, name="call_card"),
            web.post("/api/v1/calls/{call_id}/notes", desk.post_note, name="call_notes"),
            web.put("/api/v1/calls/{call_id}/disposition", desk.put_disposition, name="call_disp"),
            web.put("/api/v1/calls/{call_id}/personal", desk.put_personal, name="call_personal"),
            web.post("/api/v1/calls/{call_id}/hangup", desk.post_hangup, name="call_hangup"),
            web.get("/api/v1/me/party_targets", parties.get_targets, name="party_targets"),
            web.post("/api/v1/calls/{call_id}/hold", parties.post_hold, name="call_hold"),
            web.post("/api/v1/calls/{call_id}/unhold", parties.post_unhold, name="call_unhold"),
            web.post("/api/v1/calls/{call_id}/parties", parties.post_party, name="call_parties"),
            web.delete(
                "/api/v1/calls/{call_id}/parties/{party_id}",
                parties.delete_party,
                name="call_party",
            ),
            web.post(
                "/api/v1/calls/{call_id}/transfer", parties.post_transfer, name="call_transfer"
            ),
            # Listen, whisper, barge.
            web.post(
                "/api/v1/calls/{call_id}/supervise", supervise.post_supervise, name="supervise"
            ),
            web.patch(
                "/api/v1/calls/{call_id}/parties/{party_id}",
                supervise.patch_party,
                name="call_party_mode",
            ),
            web.post("/api/v1/calls/{call_id}/accept", desk.post_accept_task, name="task_accept"),
            web.post("/api/v1/calls/{call_id}/close", desk.post_close_task, name="task_close"),
            # Voice to video through an SMS link.
            web.post(
                "/api/v1/calls/{call_id}/video_invite", video.post_invite, name="video_invite"
            ),
            web.post("/api/v1/me/video/release", video.post_release, name="video_release"),
            web.get("/api/v1/reports/video", video.get_report, name="video_report"),
            web.get("/video/{token}", video.video_page, name="video_page"),
            web.post("/video/{token}/login", video.post_page_login, name="video_login"),
        ]
    )


async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers: this process answers and its database does too (1 s)."""
    try:
        await asyncio.wait_for(request.app[STORE].db.command("ping"), HEALTH_TIMEOUT_S)
    except (TimeoutError, PyMongoError) as e:
        return unavailable(f"no answer to ping within {HEALTH_TIMEOUT_S} s ({type(e).__name__})")
    return web.json_response({"ok": True})
