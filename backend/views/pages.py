"""The web client's pages (login, desk, supervisor), its templates and its static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc
from backend.keys import ENGINE, SETTINGS, STORE
from backend.presenters import operator_view
from backend.settings import ROOT
from backend.views.access import current_operator

log = logging.getLogger(__name__)

WEB_CLIENT = ROOT / "web_client"
WEBSDK = WEB_CLIENT / "node_modules" / "voximplant-websdk"
SUPERVISOR_ROLES = ("supervisor", "admin")


async def desk_ctx(app: web.Application) -> AsyncIterator[None]:
    await DeskStore(app[STORE].db).ensure_indexes()
    yield


def setup_web_client(app: web.Application, root: Path = WEB_CLIENT) -> None:
    """Templates (autoescaped), static files, the Web SDK from npm, and the desk's indexes."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(root / "templates"), autoescape=True)
    websdk = root / "node_modules" / "voximplant-websdk"
    if websdk.is_dir():
        # Registered before /static: a prefix route does not fall through to the next one.
        app.router.add_static("/static/vendor/voximplant-websdk", websdk, name="websdk")
    else:
        log.warning("%s is missing (npm ci --prefix web_client): media stays off", websdk)
    chart = root / "node_modules" / "chart.js" / "dist"
    if chart.is_dir():
        app.router.add_static("/static/vendor/chart.js", chart, name="chartjs")
    else:
        log.warning("%s is missing (npm ci --prefix web_client): reports have no charts", chart)
    app.router.add_static("/static", root / "static", name="static")
    app.cleanup_ctx.append(desk_ctx)


async def _page_operator(request: web.Request) -> Doc:
    op = await current_operator(request)
    if op is None:
        raise web.HTTPFound("/login")
    return op


def home(op: Doc) -> str:
    """Where an operator lands: supervisors and administrators on the live queues."""
    return "/supervisor" if op.get("role") in SUPERVISOR_ROLES else "/desk"


async def index(request: web.Request) -> web.StreamResponse:
    op = await current_operator(request)
    raise web.HTTPFound(home(op) if op else "/login")


async def favicon(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/static/favicon.svg")


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    if (op := await current_operator(request)) is not None:
        raise web.HTTPFound(home(op))
    return {"title": "Sign in"}


def desk_config(request: web.Request, op: Doc) -> dict[str, Any]:
    """What the desk script needs from the configuration (no secrets)."""
    config = request.app[SETTINGS].config
    return {
        "operator": operator_view(op),
        "not_ready_reasons": list(config.operators.not_ready_reasons),
        "dispositions": list(config.desk.dispositions),
        "timeout_disposition": config.desk.timeout_disposition,
        "personal_fields": list(config.desk.personal_fields),
        "crm_configured": bool(config.crm.url),
        "websdk_url": "/static/vendor/voximplant-websdk/voximplant.min.js"
        if "websdk" in request.app.router
        else None,
    }


@aiohttp_jinja2.template("desk.html")
async def desk_page(request: web.Request) -> dict[str, Any]:
    op = await _page_operator(request)
    return {
        "title": "Desk",
        "operator": op,
        "config": desk_config(request, op),
        "is_supervisor": op.get("role") in SUPERVISOR_ROLES,
    }


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    op = await _page_operator(request)
    if op.get("role") not in SUPERVISOR_ROLES:
        refused = {"title": "Not allowed", "operator": op}
        return aiohttp_jinja2.render_template("forbidden.html", request, refused, status=403)
    config = request.app[ENGINE].settings.config  # the groups as stored now
    context: dict[str, Any] = {
        "title": "Floor",
        "operator": op,
        "is_supervisor": True,
        "groups": [g.name for g in config.groups],
        "timezone": config.center.timezone,
        # Listen, whisper, barge dial the supervisor's own media user (Web SDK, as on the desk).
        "config": {
            "login": op["_id"],
            "websdk_url": desk_config(request, op)["websdk_url"],
        },
    }
    return aiohttp_jinja2.render_template("supervisor.html", request, context)
