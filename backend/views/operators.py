"""Operators: log in, see and set their own status; administrators manage them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aiohttp import web

from backend.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, password_stamp, session_epoch
from backend.domain.model import Address, Presence, Skill, TargetType
from backend.keys import ENGINE, HASHER, SIGNER, STORE, THROTTLE
from backend.presenters import operator_view
from backend.services import audit, group_settings
from backend.services import operators as op_service
from backend.services.login import HasherBusy, Throttled
from backend.services.reports import queue_figures
from backend.services.supervise import supervising
from backend.views.access import (
    current_operator,
    require_admin,
    require_operator,
    require_supervisor,
)
from backend.views.errors import ApiError, read_json
from backend.views.schemas import LOGIN_PATTERN, LoginIn, OperatorIn, StatusIn


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginIn)
    app = request.app
    try:
        doc = await op_service.authenticate(
            app[ENGINE], app[HASHER], app[THROTTLE], body.login, body.password, client(request)
        )
    except Throttled as e:
        raise ApiError(
            429,
            "too_many_attempts",
            str(e),
            headers={"Retry-After": str(math.ceil(e.retry_after_s))},
        ) from None
    except HasherBusy:
        raise ApiError(503, "busy", "too many log-ins at once: try again in a moment") from None
    except op_service.Dismissed:
        raise ApiError(403, "dismissed", "this operator has been dismissed") from None
    if doc is None:
        raise ApiError(401, "bad_credentials", "wrong login or password")
    stamp = password_stamp(doc.get("password_hash"))
    token = app[SIGNER].issue(doc["_id"], stamp, session_epoch(doc))
    resp = web.json_response({"token": token, "operator": operator_view(doc)})
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        path="/",
    )
    return resp


def client(request: web.Request) -> str:
    """The peer's address (behind a proxy, the proxy's: throttling is then per proxy)."""
    return request.remote or "unknown"


async def logout(request: web.Request) -> web.Response:
    """Ends the operator's sessions: every token issued to them so far, and their sockets."""
    doc = await current_operator(request)
    if doc is not None:
        await op_service.revoke_sessions(request.app[ENGINE], doc["_id"])
    resp = web.json_response({"ok": True})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    doc = await require_operator(request)
    return web.json_response(operator_view(doc))


async def set_status(request: web.Request) -> web.Response:
    doc = await require_operator(request)
    body = await read_json(request, StatusIn)
    engine = request.app[ENGINE]
    reasons = engine.settings.config.operators.not_ready_reasons
    if body.status == "not_ready" and body.reason is not None and body.reason not in reasons:
        raise ApiError(
            422, "invalid_field", f"reason: must be one of {', '.join(reasons)}", "reason"
        )
    if body.status != "not_ready" and body.reason is not None:
        raise ApiError(422, "invalid_field", "reason: only 'not_ready' takes a reason", "reason")
    if body.status == "ready" and (call_id := await supervising(engine, doc["_id"])):
        raise ApiError(409, "supervising", f"you supervise call {call_id}: leave it first")
    await op_service.set_status(engine, doc["_id"], Presence(body.status), body.reason)
    fresh = await request.app[STORE].operator_doc(doc["_id"])
    assert fresh is not None
    return web.json_response(operator_view(fresh))


MAX_HISTORY_HOURS = 24 * 366


def _hours(text: str) -> float:
    """?hours=: a finite number of hours, more than 0 and at most a year (366 days)."""
    try:
        hours = float(text)
    except ValueError:
        raise ApiError(422, "invalid_field", "hours: not a number", "hours") from None
    if not math.isfinite(hours) or not 0 < hours <= MAX_HISTORY_HOURS:
        raise ApiError(
            422,
            "invalid_field",
            f"hours: must be more than 0 and at most {MAX_HISTORY_HOURS}",
            "hours",
        )
    return hours


