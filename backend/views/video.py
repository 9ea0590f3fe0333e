"""Voice to video: the operator's invitation, the release of Video Reserved, the end-user's page
and its one-time-key login, and the invitations report."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from backend.adapters.documents import iso
from backend.auth import InviteSigner, same_secret
from backend.domain import rollup
from backend.keys import ENGINE, MANAGEMENT_API, SECRETS
from backend.presenters import operator_view
from backend.services import video
from backend.views.access import bearer, require_operator, require_supervisor
from backend.views.desk import desk_errors
from backend.views.errors import ApiError, read_json


class InviteIn(BaseModel):
    """The invitation takes no options: the body is `{}` (or empty)."""

    model_config = ConfigDict(extra="forbid")


class PageLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: StrictStr = Field(min_length=1, max_length=256)


def _signer(request: web.Request) -> InviteSigner:
    signer = request.app[ENGINE].invite_signer
    assert signer is not None
    return signer


@desk_errors
async def post_invite(request: web.Request) -> web.Response:
    """POST /api/v1/calls/{call_id}/video_invite: the operator on the call, a supervisor or an
    administrator (ADMIN_TOKEN) texts the caller a link to continue by video."""
    token = bearer(request)
    requester: str | None
    if token is not None and same_secret(token, request.app[SECRETS]["admin_token"]):
        requester = None
    else:
        op = await require_operator(request)
        requester = None if op.get("role") in ("supervisor", "admin") else op["_id"]
    if request.can_read_body and (await request.read()).strip():
        await read_json(request, InviteIn)
    engine = request.app[ENGINE]
    sent = await video.send_invite(
        engine,
        engine.invites,
        _signer(request),
        request.app.get(MANAGEMENT_API),
        request.match_info["call_id"],
        requester,
    )
    return web.json_response(
        {
            "invite_id": sent.invite_id,
            "link": sent.link,
            "expires_at": iso(sent.expires_at),
            "sms": sent.sms,
        },
        status=201,
    )


@desk_errors
async def post_release(request: web.Request) -> web.Response:
    """POST /api/v1/me/video/release: stop waiting for the video call."""
    op = await require_operator(request)
    await video.release(request.app[ENGINE], op["_id"])
    doc = await request.app[ENGINE].store.operator_doc(op["_id"])
    assert doc is not None
    return web.json_response(operator_view(doc))


async def video_page(request: web.Request) -> web.StreamResponse:
    """GET /video/{token}: the end-user's page (a bad or used link gets a page that says so)."""
    engine = request.app[ENGINE]
    info = await video.page(engine, engine.invites, _signer(request), request.match_info["token"])
    response = aiohttp_jinja2.render_template(
        "video.html", request, {"info": info, "token": request.match_info["token"]}
    )
    response.set_status(info["http_status"])
    response.headers["Cache-Control"] = "no-store"
    return response


@desk_errors
async def post_page_login(request: web.Request) -> web.Response:
    """POST /video/{token}/login {key}: the guest's one-time-key hash while the link is valid."""
    body = await read_json(request, PageLoginIn)
    engine = request.app[ENGINE]
    answer = await video.page_login(
        engine, engine.invites, _signer(request), request.match_info["token"], body.key
    )
    return web.json_response(answer)


def _when(request: web.Request, name: str, default: datetime, tz: ZoneInfo) -> datetime:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name}: not an ISO date-time", name) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


async def get_report(request: web.Request) -> web.Response:
    """GET /api/v1/reports/video?from=&to=: invitations and time in Video Reserved."""
    await require_supervisor(request)
    engine = request.app[ENGINE]
    # Days and times without an offset are the center's, as in the other reports.
    tz = ZoneInfo(engine.settings.config.center.timezone)
    start = rollup.bucket_start(engine.clock(), "day", tz)
    since = _when(request, "from", start, tz)
    until = _when(request, "to", rollup.bucket_end(start, "day", tz), tz)
    if until <= since:
        raise ApiError(400, "invalid_field", "to: must be after from", "to")
    return web.json_response(await video.report(engine, engine.invites, since, until))
