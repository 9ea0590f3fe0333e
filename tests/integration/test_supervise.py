"""Listen, whisper, barge through the API: who may, when, what is written, what is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest

from backend.domain.model import (
    Address,
    CallParty,
    PartyKind,
    PartyState,
    SuperviseMode,
    TargetType,
)
from backend.services import parties, supervise
from backend.services.desk import DeskError
from backend.services.parties import Actor
from tests.conftest import Backend
from tests.integration.test_parties import CONFIG, _add, _commands, _error, _party, _party_in
from tests.support.desk import call_in_state, connected_call, operator_in
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot


@pytest.fixture
async def b(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    # max_parties = 3: the caller, the operator and one helper; a supervisor never counts.
    return await make_backend(CONFIG.replace("max_parties = 4", "max_parties = 3"))


async def _supervisor(b: Backend, login: str = "sue") -> dict[str, str]:
    await b.add_operator(login, [("sales", 1)], role="supervisor")  # no default-group calls
    b.platform.script(login, Script(answer_after_s=0.01, talk_s=None))
    return await b.login(login)


async def _supervise(
    b: Backend, call_id: str, auth: dict[str, str], body: Any, status: int = 202
) -> dict[str, Any]:
    resp = await b.client.post(f"/api/v1/calls/{call_id}/supervise", json=body, headers=auth)
    assert resp.status == status, await resp.text()
    return dict(await resp.json())


async def test_listen_then_whisper_then_barge_then_leave(b: Backend) -> None:
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    sue = await _supervisor(b)

    reply = await _supervise(b, call_id, sue, {"mode": "listen"})
    party_id = reply["party_id"]
    call = await _party_in(b, call_id, party_id, "connected")
    party = _party(call, party_id)
    assert (party["kind"], party["mode"], party["login"]) == ("supervisor", "listen", "sue")
    [cmd] = await _commands(b, placed["session_id"], "add_party")
    assert (cmd["party_id"], cmd["mode"]) == (party_id, "listen")
    assert cmd["headers"]["X-Supervise"] == "listen"
    # The supervisor is neither the owner nor an operator on the call.
    assert call["operator"] == "alice"
    assert (await b.operator("sue"))["activity"] == "idle"

    for mode in ("whisper", "barge"):
        resp = await b.client.patch(
            f"/api/v1/calls/{call_id}/parties/{party_id}", json={"mode": mode}, headers=sue
        )
        assert resp.status == 200, await resp.text()
        assert _party(await resp.json(), party_id)["mode"] == mode
    sent = await _commands(b, placed["session_id"], "party_mode")
    assert [(c["party_id"], c["mode"]) for c in sent] == [
        (party_id, "whisper"),
        (party_id, "barge"),
    ]
    # The same mode again changes nothing and sends nothing.
    before = await Snapshot.take(b.store)
    resp = await b.client.patch(
        f"/api/v1/calls/{call_id}/parties/{party_id}", json={"mode": "barge"}, headers=sue
    )
    assert resp.status == 200
    await before.assert_unchanged(b.store)
    assert len(await _commands(b, placed["session_id"], "party_mode")) == 2

    # A helper may still be added: the supervisor counts against no limit (max_parties 3).
    await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    added = await _add(b, call_id, alice, {"type": "operator", "address": "bob"})
    await _party_in(b, call_id, added["party_id"], "connected")

    # The supervisor leaves: the call goes on.
    resp = await b.client.delete(f"/api/v1/calls/{call_id}/parties/{party_id}", headers=sue)
    assert resp.status == 200, await resp.text()
    call = await b.call(call_id)
    assert call["state"] == "connected" and _party(call, party_id)["outcome"] == "left"
    removed = await _commands(b, placed["session_id"], "remove_party")
    assert [c["party_id"] for c in removed] == [party_id]


async def test_a_supervisor_never_keeps_a_call_going(b: Backend) -> None:
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    sue = await _supervisor(b)
    party_id = (await _supervise(b, call_id, sue, {"mode": "listen"}))["party_id"]
    await _party_in(b, call_id, party_id, "connected")
    own = next(p for p in (await b.call(call_id))["parties"] if p.get("login") == "alice")
    # Alice leaves: only the caller and a supervisor are left, so the call ends.
    resp = await b.client.delete(
        f"/api/v1/calls/{call_id}/parties/{own['party_id']}", headers=alice
    )
    assert resp.status == 200, await resp.text()
    call = await call_in_state(b, call_id, "ended")
    assert call["end_reason"] == "parties_left"
    assert _party(call, party_id)["state"] == "left"
    await operator_in(b, "alice", "wrap_up")


async def test_a_supervisor_on_a_call_may_not_click_ready(b: Backend) -> None:
    """Ready while listening would let a customer's call ring them: refused, nothing written,
    and allowed again once they leave."""
    await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    sue = await _supervisor(b)
    party_id = (await _supervise(b, call_id, sue, {"mode": "listen"}))["party_id"]
    await _party_in(b, call_id, party_id, "connected")
    before = await Snapshot.take(b.store)
    resp = await b.client.post("/api/v1/me/status", json={"status": "ready"}, headers=sue)
    assert resp.status == 409, await resp.text()
    err = _error(await resp.json())
    assert err["code"] == "supervising" and call_id in err["message"]
    await before.assert_unchanged(b.store)
    resp = await b.client.delete(f"/api/v1/calls/{call_id}/parties/{party_id}", headers=sue)
    assert resp.status == 200, await resp.text()
    await _party_in(b, call_id, party_id, "left")
    resp = await b.client.post("/api/v1/me/status", json={"status": "ready"}, headers=sue)
    assert resp.status == 200, await resp.text()
    await operator_in(b, "sue", "idle")


async def test_refusals_write_nothing(b: Backend) -> None:
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    sue = await _supervisor(b)
    await b.add_operator("carl")
    carl = await b.login("carl")

    async def refused(auth: dict[str, str], body: Any, status: int, call: str = call_id) -> Any:
        before = await Snapshot.take(b.store)
        resp = await b.client.post(f"/api/v1/calls/{call}/supervise", json=body, headers=auth)
        assert resp.status == status, await resp.text()
        await before.assert_unchanged(b.store)
        assert not await _commands(b, placed["session_id"], "add_party")
        return _error(await resp.json())

    # Operators may not, not even the one on the call.
    assert (await refused(carl, {"mode": "listen"}, 403))["code"] == "forbidden"
    assert (await refused(alice, {"mode": "listen"}, 403))["code"] == "forbidden"
    # Bad mode, missing mode, extra field: 422 (the API's status for bad input) naming the field.
    for body in ({"mode": "spy"}, {}, {"mode": "listen", "x": 1}, {"mode": 3}):
        err = await refused(sue, body, 422)
        assert err["field"] in ("mode", "x"), err
    # The admin token has no media user to dial.
    assert (await refused(b.admin, {"mode": "listen"}, 403))["code"] == "login_required"
    # A call that is not connected: 409 with a code.
    waiting = await b.place_call()
    assert waiting["state"] == "queued"
    err = await refused(sue, {"mode": "listen"}, 409, waiting["call_id"])
    assert err["code"] == "not_connected"
    # A supervisor who is Ready could be offered a call while listening: refused.
    await b.set_status(sue, "ready")
    assert (await refused(sue, {"mode": "listen"}, 409))["code"] == "busy"
    await b.set_status(sue, "not_ready", "meeting")

    # On the call already: 409; on another call: 409.
    party_id = (await _supervise(b, call_id, sue, {"mode": "listen"}))["party_id"]
    await _party_in(b, call_id, party_id, "connected")
    before = await Snapshot.take(b.store)
    resp = await b.client.post(
        f"/api/v1/calls/{call_id}/supervise", json={"mode": "barge"}, headers=sue
    )
    assert resp.status == 409 and _error(await resp.json())["code"] == "already_supervising"
    await before.assert_unchanged(b.store)
    # The waiting call goes to bob once he is Ready.
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    await b.ready_operator("bob")
    other = await call_in_state(b, waiting["call_id"], "connected")
    await operator_in(b, "bob", "in_call")  # the operator's write follows the call's
    before = await Snapshot.take(b.store)
    resp = await b.client.post(
        f"/api/v1/calls/{other['call_id']}/supervise", json={"mode": "listen"}, headers=sue
    )
    assert resp.status == 409 and _error(await resp.json())["code"] == "supervising_elsewhere"
    await before.assert_unchanged(b.store)

    # Switching mode: bad mode 422, an operator 403, another's party 409/403, nothing written.
    path = f"/api/v1/calls/{call_id}/parties/{party_id}"
    own = next(p for p in (await b.call(call_id))["parties"] if p.get("login") == "alice")
    for auth, body, status, code in (
        (sue, {"mode": "loud"}, 422, None),
        (alice, {"mode": "barge"}, 403, "forbidden"),
        (carl, {"mode": "barge"}, 403, "forbidden"),
    ):
        before = await Snapshot.take(b.store)
        resp = await b.client.patch(path, json=body, headers=auth)
        assert resp.status == status, await resp.text()
        if code:
            assert _error(await resp.json())["code"] == code
        else:
            assert _error(await resp.json())["field"] == "mode"
        await before.assert_unchanged(b.store)
    before = await Snapshot.take(b.store)
    resp = await b.client.patch(
        f"/api/v1/calls/{call_id}/parties/{own['party_id']}", json={"mode": "barge"}, headers=sue
    )
    assert resp.status == 409 and _error(await resp.json())["code"] == "not_supervisor"
    await before.assert_unchanged(b.store)
    # The operator may not take the supervisor off the call.
    resp = await b.client.delete(path, headers=alice)
    assert resp.status == 403
    assert not await _commands(b, placed["session_id"], "party_mode")


async def _refusal(action: Coroutine[Any, Any, Any]) -> tuple[int, str, str, str | None]:
    with pytest.raises(DeskError) as refused:
        await action
    e = refused.value
    return e.status, e.code, e.message, e.field


async def test_what_supervising_writes_and_refuses_exactly(b: Backend) -> None:
    """From the service: the supervisor's party and log entries whole, every refusal whole, and
    which call a login supervises."""
    engine = b.engine
    await b.ready_operator("alice")
    first = (await connected_call(b, "alice"))["call_id"]
    await b.ready_operator("bob")
    second = (await connected_call(b, "bob"))["call_id"]
    sue_auth = await _supervisor(b)
    await _supervisor(b, "ted")
    sue, ted = Actor("sue", True), Actor("ted", True)
    listen, whisper = SuperviseMode.LISTEN, SuperviseMode.WHISPER
    only = "only supervisors and administrators may supervise"
    for action, error in (
        (
            supervise.supervise(engine, first, Actor("alice", False), listen),
            (403, "forbidden", only),
        ),
        (
            supervise.set_mode(engine, first, "p", Actor("alice", False), listen),
            (403, "forbidden", only),
        ),
        (
            supervise.supervise(engine, first, Actor(None, True), listen),
            (403, "login_required", "supervising dials your own media user: log in as yourself"),
        ),
        (
            supervise.supervise(engine, first, Actor("ghost", True), listen),
            (403, "forbidden", "ghost has no media user to dial"),
        ),
    ):
        assert await _refusal(action) == (*error, None)
    assert await _refusal(supervise.supervise(engine, "nope", sue, listen)) == (
        404,
        "not_found",
        "no call nope",
        "call_id",
    )
    await b.set_status(sue_auth, "ready")
    assert await _refusal(supervise.supervise(engine, first, sue, listen)) == (
        409,
        "busy",
        "you are ready: be Not ready and off calls to supervise",
        None,
    )
    await b.set_status(sue_auth, "not_ready", "meeting")
    # On a call (as another process would have written it): busy too, saying so.
    await b.store.operators.update_one({"_id": "sue"}, {"$set": {"activity": "in_call"}})
    assert await _refusal(supervise.supervise(engine, first, sue, listen)) == (
        409,
        "busy",
        "you are in_call: be Not ready and off calls to supervise",
        None,
    )
    await b.store.operators.update_one({"_id": "sue"}, {"$set": {"activity": "idle"}})

    party_id = await supervise.supervise(engine, first, sue, listen)
    doc = await b.store.call_doc(first)
    assert doc is not None
    [entry] = [e for e in doc["log"] if e["kind"] == "supervisor_joined"]
    at = entry["at"]
    assert entry == {
        "at": at,
        "kind": "supervisor_joined",
        "party_id": party_id,
        "login": "sue",
        "mode": "listen",
    }
    policy = engine.settings.policy("default")
    call = await engine.call(first, fresh=True)
    assert call is not None
    assert call.party(party_id) == CallParty(
        party_id=party_id,
        kind=PartyKind.SUPERVISOR,
        address=Address(TargetType.USER, "sue"),
        state=PartyState.DIALING,
        created_at=at,
        login="sue",
        requested_by="sue",
        expires_at=at + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s),
        mode=listen,
    )
    # Which call each login supervises: bob is an operator on his, not a supervisor.
    assert [await supervise.supervising(engine, x) for x in ("sue", "ted", "bob")] == [
        first,
        None,
        None,
    ]
    assert await _refusal(supervise.supervise(engine, first, sue, whisper)) == (
        409,
        "already_supervising",
        "sue supervises this call already",
        None,
    )
    assert await _refusal(supervise.supervise(engine, second, sue, listen)) == (
        409,
        "supervising_elsewhere",
        f"you supervise call {first}: leave it first",
        None,
    )
    teds = await supervise.supervise(engine, second, ted, listen)

    # Switching mode: one entry, the party's mode; refusals whole.
    await supervise.set_mode(engine, first, party_id, sue, whisper)
    doc = await b.store.call_doc(first)
    assert doc is not None
    [entry] = [e for e in doc["log"] if e["kind"] == "supervisor_mode"]
    assert entry == {
        "at": entry["at"],
        "kind": "supervisor_mode",
        "party_id": party_id,
        "mode": "whisper",
        "by": "sue",
    }
    call = await engine.call(first, fresh=True)
    assert call is not None
    mine = call.party(party_id)
    assert mine is not None and mine.mode is whisper
    own = next(p.party_id for p in call.parties if p.login == "alice")
    switches: tuple[tuple[Coroutine[Any, Any, Any], tuple[int, str, str, str | None]], ...] = (
        (
            supervise.set_mode(engine, "nope", party_id, sue, listen),
            (404, "not_found", "no call nope", "call_id"),
        ),
        (
            supervise.set_mode(engine, first, "nope", sue, listen),
            (404, "unknown_party", f"call {first} has no party nope", "party_id"),
        ),
        (
            supervise.set_mode(engine, second, teds, sue, listen),
            (403, "forbidden", f"party {teds} is another supervisor's", None),
        ),
        (
            supervise.set_mode(engine, first, own, sue, listen),
            (409, "not_supervisor", f"party {own} is not a supervisor's", None),
        ),
    )
    for switch, refused in switches:
        assert await _refusal(switch) == refused
    # Only a supervisor takes a supervisor off a call; once sue's leg has left, she
    # supervises nothing.
    assert await _refusal(parties.remove_party(engine, first, party_id, Actor("alice", False))) == (
        403,
        "forbidden",
        "only supervisors may take a supervisor off a call",
        None,
    )
    await parties.remove_party(engine, first, party_id, sue)
    assert await supervise.supervising(engine, "sue") is None