async def status_history(request: web.Request) -> web.Response:
    """Time in each status, from the status log: the operator's own, or any for a supervisor."""
    login_ = request.match_info.get("login")
    if login_ is None:
        login_ = (await require_operator(request))["_id"]
    else:
        await require_supervisor(request)
    hours = _hours(request.query.get("hours", "24"))
    store = request.app[STORE]
    engine = request.app[ENGINE]
    await engine.history.flush()  # this process's last changes, not yet written
    now = engine.clock()
    since = now - timedelta(hours=hours)
    rows = await store.status_history(login_, since)
    totals: dict[str, dict[str, float]] = {"presence": {}, "activity": {}}
    for r in rows:
        start: datetime = max(r["start"], since)
        seconds = (r["end"] - start).total_seconds()
        bucket = totals.setdefault(r["field"], {})
        bucket[r["value"]] = round(bucket.get(r["value"], 0.0) + seconds, 3)
    doc = await store.operator_doc(login_)
    if doc is None:
        raise ApiError(404, "not_found", f"no operator {login_}", "login")
    # The status in force now is an open interval: count it up to now.
    for field, since_key in (("presence", "presence_since"), ("activity", "activity_since")):
        start = max(doc[since_key], since)
        bucket = totals[field]
        bucket[doc[field]] = round(bucket.get(doc[field], 0.0) + (now - start).total_seconds(), 3)
    intervals = [{**r, "start": r["start"].isoformat(), "end": r["end"].isoformat()} for r in rows]
    return web.json_response(
        {"operator": login_, "since": since.isoformat(), "totals_s": totals, "intervals": intervals}
    )


async def put_operator(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    login_ = request.match_info["login"]
    if not LOGIN_PATTERN.match(login_):
        raise ApiError(422, "invalid_field", "login: letters, digits and _.@+- only", "login")
    body = await read_json(request, OperatorIn)
    engine = request.app[ENGINE]
    known = set(engine.settings.group_names)
    if any(g.name not in known for g in body.groups):
        # A group made a moment ago through another process may not be in this one's view
        # yet (a load balancer sends the next request anywhere): the database says.
        known |= await group_settings.stored_group_names(engine.store)
    for i, g in enumerate(body.groups):
        if g.name not in known:
            raise ApiError(
                422,
                "invalid_field",
                f"groups.{i}.name: no group named {g.name!r}",
                f"groups.{i}.name",
            )
    profile = op_service.Profile(
        name=body.name,
        email=body.email,
        role=body.role,
        address=Address(TargetType(body.address.type), body.address.address),
        groups=tuple(Skill(g.name, g.level) for g in body.groups),
        password_hash=None
        if body.password is None
        else await hash_off_loop(request, body.password),
    )
    before = await engine.store.operator_doc(login_)
    try:
        doc, created = await op_service.upsert_operator(engine, login_, profile)
    except op_service.MissingPassword as e:
        raise ApiError(422, "invalid_field", f"password: {e}", "password") from None
    await audit.record(
        engine.store,
        admin,
        "operator_created" if created else "operator_updated",
        login_,
        audit.operator_fields(before),
        audit.operator_fields(doc),
        engine.clock(),
        password_changed=body.password is not None,
    )
    return web.json_response(operator_view(doc), status=201 if created else 200)


async def hash_off_loop(request: web.Request, password: str) -> str:
    try:
        return await request.app[HASHER].hash(password)
    except HasherBusy:
        raise ApiError(503, "busy", "too many passwords being hashed: try again") from None


async def get_operator(request: web.Request) -> web.Response:
    await require_supervisor(request)
    doc = await request.app[STORE].operator_doc(request.match_info["login"])
    if doc is None:
        raise ApiError(404, "not_found", f"no operator {request.match_info['login']}", "login")
    return web.json_response(operator_view(doc))


async def list_operators(request: web.Request) -> web.Response:
    await require_supervisor(request)
    docs = await request.app[STORE].list_operator_docs()
    return web.json_response({"operators": [operator_view(d) for d in docs]})


async def queues(request: web.Request) -> web.Response:
    await require_supervisor(request)
    return web.json_response({"groups": await queue_figures(request.app[ENGINE])})
