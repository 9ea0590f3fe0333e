"""Listen, whisper, barge: the shell around domain/supervision.py.

A supervisor (or an administrator with a login) joins a connected call with a mode; the
supervisor's Web SDK user is dialled like a party, and the page answers it by itself. One
guarded write of the call per change, as for every party (engine.apply_call).
"""

from __future__ import annotations

from datetime import datetime

from backend.adapters.documents import Doc
from backend.clock import new_id
from backend.domain import supervision
from backend.domain.actions import Refused, Step
from backend.domain.model import Activity, Call, PartyState, SuperviseMode
from backend.services.desk import DeskError
from backend.services.engine import Engine
from backend.services.parties import Actor

_ON_LINE = [PartyState.DIALING.value, PartyState.CONNECTED.value, PartyState.HELD.value]


def _refused(e: Refused) -> DeskError:
    return DeskError(409, e.code, e.message)


def _require_supervisor(actor: Actor) -> str:
    if not actor.supervisor:
        raise DeskError(403, "forbidden", "only supervisors and administrators may supervise")
    if actor.login is None:
        raise DeskError(
            403, "login_required", "supervising dials your own media user: log in as yourself"
        )
    return actor.login


async def _elsewhere(engine: Engine, login: str, call_id: str) -> str | None:
    """Another connected call this supervisor is on. Indexed (parties.login, state): only the
    connected calls this login is a party of are read, and their parties looked at here."""
    cursor = engine.store.calls.find({"parties.login": login, "state": "connected"}, {"parties": 1})
    async for doc in cursor:
        if doc["_id"] == call_id:
            continue
        for p in doc.get("parties") or ():
            if p.get("login") == login and p.get("kind") == "supervisor" and p["state"] in _ON_LINE:
                return str(doc["_id"])
    return None


async def supervising(engine: Engine, login: str) -> str | None:
    """The call this login supervises now, if any: such a supervisor may not click Ready (a
    customer's call would ring them while they listen)."""
    return await _elsewhere(engine, login, "")


async def supervise(engine: Engine, call_id: str, actor: Actor, mode: SuperviseMode) -> str:
    """The supervisor's leg is dialled into the call with the mode; → its party_id."""
    login = _require_supervisor(actor)
    me = await engine.operator(login, fresh=True)
    if me is None:
        raise DeskError(403, "forbidden", f"{login} has no media user to dial")
    if me.activity in (Activity.OFFERED, Activity.IN_CALL) or me.routable:
        # A call could ring them while they listen: they are Not ready first.
        state = me.activity.value if not me.routable else "ready"
        raise DeskError(409, "busy", f"you are {state}: be Not ready and off calls to supervise")
    other = await _elsewhere(engine, login, call_id)
    if other is not None:
        raise DeskError(409, "supervising_elsewhere", f"you supervise call {other}: leave it first")
    call = await engine.call(call_id)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    policy = engine.settings.policy(call.group)
    party_id = new_id()

    def join(c: Call, now: datetime) -> Step[Call]:
        party = supervision.new_party(party_id, login, me.address, mode, now, policy)
        return supervision.join(c, party, now, policy)

    entry: Doc = {
        "at": engine.clock(),
        "kind": "supervisor_joined",
        "party_id": party_id,
        "login": login,
        "mode": mode.value,
    }
    try:
        await engine.apply_call(call_id, join, entry, log_ignored=False)
    except Refused as e:
        raise _refused(e) from None
    return party_id


async def set_mode(
    engine: Engine, call_id: str, party_id: str, actor: Actor, mode: SuperviseMode
) -> None:
    """The supervisor switches mode on the same leg (no new dial)."""
    login = _require_supervisor(actor)
    call = await engine.call(call_id)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    party = call.party(party_id) or (
        c.party(party_id) if (c := await engine.call(call_id, fresh=True)) else None
    )
    if party is None:
        raise DeskError(404, "unknown_party", f"call {call_id} has no party {party_id}", "party_id")
    if party.supervisor and party.login != login:
        raise DeskError(403, "forbidden", f"party {party_id} is another supervisor's")
    entry: Doc = {"at": engine.clock(), "kind": "supervisor_mode", "party_id": party_id}
    entry.update(mode=mode.value, by=login)
    try:
        await engine.apply_call(
            call_id,
            lambda c, now: supervision.set_mode(c, party_id, mode),
            entry,
            log_ignored=False,
        )
    except Refused as e:
        raise _refused(e) from None
