"""Operator use cases: administration, login, and the status they choose."""

from __future__ import annotations

from dataclasses import dataclass, replace

from backend.adapters.documents import Doc
from backend.auth import hash_password, verify_password
from backend.domain import operators as op_rules
from backend.domain.actions import DispatchOperator
from backend.domain.model import Address, Operator, Presence, Skill
from backend.services.engine import MAX_RACES, Contention, Engine


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    email: str
    role: str
    address: Address
    groups: tuple[Skill, ...]
    password: str | None = None


class MissingPassword(ValueError):
    pass


async def upsert_operator(engine: Engine, login: str, p: Profile) -> tuple[Doc, bool]:
    """Create the operator, or update profile, address and groups guarded by rev."""
    store = engine.store
    profile: Doc = {"name": p.name, "email": p.email, "role": p.role}
    if p.password is not None:
        profile["password_hash"] = hash_password(p.password)
    created = False
    for _ in range(MAX_RACES):
        now = engine.clock()
        current = await store.operator(login)
        if current is None:
            if p.password is None:
                raise MissingPassword("password is required for a new operator")
            op = op_rules.new_operator(login, p.address, p.groups, now)
            if await store.insert_operator(op, profile, now):
                created = True
                break
            continue
        updated = replace(current, address=p.address, groups=p.groups)
        if await store.update_operator_profile(current, updated, profile, now):
            if updated.routable:
                # New groups may have calls waiting for exactly this operator.
                await engine.run((DispatchOperator(login),))
            break
    else:
        raise Contention(f"operator {login} kept changing")
    doc = await store.operator_doc(login)
    assert doc is not None
    return doc, created


async def authenticate(engine: Engine, login: str, password: str) -> Doc | None:
    doc = await engine.store.operator_doc(login)
    if doc is None or not verify_password(password, doc.get("password_hash")):
        return None
    return doc


async def set_status(
    engine: Engine, login: str, presence: Presence, reason: str | None
) -> Operator | None:
    """The operator's own choice. Refused propagates (409); Ready starts the presence clock."""
    if presence is Presence.READY:
        # Ready counts as "seen now", so the grace period starts from this click.
        await engine.store.touch_operators([login], engine.clock())
    return await engine.apply_operator(
        login, lambda op, now: op_rules.set_presence(op, presence, reason, now)
    )


async def finish_wrap_up(engine: Engine, login: str) -> Operator | None:
    return await engine.apply_operator(login, op_rules.finish_wrap_up)
