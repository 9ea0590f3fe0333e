"""Calls with more than two parties: hold, add a party (help, conference), leave, transfer.

The shell around domain/parties.py. An operator asked in is reserved exactly as for a
customer's call: one `update_one` guarded by the operator's revision, the core refusing
anyone not routable; then the call's write, guarded by its own revision. A call write that
loses (another party was added meanwhile) gives the operator back and decides again from
the database, where the other's ringing party now refuses this one (409 `party_dialing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc
from backend.clock import new_id
from backend.domain import operators as op_rules
from backend.domain import parties as party_rules
from backend.domain.actions import Refused, StatusInterval, Step
from backend.domain.model import (
    Address,
    Call,
    CallParty,
    Operator,
    PartyKind,
    PartyRole,
    TargetType,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.routing import CANDIDATES
from backend.services.desk import DeskError
from backend.services.engine import MAX_RACES, Contention, Engine

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Target:
    type: str  # "operator" | "group" | "number"
    address: str

    def label(self) -> str:
        return f"group {self.address}" if self.type == "group" else self.address


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: an operator (login), and whether they may act on any call."""

    login: str | None
    supervisor: bool


def _refused(e: Refused) -> DeskError:
    return DeskError(409, e.code, e.message)


async def _load(engine: Engine, call_id: str, *, fresh: bool = False) -> Call:
    call = await engine.call(call_id, fresh=fresh)
    if call is None:
        raise DeskError(404, "not_found", f"no call {call_id}", "call_id")
    return call


def _authorize(call: Call, actor: Actor) -> None:
    if actor.supervisor:
        return
    if actor.login is None or not party_rules.on_call(call, actor.login):
        raise DeskError(403, "forbidden", "only an operator on the call (or a supervisor) may")


async def _check_target(engine: Engine, call: Call, actor: Actor, to: Target) -> None:
    """Refusals that depend on the target alone (the state checks come with the write)."""
    if to.type == "operator":
        if to.address == actor.login:
            raise DeskError(409, "self", "you cannot ask yourself in", "to.address")
        if await engine.operator(to.address) is None:
            raise DeskError(404, "unknown_operator", f"no operator {to.address}", "to.address")
        if to.address in party_rules.logins(call):
            raise DeskError(
                409, "already_on_call", f"{to.address} is on this call already", "to.address"
            )
    elif to.type == "group" and to.address not in {g.name for g in engine.settings.config.groups}:
        raise DeskError(404, "unknown_group", f"no group {to.address}", "to.address")


def _not_routable(op: Operator) -> DeskError:
    state = op.presence.value if op.presence.value != "ready" else op.activity.value
    return DeskError(
        409,
        "not_routable",
        f"operator {op.login} is not routable now: {state}",
        "to.address",
    )


async def _pick(
    engine: Engine, call: Call, to: Target, now: datetime, lost: set[str]
) -> Operator | None:
    if to.type == "operator":
        op = await engine.operator(to.address, fresh=to.address in lost)
        if op is None:
            raise DeskError(404, "unknown_operator", f"no operator {to.address}", "to.address")
        if not op.routable:
            op = await engine.operator(to.address, fresh=True)  # the view may be behind
            if op is None or not op.routable:
                raise _not_routable(op) if op else DeskError(404, "unknown_operator", "gone")
        return op
    group = to.address
    strategy = engine.settings.policy(group).strategy
    room = CANDIDATES + len(party_rules.logins(call)) + len(lost)
    routable = engine.view.routable(group, room)
    picked = party_rules.help_candidates(call, group, routable, strategy, now, exclude=lost)
    if picked is None:
        raise DeskError(
            409, "no_operator_routable", f"nobody in group {group} is routable now", "to.address"
        )
    return picked


