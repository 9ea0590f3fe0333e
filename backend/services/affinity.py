"""'Your manager': who a caller's manager is, what the caller hears, and pinning a new one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.adapters.desk_store import contact_keys
from backend.adapters.documents import Doc
from backend.domain import operators as op_rules
from backend.domain.manager import ManagerState, away_text, manager_state
from backend.domain.model import Absence, AbsenceReason, Operator
from backend.services.engine import Engine
from backend.services.operators import revoke_sessions


@dataclass(frozen=True, slots=True)
class Preference:
    manager: str | None = None  # the contact's manager, whatever their state
    contact_key: str | None = None
    preferred: str | None = None  # whom the call waits for (the manager, unless away)
    say: str | None = None  # why another specialist will answer


def _name(engine: Engine, login: str) -> str:
    doc = engine.feed.operator_doc(login)
    return str(doc.get("name") or login) if doc else login


def preference_for(
    engine: Engine, caller: str, customer_id: str | None, now: datetime
) -> Preference:
    """From the read view: the contact's manager and their state cost no query."""
    found = engine.view.manager_of(contact_keys(caller, customer_id))
    if found is None:
        return Preference()
    key, login = found
    op = engine.view.operator(login)
    state = manager_state(op, now)
    if state is ManagerState.AWAY:
        m = engine.settings.config.manager
        # An absence without an end date has no "until" to say.
        open_ended = op is not None and op.absence is not None and op.absence.until is None
        absent = m.absent_open_text if open_ended else m.absent_text
        text = away_text(op, _name(engine, login), now, absent, m.away_text)
        return Preference(manager=login, contact_key=key, say=text)
    return Preference(manager=login, contact_key=key, preferred=login)


def contact_key_of(call: Doc) -> str | None:
    """The contact a call belongs to: its customer id when the context has one, else the caller."""
    customer_id = (call.get("context") or {}).get("customer_id")
    keys = contact_keys(call.get("caller", ""), str(customer_id) if customer_id else None)
    return keys[0] if keys else None


def _pin_candidate(engine: Engine, call: Doc) -> str | None:
    """Whom the caller may be asked to keep: the operator who answered, when pinning is on."""
    login = call.get("operator")
    if not engine.settings.config.manager.pin_enabled or call.get("outcome") != "answered":
        return None
    return str(login) if login else None


def pin_question(engine: Engine, call: Doc) -> dict[str, Any] | None:
    """After an operator hangs up: ask a caller without a manager whether to keep this one.

    Nothing is written: the answer is checked against the same facts of the call (who answered
    it, how it ended) and the contact's manager is set only if it has none by then.
    """
    m = engine.settings.config.manager
    login = _pin_candidate(engine, call)
    if login is None:
        return None
    customer_id = (call.get("context") or {}).get("customer_id")
    keys = contact_keys(call.get("caller", ""), str(customer_id) if customer_id else None)
    if not keys or engine.view.manager_of(keys) is not None:
        return None
    name = _name(engine, login)
    return {
        "command": "ask_pin_manager",
        "operator": login,
        "operator_name": name,
        "text": m.pin_question.format(name=name),
        "timeout_s": m.pin_timeout_s,
    }


async def pin_answered(engine: Engine, call: Doc, answer: str) -> bool:
    """`yes` makes the operator who was asked about the contact's manager (if none meanwhile)."""
    login = _pin_candidate(engine, call)
    if answer != "yes" or not login:
        return False
    key = contact_key_of(call)
    if key is None:
        return False
    if not await set_manager(engine, key, login, only_if_unset=True):
        return False
    # The call names the contact's manager too: the change reaches the desk with the call
    # (its card stops offering "Become their manager"). A fact, not routing state: no rev.
    await engine.store.calls.update_one({"_id": call["_id"]}, {"$set": {"manager": login}})
    return True


async def set_manager(
    engine: Engine, key: str, login: str | None, *, only_if_unset: bool = False
) -> bool:
    """Write a contact's manager; this process's view knows at once (others by the stream)."""
    done = await engine.store.set_contact_manager(
        key, login, engine.clock(), only_if_unset=only_if_unset
    )
    if done:
        engine.view.put_manager(key, login)
    return done


async def set_absence(engine: Engine, login: str, absence: Absence | None) -> Operator | None:
    """Mark an operator absent (or back); a dismissed operator's contacts are released, their
    sessions end and their sockets close (before the mark: no socket of theirs sees it)."""
    dismissal = absence is not None and absence.reason is AbsenceReason.DISMISSED
    if dismissal:
        await revoke_sessions(engine, login)
    op = await engine.apply_operator(login, lambda o, now: op_rules.set_absence(o, absence, now))
    if op is not None and dismissal:
        await engine.store.release_contacts(login, engine.clock())
        engine.view.release_manager(login)
    return op
