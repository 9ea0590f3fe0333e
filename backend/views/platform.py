"""Entry points the cloud scenario calls."""

from __future__ import annotations

from aiohttp import web

from backend.auth import same_secret
from backend.domain.model import Media
from backend.keys import ENGINE, SECRETS, STORE
from backend.presenters import call_view
from backend.services.calls import Arrival, call_arrived, call_event, call_status
from backend.views.access import bearer, require_platform, require_supervisor
from backend.views.errors import ApiError, read_json
from backend.views.schemas import CallIn, EventIn


async def post_call(request: web.Request) -> web.Response:
    require_platform(request)
    body = await read_json(request, CallIn)
    engine = request.app[ENGINE]
    arrival = Arrival(
        session_id=body.session_id,
        access_url=body.access_url,
        access_secure_url=body.access_secure_url,
        caller=body.caller,
        destination=body.destination,
        display_name=body.display_name,
        media=Media(body.media),
        custom_data=body.custom_data,
        headers=dict(body.headers),
    )
    doc, created = await call_arrived(engine, arrival)
    reply = call_status(engine, doc)
    messages = engine.settings.config.messages
    queued_text = messages.queued
    if created and not engine.view.could_take(str(doc["group"]), engine.clock()):
        # Nobody of the group could take it (and no action moved it on): say so at once.
        queued_text = messages.no_agents
    if "action" in reply:
        pass  # the action carries its own words (action.say)
    elif created and doc.get("say"):
        reply["say"] = doc["say"]  # e.g. why their own manager cannot answer today
    elif created and reply["state"] == "queued" and queued_text:
        reply["say"] = queued_text
    return web.json_response(reply, status=201 if created else 200)


async def post_event(request: web.Request) -> web.Response:
    require_platform(request)
    call_id = request.match_info["call_id"]
    body = await read_json(request, EventIn)
    try:
        reaction = await call_event(request.app[ENGINE], call_id, body.model_dump())
    except LookupError:
        raise ApiError(404, "not_found", f"no call {call_id}", "call_id") from None
    reply: dict[str, object] = {"ok": True, "applied": reaction.applied}
    if reaction.next_command is not None:
        reply[reaction.next_command["command"]] = reaction.next_command
    return web.json_response(reply)


async def get_call(request: web.Request) -> web.Response:
    token = bearer(request)
    as_platform = same_secret(token, request.app[SECRETS]["platform_token"])
    if not as_platform:
        await require_supervisor(request)
    call_id = request.match_info["call_id"]
    engine = request.app[ENGINE]
    # The platform polls for announcements: the view answers for calls in progress; the
    # supervisor's view includes the log, which only the database holds.
    doc = engine.call_doc(call_id) if as_platform else None
    if doc is None:
        doc = await request.app[STORE].call_doc(call_id)
    if doc is None:
        raise ApiError(404, "not_found", f"no call {call_id}", "call_id")
    status = call_status(engine, doc)
    return web.json_response({**call_view(doc, with_log=not as_platform), **status})