async def add_party(
    engine: Engine,
    call_id: str,
    actor: Actor,
    to: Target,
    *,
    role: PartyRole = PartyRole.HELP,
    reason: str | None = None,
) -> str:
    """Dial an operator (by name, or the best of a group) or a number into the call."""
    max_parties = engine.settings.config.calls.max_parties
    lost: set[str] = set()
    fresh = False
    for _ in range(MAX_RACES):
        call = await _load(engine, call_id, fresh=fresh)
        _authorize(call, actor)
        try:
            party_rules.check_can_add(call, max_parties)
        except Refused as e:
            if not fresh:
                fresh = True  # refuse only what the database says
                continue
            raise _refused(e) from None
        await _check_target(engine, call, actor, to)
        now = engine.clock()
        policy = engine.settings.policy(to.address if to.type == "group" else call.group)
        party_id = new_id()
        op: Operator | None = None
        reserved: Operator | None = None
        op_step: Step[Operator] | None = None
        if to.type == "number":
            party = party_rules.new_party(
                party_id,
                PartyKind.EXTERNAL,
                Address(TargetType.PSTN, to.address),
                now,
                policy,
                role=role,
                requested_by=actor.login,
                reason=reason,
            )
        else:
            op = await _pick(engine, call, to, now, lost)
            assert op is not None
            party = party_rules.new_party(
                party_id,
                PartyKind.OPERATOR,
                op.address,
                now,
                policy,
                role=role,
                login=op.login,
                requested_by=actor.login,
                reason=reason,
            )
            try:
                op_step = op_rules.offer(op, call_id, party_id, party.expires_at or now, now)
            except Refused:
                lost.add(op.login)
                await engine.feed.refresh_operator(op.login)
                continue
            assert op_step.state is not None
            # The same guarded reservation as a customer's offer (rev and routable).
            reserved = await engine.store.save_operator(op, op_step.state, now)
            if reserved is None:
                engine.lost_races += 1
                lost.add(op.login)
                await engine.feed.refresh_operator(op.login)
                continue
            engine.feed.local_operator(reserved)
        try:
            step = party_rules.add(call, party, now, policy, max_parties)
        except Refused as e:
            await _give_back(engine, reserved, party_id, now)
            raise _refused(e) from None
        assert step.state is not None
        pending = engine.commands.pending_log(call_id)
        entry: Doc = {
            "at": now,
            "kind": "party_added",
            "party_id": party_id,
            "to": {"type": to.type, "address": to.address},
            "login": party.login,
            "role": role.value,
            "by": actor.login,
        }
        saved = await engine.store.save_call(call, step.state, now, [*pending, entry])
        if saved is None:
            # Another change of the call came first (another party, say): give the operator
            # back, then decide again from the database.
            engine.lost_races += 1
            await _give_back(engine, reserved, party_id, now)
            await engine.feed.refresh_call(call_id)
            fresh = True
            continue
        engine.commands.logged(call_id, len(pending))
        engine.feed.local_call(saved)
        engine.arm_call(saved)
        if reserved is not None and op_step is not None:
            engine.arm_operator(reserved)
            engine.history.add([a for a in op_step.actions if isinstance(a, StatusInterval)])
        await engine.run(step.actions)
        return party_id
    raise Contention(f"call {call_id} kept changing")


async def _give_back(
    engine: Engine, reserved: Operator | None, party_id: str, now: datetime
) -> None:
    if reserved is None:
        return
    released = op_rules.release_offer(reserved, party_id, now)
    back = (
        await engine.store.save_operator(reserved, released.state, now)
        if released.state is not None
        else None
    )
    if back is not None:
        engine.feed.local_operator(back)
    else:
        await engine.apply_operator(
            reserved.login, lambda o, at: op_rules.release_offer(o, party_id, at)
        )


async def remove_party(engine: Engine, call_id: str, party_id: str, actor: Actor) -> Call:
    """The party leaves (an operator their own party, or anyone on the call another's)."""
    call = await _load(engine, call_id)
    if call.party(party_id) is None:
        call = await _load(engine, call_id, fresh=True)
    party = call.party(party_id)
    if party is None:
        raise DeskError(404, "unknown_party", f"call {call_id} has no party {party_id}", "party_id")
    own = actor.login is not None and party.login == actor.login
    if not own:
        _authorize(call, actor)
        if party.supervisor and not actor.supervisor:
            raise DeskError(403, "forbidden", "only supervisors may take a supervisor off a call")
    policy = engine.settings.policy(call.group)

    def transition(c: Call, now: datetime) -> Step[Call]:
        p = c.party(party_id)
        if p is None or not p.active or c.ended:
            raise Refused("party_left", f"party {party_id} is not on the call")
        return party_rules.party_left(c, party_id, now, policy, requested=True)

    entry: Doc = {"at": engine.clock(), "kind": "party_removed", "party_id": party_id}
    entry["by"] = actor.login
    try:
        saved, _ = await engine.apply_call(call_id, transition, entry, log_ignored=False)
    except Refused as e:
        raise _refused(e) from None
    assert saved is not None
    return saved


