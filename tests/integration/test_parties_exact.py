"""What each party action writes, compared whole, from the services: the party on the call,
the call-log entry, the operator's reservation, the system's note, and every refusal's error
(status, code, message, field). Direct service calls: a wrong write fails at once, with no
waiting on the platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest

from backend.domain.model import (
    Activity,
    Address,
    CallParty,
    PartyKind,
    PartyRole,
    PartyState,
    TargetType,
)
from backend.keys import FEED
from backend.services import parties
from backend.services.desk import DeskError
from backend.services.parties import Actor, Target
from backend.services.party_targets import PartyTargets, target_entry
from tests.conftest import Backend
from tests.integration.test_parties import CONFIG
from tests.support.desk import call_in_state, connected_call
from tests.support.fake_platform import Script


@pytest.fixture
async def b(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    return await make_backend(CONFIG)


async def _error(action: Coroutine[Any, Any, Any]) -> tuple[int, str, str, str | None]:
    with pytest.raises(DeskError) as refused:
        await action
    e = refused.value
    return e.status, e.code, e.message, e.field


async def _last_entry(b: Backend, call_id: str, kind: str) -> dict[str, Any]:
    """The latest entry of this kind (the commands sent to the platform are logged too)."""
    doc = await b.store.call_doc(call_id)
    assert doc is not None
    return dict([e for e in doc["log"] if e["kind"] == kind][-1])


async def test_the_picker_and_every_refusal_exactly(b: Backend) -> None:
    engine = b.engine
    await b.add_operator("nora")  # offline
    # A queued call has no owner: nobody may transfer it.
    queued = await b.place_call()
    admin = Actor(None, True)
    assert await _error(
        parties.transfer(engine, queued["call_id"], admin, Target("group", "sales"), "blind", "x")
    ) == (409, "no_owner", "nobody owns this call to transfer it", None)
    await b.platform.hang_up_caller(queued["session_id"])
    await call_in_state(b, queued["call_id"], "ended")
    alice_auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    assert alice_auth
    await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=None))  # rings until the test says
    await b.ready_operator("sam", [("sales", 1)])
    b.platform.script("sam", Script(answer_after_s=None))
    alice = Actor("alice", False)

    # Dan is Ready but in wrap-up (as another process wrote it): not routable, saying why.
    await b.ready_operator("dan", [("support", 1)])
    await b.store.operators.update_one({"_id": "dan"}, {"$set": {"activity": "wrap_up"}})
    await b.view_synced()
    assert await _error(parties.add_party(engine, call_id, alice, Target("operator", "dan"))) == (
        409,
        "not_routable",
        "operator dan is not routable now: wrap_up",
        "to.address",
    )

    # The picker: everyone but me, with their state; each group's routable count.
    await b.view_synced()
    view = engine.view
    assert parties.targets(engine, "alice") == {
        "operators": [
            target_entry(op)
            for op in (
                view.operator("bob"),
                view.operator("dan"),
                view.operator("nora"),
                view.operator("sam"),
            )
            if op is not None
        ],
        "groups": [
            {"name": "default", "routable": 1},
            {"name": "sales", "routable": 1},
            {"name": "support", "routable": 0},
        ],
    }
    listed = parties.targets(engine, "alice")["operators"]
    assert isinstance(listed, list)
    assert [o["login"] for o in listed] == ["bob", "dan", "nora", "sam"]
    assert target_entry(view.operator("bob")) == {  # type: ignore[arg-type]
        "login": "bob",
        "presence": "ready",
        "activity": "idle",
        "routable": True,
        "groups": ["default"],
    }

    # The picker's pushes: the operators changed since the last one, as the view has them.
    pushes = PartyTargets(engine.settings, b.app[FEED])
    pushes._on_change("calls", {"_id": "bob"}, False)
    pushes.mark_all_seen()
    assert pushes.delta() is None and not pushes.changed.is_set()
    for login in ("sam", "ghost", "bob"):
        pushes._on_change("operators", {"_id": login}, login == "sam")
    assert pushes.changed.is_set()
    pushes.changed.clear()
    pushes.mark_all_seen()
    assert pushes.changed.is_set()
    bob_op, sam_op = view.operator("bob"), view.operator("sam")
    assert bob_op is not None and sam_op is not None
    assert pushes.delta() == {
        "type": "targets",
        "operators": [target_entry(bob_op), target_entry(sam_op)],
        "removed": ["ghost"],
        "groups": [
            {"name": "default", "routable": 1},
            {"name": "sales", "routable": 1},
            {"name": "support", "routable": 0},
        ],
    }
    assert pushes.delta() is None

    # Refusals that depend on the call, the asker or the target: each error whole.
    bob = Target("operator", "bob")
    refusals: list[tuple[Coroutine[Any, Any, Any], tuple[int, str, str, str | None]]] = [
        (
            parties.add_party(engine, "nope", alice, bob),
            (404, "not_found", "no call nope", "call_id"),
        ),
        (
            parties.add_party(engine, call_id, Actor("carl", False), bob),
            (403, "forbidden", "only an operator on the call (or a supervisor) may", None),
        ),
        (
            parties.add_party(engine, call_id, Actor(None, False), bob),
            (403, "forbidden", "only an operator on the call (or a supervisor) may", None),
        ),
        (
            parties.add_party(engine, call_id, alice, Target("operator", "alice")),
            (409, "self", "you cannot ask yourself in", "to.address"),
        ),
        (
            parties.add_party(engine, call_id, admin, Target("operator", "alice")),
            (409, "already_on_call", "alice is on this call already", "to.address"),
        ),
        (
            parties.add_party(engine, call_id, alice, Target("operator", "zed")),
            (404, "unknown_operator", "no operator zed", "to.address"),
        ),
        (
            parties.add_party(engine, call_id, alice, Target("group", "nope")),
            (404, "unknown_group", "no group nope", "to.address"),
        ),
        (
            parties.add_party(engine, call_id, alice, Target("operator", "nora")),
            (409, "not_routable", "operator nora is not routable now: offline", "to.address"),
        ),
        (
            parties.add_party(engine, call_id, alice, Target("group", "support")),
            (409, "no_operator_routable", "nobody in group support is routable now", "to.address"),
        ),
        (
            parties.remove_party(engine, call_id, "nope", alice),
            (404, "unknown_party", f"call {call_id} has no party nope", "party_id"),
        ),
        (
            parties.hold(engine, "nope", alice, held=True),
            (404, "not_found", "no call nope", "call_id"),
        ),
        (
            parties.transfer(engine, call_id, alice, Target("group", "nope"), "blind", "x"),
            (404, "unknown_group", "no group nope", "to.address"),
        ),
    ]
    for action, error in refusals:
        assert await _error(action) == error


async def test_add_hold_and_remove_write_exactly_this(b: Backend) -> None:
    engine = b.engine
    await b.ready_operator("alice")
    call_id = (await connected_call(b, "alice"))["call_id"]
    await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=None))  # rings until the test says
    await b.ready_operator("sam", [("sales", 1)])
    b.platform.script("sam", Script(answer_after_s=None))
    alice, admin, bob = Actor("alice", False), Actor(None, True), Target("operator", "bob")

    # Hold and unhold: one entry each, by whom.
    await parties.hold(engine, call_id, alice, held=True)
    held = await _last_entry(b, call_id, "hold")
    assert held == {"at": held["at"], "kind": "hold", "by": "alice"}
    assert await _error(parties.hold(engine, call_id, alice, held=True)) == (
        409,
        "already_held",
        "the caller is on hold already",
        None,
    )
    await parties.hold(engine, call_id, admin, held=False)
    unheld = await _last_entry(b, call_id, "unhold")
    assert unheld == {"at": unheld["at"], "kind": "unhold", "by": None}

    # A named operator: reserved, the party on the call, one entry.
    policy = engine.settings.policy("default")
    ring = timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
    party_id = await parties.add_party(engine, call_id, alice, bob, reason="a refund")
    entry = await _last_entry(b, call_id, "party_added")
    at = entry["at"]
    assert entry == {
        "at": at,
        "kind": "party_added",
        "party_id": party_id,
        "to": {"type": "operator", "address": "bob"},
        "login": "bob",
        "role": "help",
        "by": "alice",
    }
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    assert call.party(party_id) == CallParty(
        party_id=party_id,
        kind=PartyKind.OPERATOR,
        address=Address(TargetType.USER, "bob"),
        state=PartyState.DIALING,
        created_at=at,
        role=PartyRole.HELP,
        login="bob",
        requested_by="alice",
        expires_at=at + ring,
        reason="a refund",
    )
    op = await engine.operator("bob", fresh=True)
    assert op is not None
    assert (op.activity, op.offer_id, op.call_id) == (Activity.OFFERED, party_id, call_id)
    # One party at a time: refused while bob's rings (the database says so).
    code, message = "party_dialing", f"party {party_id} is still ringing: one party at a time"
    assert await _error(parties.add_party(engine, call_id, alice, Target("group", "sales"))) == (
        409,
        code,
        message,
        None,
    )

    # Alice takes bob's ringing party off: one entry; a second time it is gone.
    await parties.remove_party(engine, call_id, party_id, alice)
    removed = await _last_entry(b, call_id, "party_removed")
    assert removed == {
        "at": removed["at"],
        "kind": "party_removed",
        "party_id": party_id,
        "by": "alice",
    }
    assert await _error(parties.remove_party(engine, call_id, party_id, alice)) == (
        409,
        "party_left",
        f"party {party_id} is not on the call",
        None,
    )
    assert await _error(parties.remove_party(engine, call_id, party_id, Actor("carl", False))) == (
        403,
        "forbidden",
        "only an operator on the call (or a supervisor) may",
        None,
    )

    # The best of a group, asked in by a supervisor for a transfer: the group's policy.
    sales = engine.settings.policy("sales")
    party_id = await parties.add_party(
        engine, call_id, admin, Target("group", "sales"), role=PartyRole.TRANSFER, reason="why"
    )
    entry = await _last_entry(b, call_id, "party_added")
    at = entry["at"]
    assert entry == {
        "at": at,
        "kind": "party_added",
        "party_id": party_id,
        "to": {"type": "group", "address": "sales"},
        "login": "sam",
        "role": "transfer",
        "by": None,
    }
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    assert call.party(party_id) == CallParty(
        party_id=party_id,
        kind=PartyKind.OPERATOR,
        address=Address(TargetType.USER, "sam"),
        state=PartyState.DIALING,
        created_at=at,
        role=PartyRole.TRANSFER,
        login="sam",
        requested_by=None,
        expires_at=at + timedelta(seconds=sales.ring_timeout_s + sales.offer_grace_s),
        reason="why",
    )
    await parties.remove_party(engine, call_id, party_id, admin)

    # A number: no operator reserved.
    party_id = await parties.add_party(engine, call_id, alice, Target("number", "+15557654321"))
    entry = await _last_entry(b, call_id, "party_added")
    at = entry["at"]
    assert entry == {
        "at": at,
        "kind": "party_added",
        "party_id": party_id,
        "to": {"type": "number", "address": "+15557654321"},
        "login": None,
        "role": "help",
        "by": "alice",
    }
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    assert call.party(party_id) == CallParty(
        party_id=party_id,
        kind=PartyKind.EXTERNAL,
        address=Address(TargetType.PSTN, "+15557654321"),
        state=PartyState.DIALING,
        created_at=at,
        role=PartyRole.HELP,
        login=None,
        requested_by="alice",
        expires_at=at + ring,
        reason=None,
    )
    await parties.remove_party(engine, call_id, party_id, alice)

    # A consult transfer asked by a supervisor: in the owner's name, the target a party.
    consult = await parties.transfer(
        engine, call_id, admin, Target("group", "sales"), "consult", "ask sales"
    )
    entry = await _last_entry(b, call_id, "party_added")
    assert entry == {
        "at": entry["at"],
        "kind": "party_added",
        "party_id": consult,
        "to": {"type": "group", "address": "sales"},
        "login": "sam",
        "role": "transfer",
        "by": None,
    }
    doc = await b.store.call_doc(call_id)
    assert doc is not None
    assert [(n["operator"], n["text"]) for n in doc["desk"]["notes"]] == [
        ("system", "transferred by alice to group sales: ask sales")
    ]
    assert consult is not None
    await parties.remove_party(engine, call_id, consult, admin)

    # Blind to a number, alone on the call: the party's id back, one entry, the note.
    moved = await parties.transfer(
        engine, call_id, alice, Target("number", "+15557654322"), "blind", "billing"
    )
    assert moved is not None
    doc = await b.store.call_doc(call_id)
    assert doc is not None
    [entry] = [e for e in doc["log"] if e["kind"] == "transfer"]
    assert entry == {
        "at": entry["at"],
        "kind": "transfer",
        "mode": "blind",
        "by": "alice",
        "to": {"type": "number", "address": "+15557654322"},
    }
    [_, note] = doc["desk"]["notes"]
    assert note == {
        "at": note["at"],
        "operator": "system",
        "text": "transferred by alice to +15557654322: billing",
    }
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    party = call.party(moved)
    assert party is not None
    assert (party.kind, party.address, party.role, party.requested_by, party.reason) == (
        PartyKind.EXTERNAL,
        Address(TargetType.PSTN, "+15557654322"),
        PartyRole.TRANSFER,
        "alice",
        "billing",
    )


async def test_a_call_write_that_loses_gives_the_operator_back_and_tries_again(
    b: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process changes the call between the helper's reservation and the call's
    write (made certain here: the call's revision is bumped right after the reservation, once):
    the helper is given back, the race counted once, and the second try adds one party."""
    engine = b.engine
    await b.ready_operator("alice")
    call_id = (await connected_call(b, "alice"))["call_id"]
    await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=None))
    reserve = engine.store.save_operator
    reservations: list[str | None] = []

    async def reserve_then_lose_the_call(old: Any, new: Any, now: Any) -> Any:
        saved = await reserve(old, new, now)
        reservations.append(new.offer_id)
        if len(reservations) == 1:
            await b.store.calls.update_one({"_id": call_id}, {"$inc": {"rev": 1}})
        return saved

    monkeypatch.setattr(engine.store, "save_operator", reserve_then_lose_the_call)
    races = engine.lost_races
    party_id = await parties.add_party(
        engine, call_id, Actor("alice", False), Target("operator", "bob")
    )
    monkeypatch.undo()
    assert engine.lost_races == races + 1
    # Reserved, given back (the same write path), reserved again for the second party.
    first = reservations[0]
    assert reservations == [first, None, party_id] and first != party_id
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    assert [p.party_id for p in call.parties if p.login == "bob"] == [party_id]
    op = await engine.operator("bob", fresh=True)
    assert op is not None
    assert (op.activity, op.offer_id, op.call_id, op.misses_in_row) == (
        Activity.OFFERED,
        party_id,
        call_id,
        0,
    )
    doc = await b.store.call_doc(call_id)
    assert doc is not None
    assert [e["party_id"] for e in doc["log"] if e["kind"] == "party_added"] == [party_id]


