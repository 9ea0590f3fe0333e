"""Calls with more than two parties: hold, add a party, leave, transfer (architecture §8)."""

from __future__ import annotations

from typing import Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from backend.auth import same_secret
from backend.keys import ENGINE, SECRETS
from backend.presenters import call_view
from backend.services import parties as service
from backend.services.parties import Actor, Target
from backend.views.access import bearer, require_operator
from backend.views.desk import desk_errors
from backend.views.errors import read_json

E164 = r"^\+[1-9][0-9]{6,14}$"
NAME = r"^[A-Za-z0-9_.-]+$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TargetIn(_Body):
    type: Literal["operator", "group", "number"]
    address: StrictStr = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _address_fits_type(self) -> Self:
        import re

        if self.type == "number" and not re.match(E164, self.address):
            raise ValueError("address: a number must be E.164, like +15551234567")
        if self.type != "number" and not re.match(NAME, self.address):
            raise ValueError(f"address: not a valid {self.type} name")
        return self


class AddPartyIn(_Body):
    to: TargetIn
    reason: StrictStr | None = Field(None, min_length=1, max_length=500)


class TransferIn(_Body):
    to: TargetIn
    mode: Literal["blind", "consult"]
    reason: StrictStr = Field(min_length=1, max_length=500)


class EmptyIn(_Body):
    pass


async def actor(request: web.Request) -> Actor:
    token = bearer(request)
    if token is not None and same_secret(token, request.app[SECRETS]["admin_token"]):
        return Actor(None, True)
    op = await require_operator(request)
    return Actor(str(op["_id"]), op.get("role") in ("admin", "supervisor"))


async def _empty(request: web.Request) -> None:
    if request.can_read_body and (await request.read()).strip():
        await read_json(request, EmptyIn)


def _target(body: TargetIn) -> Target:
    return Target(body.type, body.address)


async def _reply(
    request: web.Request, call_id: str, status: int = 200, **extra: object
) -> web.Response:
    engine = request.app[ENGINE]
    doc = engine.call_doc(call_id) or await engine.store.call_doc(call_id)
    body: dict[str, object] = {**extra}
    if doc is not None:
        view = call_view(doc)
        body.update(call_id=call_id, state=view["state"], operator=view["operator"])
        body["parties"] = view["parties"]
        # With its revision, so that the desk keeps a newer copy pushed meanwhile (a helper
        # who answers at once is pushed "connected" before this reply says "dialing").
        body["rev"] = view["rev"]
    return web.json_response(body, status=status)


@desk_errors
async def post_hold(request: web.Request) -> web.Response:
    who = await actor(request)
    await _empty(request)
    call_id = request.match_info["call_id"]
    await service.hold(request.app[ENGINE], call_id, who, held=True)
    return await _reply(request, call_id)


@desk_errors
async def post_unhold(request: web.Request) -> web.Response:
    who = await actor(request)
    await _empty(request)
    call_id = request.match_info["call_id"]
    await service.hold(request.app[ENGINE], call_id, who, held=False)
    return await _reply(request, call_id)


@desk_errors
async def post_party(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request, AddPartyIn)
    call_id = request.match_info["call_id"]
    party_id = await service.add_party(
        request.app[ENGINE], call_id, who, _target(body.to), reason=body.reason
    )
    return await _reply(request, call_id, 202, party_id=party_id)


@desk_errors
async def delete_party(request: web.Request) -> web.Response:
    who = await actor(request)
    call_id, party_id = request.match_info["call_id"], request.match_info["party_id"]
    await service.remove_party(request.app[ENGINE], call_id, party_id, who)
    return await _reply(request, call_id)


@desk_errors
async def get_targets(request: web.Request) -> web.Response:
    """The desk's Add party / Transfer picker."""
    who = await actor(request)
    return web.json_response(service.targets(request.app[ENGINE], who.login))


@desk_errors
async def post_transfer(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request, TransferIn)
    call_id = request.match_info["call_id"]
    engine = request.app[ENGINE]
    party_id = await service.transfer(
        engine, call_id, who, _target(body.to), body.mode, body.reason
    )
    return await _reply(request, call_id, 202, mode=body.mode, party_id=party_id)