async def hold(engine: Engine, call_id: str, actor: Actor, *, held: bool) -> Call:
    call = await _load(engine, call_id)
    _authorize(call, actor)
    rule = party_rules.hold if held else party_rules.unhold
    entry: Doc = {"at": engine.clock(), "kind": "hold" if held else "unhold", "by": actor.login}
    try:
        saved, _ = await engine.apply_call(call_id, rule, entry, log_ignored=False)
    except Refused as e:
        raise _refused(e) from None
    assert saved is not None
    return saved


async def transfer(
    engine: Engine, call_id: str, actor: Actor, to: Target, mode: str, reason: str
) -> str | None:
    """Blind: the operator leaves at once, the target gets the caller (or the queue does).
    Consult: the target is added as a party; the operator leaves later with DELETE."""
    call = await _load(engine, call_id)
    _authorize(call, actor)
    by = actor.login if actor.login and party_rules.on_call(call, actor.login) else call.operator
    if by is None:
        raise DeskError(409, "no_owner", "nobody owns this call to transfer it")
    await _check_target(engine, call, Actor(by, actor.supervisor), to)
    party_id: str | None = None
    if mode == "consult":
        party_id = await add_party(
            engine, call_id, actor, to, role=PartyRole.TRANSFER, reason=reason
        )
    else:
        party_id = await _blind(engine, call, by, to, reason)
    note = party_rules.transfer_note(by, to.label(), reason)
    await DeskStore(engine.store.db).add_note(
        call_id, {"at": engine.clock(), "operator": SYSTEM, "text": note}
    )
    return party_id


async def _blind(engine: Engine, call: Call, by: str, to: Target, reason: str) -> str | None:
    policy = engine.settings.policy(call.group)
    transition: partial[Step[Call]]
    party: CallParty | None = None
    if to.type == "operator":
        op = await _pick(engine, call, to, engine.clock(), set())  # routable now, or 409
        assert op is not None
        transition = partial(_blind_queue, by=by, policy=policy, group=None, operator=to.address)
    elif to.type == "group":
        transition = partial(
            _blind_queue,
            by=by,
            policy=engine.settings.policy(to.address),
            group=to.address,
            operator=None,
        )
    else:
        party = party_rules.new_party(
            new_id(),
            PartyKind.EXTERNAL,
            Address(TargetType.PSTN, to.address),
            engine.clock(),
            policy,
            role=PartyRole.TRANSFER,
            requested_by=by,
            reason=reason,
        )
        transition = partial(_blind_number, by=by, party=party, policy=policy)
    entry: Doc = {
        "at": engine.clock(),
        "kind": "transfer",
        "mode": "blind",
        "by": by,
        "to": {"type": to.type, "address": to.address},
    }
    try:
        await engine.apply_call(call.call_id, transition, entry, log_ignored=False)
    except Refused as e:
        raise _refused(e) from None
    return party.party_id if party else None


def _blind_queue(
    call: Call,
    now: datetime,
    *,
    by: str,
    policy: RoutingPolicy,
    group: str | None,
    operator: str | None,
) -> Step[Call]:
    return party_rules.blind_to_queue(call, by, now, policy, group=group, operator=operator)


def _blind_number(
    call: Call, now: datetime, *, by: str, party: CallParty, policy: RoutingPolicy
) -> Step[Call]:
    return party_rules.blind_to_number(call, by, party, now, policy)


def targets(engine: Engine, me: str | None) -> dict[str, object]:
    """The Add party picker: every operator with their state, and each group with how many
    of its operators are routable now. From the read view: no query."""
    view = engine.view
    seen: dict[str, Operator] = {}
    groups = []
    for g in engine.settings.config.groups:
        for op in view.members(g.name):
            seen[op.login] = op
        groups.append({"name": g.name, "routable": view.routable_count(g.name)})
    operators = [
        {
            "login": op.login,
            "presence": op.presence.value,
            "activity": op.activity.value,
            "routable": op.routable,
            "groups": list(op.group_names),
        }
        for login, op in sorted(seen.items())
        if login != me
    ]
    return {"operators": operators, "groups": groups}