async def test_a_lost_reservation_moves_on_to_the_next_of_the_group(
    b: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The best of the group is changed by another process just before their reservation
    (made certain here, once): the race is counted and the next best is asked instead."""
    engine = b.engine
    await b.ready_operator("alice")
    call_id = (await connected_call(b, "alice"))["call_id"]
    await b.ready_operator("sam", [("sales", 1)])  # the longest idle: the best
    await b.ready_operator("sue", [("sales", 1)])
    for login in ("sam", "sue"):
        b.platform.script(login, Script(answer_after_s=None))
    reserve = engine.store.save_operator
    tried: list[str] = []

    async def changed_first(old: Any, new: Any, now: Any) -> Any:
        tried.append(old.login)
        if len(tried) == 1:
            await b.store.operators.update_one({"_id": old.login}, {"$inc": {"rev": 1}})
        return await reserve(old, new, now)

    monkeypatch.setattr(engine.store, "save_operator", changed_first)
    races = engine.lost_races
    party_id = await parties.add_party(
        engine, call_id, Actor("alice", False), Target("group", "sales")
    )
    monkeypatch.undo()
    assert (tried, engine.lost_races) == (["sam", "sue"], races + 1)
    call = await engine.call(call_id, fresh=True)
    assert call is not None
    party = call.party(party_id)
    assert party is not None and party.login == "sue"
    sam = await engine.operator("sam", fresh=True)
    assert sam is not None and sam.activity is Activity.IDLE
