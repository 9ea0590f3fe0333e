"""Operator use cases: administration, login, and the status they choose."""

from __future__ import annotations

from dataclasses import dataclass, replace

from backend.adapters.documents import Doc
from backend.auth import dismissed
from backend.domain import operators as op_rules
from backend.domain.actions import DispatchOperator
from backend.domain.model import Address, Operator, Presence, Skill
from backend.services.engine import MAX_RACES, Contention, Engine
from backend.services.login import LoginThrottle, PasswordHasher


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    email: str
    role: str
    address: Address
    groups: tuple[Skill, ...]
    password_hash: str | None = None  # hashed by the caller, off the event loop


class MissingPassword(ValueError):
    pass


async def upsert_operator(engine: Engine, login: str, p: Profile) -> tuple[Doc, bool]:
    """Create the operator, or update profile, address and groups guarded by rev."""
    store = engine.store
    profile: Doc = {"name": p.name, "email": p.email, "role": p.role}
    if p.password_hash is not None:
        profile["password_hash"] = p.password_hash
    created = False
    before = await store.operator_doc(login)
    ends_sessions = before is not None and (
        p.password_hash is not None or before.get("role") != p.role
    )
    if ends_sessions:
        # A new password or another role: every session of the old one ends first, so that
        # no socket of theirs is sent the new profile.
        await revoke_sessions(engine, login)
    for _ in range(MAX_RACES):
        now = engine.clock()
        current = await store.operator(login)
        if current is None:
            if p.password_hash is None:
                raise MissingPassword("password is required for a new operator")
            op = op_rules.new_operator(login, p.address, p.groups, now)
            if await store.insert_operator(op, profile, now):
                created = True
                break
            continue
        updated = replace(current, address=p.address, groups=p.groups)
        if await store.update_operator_profile(current, updated, profile, now):
            if not ends_sessions:
                # Into this process's view first (the stream's echo is skipped by rev): the
                # dispatch below must see the new groups, not wait for the next rebalance.
                # Not when the sessions end: the view tells the sockets at once, and the
                # old sessions' sockets must be closed (by the stream, in order) first.
                engine.feed.local_operator(
                    replace(updated, rev=current.rev + 1), {**profile, "updated_at": now}
                )
            if updated.routable:
                # New groups may have calls waiting for exactly this operator.
                await engine.run((DispatchOperator(login),))
            break
    else:
        raise Contention(f"operator {login} kept changing")
    if ends_sessions:
        await revoke_sessions(engine, login)  # and any token issued in the meantime
    doc = await store.operator_doc(login)
    assert doc is not None
    return doc, created


async def revoke_sessions(engine: Engine, login: str) -> None:
    """Every token issued to the operator so far stops working, and their sockets close (the
    change reaches every process's WebSocket hub through the operators' change stream)."""
    await engine.store.operators.update_one({"_id": login}, {"$inc": {"session_epoch": 1}})


class Dismissed(Exception):
    """The password is right, but the operator has been dismissed."""


async def authenticate(
    engine: Engine,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    login: str,
    password: str,
    address: str,
) -> Doc | None:
    """The operator when the password is right. Throttled (before any hashing) after repeated
    attempts on this login or from this address; an unknown login costs what a known one does."""
    await throttle.attempt(login, address)
    doc = await engine.store.operator_doc(login)
    if not await hasher.verify(password, doc.get("password_hash") if doc else None):
        await throttle.failed(login, address)
        return None
    assert doc is not None
    await throttle.succeeded(login, address)
    if dismissed(doc):
        raise Dismissed(login)
    return doc


async def set_status(
    engine: Engine, login: str, presence: Presence, reason: str | None
) -> Operator | None:
    """The operator's own choice. Refused propagates (409); Ready starts the presence clock."""
    if presence is Presence.READY:
        # Ready counts as "seen now", so the grace period starts from this click.
        await engine.seen(login)
    return await engine.apply_operator(
        login, lambda op, now: op_rules.set_presence(op, presence, reason, now)
    )


async def finish_wrap_up(engine: Engine, login: str) -> Operator | None:
    reserve_s = engine.settings.policy().video_reserve_s
    return await engine.apply_operator(
        login, lambda op, now: op_rules.finish_wrap_up(op, now, reserve_s)
    )
