"""The operator desk's API: today's figures, call cards, notes, dispositions, personal data,
hang-up, finish wrap-up, and the Web SDK one-time-key login."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Self, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc
from backend.auth import same_secret
from backend.keys import ENGINE, HTTP, SECRETS, STORE
from backend.services import desk as desk_service
from backend.services.desk import Desk, DeskError
from backend.services.desk_media import (
    default_user,
    media_info,
    one_time_hash,
    password_digest,
)
from backend.services.desk_today import today
from backend.views.access import bearer, require_admin, require_operator
from backend.views.errors import ApiError, read_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
B = TypeVar("B", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoteIn(_Body):
    text: StrictStr = Field(min_length=1, max_length=4000)


class DispositionIn(_Body):
    code: StrictStr = Field(min_length=1, max_length=64)


class PersonalIn(_Body):
    fields: dict[StrictStr, StrictStr] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _short(self) -> Self:
        for name, value in self.fields.items():
            if len(value) > 256:
                raise ValueError(f"{name} is longer than 256 characters")
        return self


class CloseTaskIn(_Body):
    disposition: StrictStr | None = Field(None, min_length=1, max_length=64)


class HangupIn(_Body):
    reason: StrictStr = Field(default="operator_hangup", min_length=1, max_length=64)


class OneTimeKeyIn(_Body):
    key: StrictStr = Field(min_length=1, max_length=256)


class MediaUserIn(_Body):
    user: StrictStr | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: StrictStr | None = Field(None, min_length=1, max_length=256)
    password_digest: StrictStr | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if (self.password is None) == (self.password_digest is None):
            raise ValueError("give exactly one of password or password_digest")
        if self.password_digest is not None and not _HEX32.match(self.password_digest):
            raise ValueError(
                "password_digest: 32 lower-case hex digits, md5(user:voximplant.com:password)"
            )
        return self


def desk_errors(handler: Handler) -> Handler:
    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except DeskError as e:
            raise ApiError(e.status, e.code, e.message, e.field) from None

    return wrapped


def _desk(request: web.Request) -> Desk:
    app = request.app
    return Desk(app[ENGINE], DeskStore(app[STORE].db), app[HTTP])


async def _own_call(request: web.Request, model: type[B]) -> tuple[Desk, Doc, str, B]:
    """The desk, the call in the path (offered or connected to this operator), their login, and
    the validated body: what every write on a call starts with."""
    op = await require_operator(request)
    body = await read_json(request, model)
    desk = _desk(request)
    call = await desk_service.call_for(desk, request.match_info["call_id"], op["_id"])
    return desk, call, op["_id"], body


async def _body_or_empty(request: web.Request, model: type[HangupIn]) -> HangupIn:
    if request.can_read_body and (await request.read()).strip():
        return await read_json(request, model)
    return model()


@desk_errors
async def get_today(request: web.Request) -> web.Response:
    op = await require_operator(request)
    desk = _desk(request)
    await desk.engine.history.flush()  # this process's latest status changes count too
    return web.json_response(await today(desk.store, op, desk.engine.clock()))


@desk_errors
async def get_card(request: web.Request) -> web.Response:
    """The operator on the call, supervisors and administrators (ADMIN_TOKEN too) read a card."""
    desk = _desk(request)
    token = bearer(request)
    if token is not None and same_secret(token, request.app[SECRETS]["admin_token"]):
        login, supervisor = "", True
    else:
        op = await require_operator(request)
        login, supervisor = op["_id"], op.get("role") in ("supervisor", "admin")
    call = await desk_service.call_for(
        desk, request.match_info["call_id"], login, supervisor=supervisor
    )
    return web.json_response(await desk_service.card(desk, call))


@desk_errors
async def post_note(request: web.Request) -> web.Response:
    desk, call, login, body = await _own_call(request, NoteIn)
    note = await desk_service.add_note(desk, call, login, body.text)
    return web.json_response(note, status=201)


@desk_errors
async def put_disposition(request: web.Request) -> web.Response:
    desk, call, login, body = await _own_call(request, DispositionIn)
    await desk_service.set_disposition(desk, call, login, body.code)
    return web.json_response({"call_id": call["_id"], "disposition": body.code})


@desk_errors
async def put_personal(request: web.Request) -> web.Response:
    desk, call, _login, body = await _own_call(request, PersonalIn)
    personal = await desk_service.save_personal(desk, call, dict(body.fields))
    return web.json_response({"call_id": call["_id"], "personal": personal})


@desk_errors
async def post_hangup(request: web.Request) -> web.Response:
    op = await require_operator(request)
    body = await _body_or_empty(request, HangupIn)
    engine = request.app[ENGINE]
    await desk_service.hangup(engine, request.match_info["call_id"], op["_id"], body.reason)
    return web.json_response({"call_id": request.match_info["call_id"], "state": "ended"})


@desk_errors
async def post_finish_wrap_up(request: web.Request) -> web.Response:
    op = await require_operator(request)
    await desk_service.finish_wrap_up(_desk(request), op["_id"])
    return web.json_response({"ok": True})


@desk_errors
async def get_media(request: web.Request) -> web.Response:
    op = await require_operator(request)
    desk = _desk(request)
    config = desk.engine.settings.config.voximplant
    return web.json_response(await media_info(desk.store, config, op))


@desk_errors
async def post_media_hash(request: web.Request) -> web.Response:
    op = await require_operator(request)
    body = await read_json(request, OneTimeKeyIn)
    desk = _desk(request)
    info = await media_info(desk.store, desk.engine.settings.config.voximplant, op)
    user = await desk.store.media_user(op["_id"])
    if not info["enabled"] or user is None:
        raise ApiError(409, "media_not_configured", info["reason"])
    return web.json_response(
        {"username": info["username"], "hash": one_time_hash(body.key, user["digest"])}
    )


@desk_errors
async def put_media_user(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_json(request, MediaUserIn)
    desk = _desk(request)
    login = request.match_info["login"]
    op = await desk.engine.store.operator_doc(login)
    if op is None:
        raise ApiError(404, "not_found", f"no operator {login}", "login")
    user = body.user or default_user(op)
    digest = body.password_digest or password_digest(user, body.password or "")
    await desk.store.set_media_user(login, user, digest, desk.engine.clock())
    return web.json_response({"login": login, "user": user, "digest_set": True})


@desk_errors
async def post_accept_task(request: web.Request) -> web.Response:
    """POST /api/v1/calls/{call_id}/accept: the operator takes the voicemail offered to them."""
    op = await require_operator(request)
    engine = request.app[ENGINE]
    call = await desk_service.accept_task(engine, request.match_info["call_id"], op["_id"])
    return web.json_response({"call_id": call.call_id, "state": call.state.value})


@desk_errors
async def post_close_task(request: web.Request) -> web.Response:
    """POST /api/v1/calls/{call_id}/close {"disposition"?}: done with the voicemail."""
    op = await require_operator(request)
    body = await read_json(request, CloseTaskIn)
    call = await desk_service.close_task(
        _desk(request), request.match_info["call_id"], op["_id"], body.disposition
    )
    return web.json_response(
        {"call_id": call.call_id, "state": call.state.value, "outcome": call.outcome}
    )
