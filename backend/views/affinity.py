"""Administration of 'your manager': contacts' managers and operators' absences."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from backend.adapters.desk_store import contact_keys
from backend.adapters.documents import Doc
from backend.domain.model import Absence, AbsenceReason
from backend.keys import ENGINE, STORE
from backend.presenters import operator_view
from backend.services import audit
from backend.services.affinity import contact_key_of, set_absence, set_manager
from backend.views.access import require_admin, require_operator
from backend.views.errors import ApiError, read_json


class ManagerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    manager: StrictStr | None = Field(max_length=64)
    customer_id: StrictStr | None = Field(None, max_length=128)


class AbsenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal["vacation", "sick_leave", "dismissed", "other"]
    # The last day away (inclusive), or none: until the mark is removed.
    until: datetime | None = None


async def put_contact_manager(request: web.Request) -> web.Response:
    """PUT /api/v1/contacts/{phone}/manager {"manager": login | null, "customer_id"?}."""
    await require_admin(request)
    phone = request.match_info["phone"]
    body = await read_json(request, ManagerIn)
    store = request.app[STORE]
    if body.manager is not None and await store.operator_doc(body.manager) is None:
        raise ApiError(422, "invalid_field", f"manager: no operator {body.manager!r}", "manager")
    key = contact_keys(phone, body.customer_id)[0]
    await set_manager(request.app[ENGINE], key, body.manager)
    return web.json_response({"contact": key, "phone": phone, "manager": body.manager})


class CallManagerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # "me", an operator's login (supervisors), or null to clear.
    manager: StrictStr | None = Field(max_length=64)


async def put_call_manager(request: web.Request) -> web.Response:
    """From the desk: make the operator on this call the caller's manager (or clear it).

    The operator the call was offered to or connected to may name themselves or clear the
    manager; supervisors and administrators may name anyone.
    """
    op = await require_operator(request)
    body = await read_json(request, CallManagerIn)
    store = request.app[STORE]
    call = await store.call_doc(request.match_info["call_id"])
    if call is None:
        raise ApiError(404, "not_found", "no such call", "call_id")
    supervisor = op.get("role") in ("supervisor", "admin")
    offer = call.get("offer") or {}
    if not supervisor and op["_id"] not in (call.get("operator"), offer.get("operator")):
        raise ApiError(403, "forbidden", "this call is not yours", "call_id")
    target = op["_id"] if body.manager == "me" else body.manager
    if target is not None and target != op["_id"] and not supervisor:
        raise ApiError(403, "forbidden", "you may only name yourself", "manager")
    if target is not None and await store.operator_doc(target) is None:
        raise ApiError(422, "invalid_field", f"manager: no operator {target!r}", "manager")
    key = contact_key_of(call)
    if key is None:
        raise ApiError(409, "no_contact", "the call has no caller number or customer id")
    await set_manager(request.app[ENGINE], key, target)
    name = ((await store.operator_doc(target)) or {}).get("name", "") if target else ""
    return web.json_response(
        {"call_id": call["_id"], "contact": key, "manager": target, "name": name}
    )


async def put_absence(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    login = request.match_info["login"]
    body = await read_json(request, AbsenceIn)
    until = body.until
    if until is not None:
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        if until.timetz() == time(0, tzinfo=until.tzinfo):
            # A bare date means "away that whole day": back the next morning.
            until = until.replace(hour=23, minute=59, second=59)
        if until <= request.app[ENGINE].clock():
            raise ApiError(
                422, "invalid_field", "until: must be in the future (or absent: no end)", "until"
            )
    before = await request.app[STORE].operator_doc(login)
    op = await set_absence(request.app[ENGINE], login, Absence(AbsenceReason(body.reason), until))
    if op is None:
        raise ApiError(404, "not_found", f"no operator {login}", "login")
    doc = await request.app[STORE].operator_doc(login)
    assert doc is not None
    await _audit_absence(request, admin, "absence_set", login, before, doc)
    return web.json_response(operator_view(doc))


async def _audit_absence(
    request: web.Request, admin: Doc | None, action: str, login: str, before: Doc | None, doc: Doc
) -> None:
    await audit.record(
        request.app[STORE],
        admin,
        action,
        login,
        {"absence": (before or {}).get("absence")},
        {"absence": doc.get("absence")},
        request.app[ENGINE].clock(),
    )


async def delete_absence(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    login = request.match_info["login"]
    before = await request.app[STORE].operator_doc(login)
    op = await set_absence(request.app[ENGINE], login, None)
    if op is None:
        raise ApiError(404, "not_found", f"no operator {login}", "login")
    doc = await request.app[STORE].operator_doc(login)
    assert doc is not None
    await _audit_absence(request, admin, "absence_removed", login, before, doc)
    return web.json_response(operator_view(doc))
