"""Operator desk use cases: the call card, notes, dispositions, personal data, hang-up, wrap-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from backend.adapters import crm
from backend.adapters.desk_store import NOTES_LIMIT, DeskStore, contact_keys, disposition_fields
from backend.adapters.documents import Doc, iso
from backend.domain import calls as call_rules
from backend.domain.actions import SendHangup, Step
from backend.domain.model import Activity, Call, CallState, Party
from backend.presenters import call_view
from backend.services import operators as op_service
from backend.services.engine import Engine

log = logging.getLogger(__name__)


class DeskError(Exception):
    """A refusal the view turns into the API's error shape, naming the field when there is one."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True, slots=True)
class Desk:
    engine: Engine
    store: DeskStore
    http: aiohttp.ClientSession


def handled_by(call: Doc, login: str) -> bool:
    """The operator answering or being offered the call is the one who works on it."""
    offer = call.get("offer") or {}
    return login in (call.get("operator"), offer.get("operator"))


async def call_for(desk: Desk, call_id: str, login: str, *, supervisor: bool = False) -> Doc:
    doc = await desk.engine.store.call_doc(call_id)
    if doc is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    if supervisor or handled_by(doc, login):
        return doc
    # The operator is reserved for a call a moment before the call records the offer (the
    # claim writes the operator first): the desk may ask for the card in between.
    op = await desk.engine.store.operators.find_one({"_id": login}, {"call_id": 1})
    if op is None or op.get("call_id") != call_id:
        raise DeskError(403, "forbidden", "this call is not yours", "call_id")
    return doc


def _customer_id(call: Doc) -> str | None:
    value = (call.get("context") or {}).get("customer_id")
    return None if value in (None, "") else str(value)


def _waited_s(call: Doc, now: datetime) -> float | None:
    start = call.get("enqueued_at")
    if start is None:
        return None
    end: datetime = call.get("connected_at") or call.get("ended_at") or now
    seconds: float = (end - start).total_seconds()
    return round(max(0.0, seconds), 1)


def _desk_fields(call: Doc) -> dict[str, Any]:
    desk = call.get("desk") or {}
    notes = [
        {"at": iso(n.get("at")), "operator": n.get("operator"), "text": n.get("text", "")}
        for n in desk.get("notes", [])
    ]
    return {"notes": notes, "disposition": desk.get("disposition")}


def history_entry(doc: Doc) -> dict[str, Any]:
    return {
        "call_id": doc["_id"],
        "caller": doc.get("caller", ""),
        "customer_id": _customer_id(doc),
        "media": doc.get("media"),
        "group": doc.get("group"),
        "state": doc.get("state"),
        "outcome": doc.get("outcome"),
        "operator": doc.get("operator"),
        "created_at": iso(doc.get("created_at")),
        **_desk_fields(doc),
    }


def requires_disposition(engine: Engine, group: str) -> bool:
    g = engine.settings.group(group)
    return bool(g and g.require_disposition)


async def _manager(desk: Desk, call: Doc, contacts: list[Doc]) -> dict[str, Any] | None:
    # The contact's manager now (it may have changed during the call), else the one it had.
    login = next((c["manager"] for c in contacts if c.get("manager")), None) or call.get("manager")
    if not login:
        return None
    op = await desk.engine.store.operator_doc(str(login))
    return {"login": login, "name": (op or {}).get("name", "")}


