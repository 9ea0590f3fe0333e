"""Listen, whisper, barge (issue 11): a supervisor joins a connected call with a mode, switches
mode on the same leg, and leaves with DELETE …/parties/{party_id} like any party."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from backend.domain.model import SuperviseMode
from backend.keys import ENGINE
from backend.services import supervise as service
from backend.views.desk import desk_errors
from backend.views.errors import read_json
from backend.views.parties import _reply, actor


class ModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mode: Literal["listen", "whisper", "barge"]


@desk_errors
async def post_supervise(request: web.Request) -> web.Response:
    """A supervisor joins a connected call: listen, whisper (to the operators) or barge."""
    who = await actor(request)
    body = await read_json(request, ModeIn)
    call_id = request.match_info["call_id"]
    party_id = await service.supervise(request.app[ENGINE], call_id, who, SuperviseMode(body.mode))
    return await _reply(request, call_id, 202, party_id=party_id, mode=body.mode)


@desk_errors
async def patch_party(request: web.Request) -> web.Response:
    """A supervisor's party switches mode (listen, whisper, barge) on the same leg."""
    who = await actor(request)
    body = await read_json(request, ModeIn)
    call_id, party_id = request.match_info["call_id"], request.match_info["party_id"]
    await service.set_mode(request.app[ENGINE], call_id, party_id, who, SuperviseMode(body.mode))
    return await _reply(request, call_id, 200, party_id=party_id, mode=body.mode)