def _personal(desk: Desk, contacts: list[Doc]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for contact in reversed(contacts):  # the most specific record wins
        merged.update(contact.get("personal") or {})
    fields = desk.engine.settings.config.desk.personal_fields
    return {f: str(merged.get(f, "")) for f in fields}


async def card(desk: Desk, call: Doc, *, with_crm: bool = True) -> dict[str, Any]:
    """Everything the operator sees about a call: context, contact, history and the CRM's fields."""
    cfg = desk.engine.settings.config
    # A video call from an SMS link comes from a Web SDK guest: the caller is the number the
    # invitation went to, and the voice call before it is shown with its notes.
    invite = call.get("invite") or {}
    phone, customer_id = invite.get("phone") or call.get("caller", ""), _customer_id(call)
    previous = None
    if invite.get("voice_call_id"):
        voice = await desk.engine.store.call_doc(str(invite["voice_call_id"]))
        previous = history_entry(voice) if voice is not None else None
    keys = contact_keys(phone, customer_id)
    contacts = await desk.store.contacts_for(phone, customer_id)
    history = await desk.store.history(phone, customer_id, call["_id"], cfg.desk.history_limit)
    crm_result = (
        await crm.lookup(desk.http, cfg.crm, phone, customer_id)
        if with_crm
        else crm.CrmResult("not_configured")
    )
    return {
        "call": {
            **call_view(call),
            **_desk_fields(call),
            "waited_s": _waited_s(call, desk.engine.clock()),
        },
        "contact": {
            "key": keys[0] if keys else None,
            "phone": phone,
            "customer_id": customer_id,
            "manager": await _manager(desk, call, contacts),
            "personal": _personal(desk, contacts),
        },
        "history": [history_entry(h) for h in history],
        "previous_call": previous,
        "crm": crm_result.as_json(),
        "require_disposition": requires_disposition(desk.engine, call["group"]),
    }


async def add_note(desk: Desk, call: Doc, login: str, text: str) -> dict[str, Any]:
    now = desk.engine.clock()
    if not await desk.store.add_note(call["_id"], {"at": now, "operator": login, "text": text}):
        raise DeskError(409, "too_many_notes", f"a call takes at most {NOTES_LIMIT} notes", "text")
    return {"at": iso(now), "operator": login, "text": text}


async def set_disposition(desk: Desk, call: Doc, login: str, code: str) -> None:
    allowed = desk.engine.settings.config.desk.dispositions
    if code not in allowed:
        raise DeskError(422, "invalid_field", f"code: must be one of {', '.join(allowed)}", "code")
    await desk.store.set_disposition(call["_id"], code, login, desk.engine.clock())


async def save_personal(desk: Desk, call: Doc, fields: dict[str, str]) -> dict[str, str]:
    allowed = desk.engine.settings.config.desk.personal_fields
    for name in fields:
        if name not in allowed:
            message = f"fields.{name}: not a personal data field (known: {', '.join(allowed)})"
            raise DeskError(422, "invalid_field", message, f"fields.{name}")
    phone, customer_id = call.get("caller", ""), _customer_id(call)
    keys = contact_keys(phone, customer_id)
    if not keys:
        raise DeskError(409, "no_contact", "the call has neither a number nor a customer id")
    await desk.store.save_personal(keys[0], phone, customer_id, fields, desk.engine.clock())
    return _personal(desk, await desk.store.contacts_for(phone, customer_id))


async def hangup(engine: Engine, call_id: str, login: str, reason: str) -> Call:
    """End the operator's connected call: record it, settle the call, tell the scenario."""

    def transition(call: Call, now: datetime) -> Step[Call]:
        if call.state is not CallState.CONNECTED or call.operator != login:
            return Step(None)
        return call_rules.hangup_requested(call, Party.OPERATOR, reason, now)

    entry: Doc = {
        "at": engine.clock(),
        "kind": "hangup_requested",
        "operator": login,
        "reason": reason,
    }
    # A refused hang-up writes nothing, not even to the call's log.
    call, changed = await engine.apply_call(call_id, transition, entry, log_ignored=False)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    if not changed:
        raise DeskError(409, "not_connected", f"call {call_id} is not connected to you")
    await engine.run((SendHangup(call_id, reason),))
    return call


TIMER = "timer"


def lacks_required_disposition(engine: Engine, call: Doc | None) -> bool:
    """The call's group requires a disposition code and nobody has set one yet."""
    if call is None or not requires_disposition(engine, call["group"]):
        return False
    return not (call.get("desk") or {}).get("disposition")


async def wrap_up_timed_out(engine: Engine, store: DeskStore, login: str, call_id: str) -> None:
    """The wrap-up timer is about to free the operator: a required code nobody chose is
    recorded as the configured timeout disposition, so the call is never left unclassified."""
    call = await engine.store.call_doc(call_id)
    if not lacks_required_disposition(engine, call):
        return
    code = engine.settings.config.desk.timeout_disposition
    if await store.set_disposition_if_missing(call_id, code, TIMER, engine.clock()):
        log.info("call %s: %s's wrap-up ran out without a code: %s", call_id, login, code)


async def finish_wrap_up(desk: Desk, login: str) -> None:
    """End wrap-up early; refused while a required disposition is missing."""
    engine = desk.engine
    op = await engine.store.operator(login)
    if op is None or op.activity is not Activity.WRAP_UP:
        state = op.activity.value if op else "unknown"
        raise DeskError(409, "not_in_wrap_up", f"nothing to finish: you are {state}")
    call = await engine.store.call_doc(op.call_id) if op.call_id else None
    if lacks_required_disposition(engine, call):
        raise DeskError(
            409,
            "disposition_required",
            "disposition: choose a disposition code before finishing wrap-up",
            "disposition",
        )
    await op_service.finish_wrap_up(engine, login)


# -- tasks: a voicemail offered on the desk like a call -------------------------------------


async def accept_task(engine: Engine, call_id: str, login: str) -> Call:
    """The operator takes the task offered to them (their offer, still current)."""
    policy = engine.settings.policy()

    def transition(call: Call, now: datetime) -> Step[Call]:
        offer = call.offer
        if call.task is None or offer is None or offer.operator != login:
            return Step(None)
        return call_rules.offer_connected(call, offer.offer_id, now, policy)

    entry: Doc = {"at": engine.clock(), "kind": "task_accepted", "operator": login}
    call, changed = await engine.apply_call(call_id, transition, entry, log_ignored=False)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    if not changed:
        raise DeskError(409, "not_offered", f"task {call_id} is not offered to you now")
    return call


async def close_task(desk: Desk, call_id: str, login: str, code: str | None) -> Call:
    """The operator has dealt with the task: the disposition is recorded, the task ends."""
    engine = desk.engine
    doc = await call_for(desk, call_id, login)
    if doc.get("task") is None or doc.get("state") != CallState.CONNECTED.value:
        raise DeskError(409, "not_taken", f"task {call_id} is not taken by you")
    allowed = engine.settings.config.desk.dispositions
    if code is not None and code not in allowed:
        message = f"disposition: must be one of {', '.join(allowed)}"
        raise DeskError(422, "invalid_field", message, "disposition")
    if code is None and lacks_required_disposition(engine, doc):
        raise DeskError(
            409,
            "disposition_required",
            "disposition: choose a disposition code before closing",
            "disposition",
        )
    now = engine.clock()
    entry: Doc = {"at": now, "kind": "task_closed", "operator": login}
    # The code is written by the close's own guarded write: a close refused because the
    # task changed hands meanwhile keeps no code either.
    chosen = None if code is None else disposition_fields(code, login, now)
    call, changed = await engine.apply_call(
        call_id,
        lambda c, now: call_rules.task_closed(c, login, now),
        entry,
        log_ignored=False,
        also_set=chosen,
    )
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    if not changed:
        raise DeskError(409, "not_taken", f"task {call_id} is not taken by you")
    return call
