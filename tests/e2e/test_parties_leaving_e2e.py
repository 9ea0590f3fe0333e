"""Who leaves a call with more than two parties, end to end, with the real scenario in the
emulator: the caller (seed 002: "If one party hangs up, the other two parties can still talk
with each other" — the conference stays up with the legs left, the backend keeps the call until
one party is left), and the owner handing the call over blind while a helper is on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveBackend
from tests.e2e.emulator import EmulatorClient, Session
from tests.e2e.test_calls_e2e import assert_clean, call_state
from tests.e2e.test_parties_e2e import (
    NUMBER,
    _add,
    _answered_by_alice,
    _in_conference,
    _operator,
    _party,
    _party_state,
)
from tests.support.waiting import eventually


async def _talk_on_without_caller(session: Session, addresses: list[str]) -> dict[str, Any]:
    """Waits until the caller's leg is gone and the legs dialled to `addresses` still hear
    one another in the conference."""

    async def probe() -> dict[str, Any] | None:
        snap = await session.snapshot()
        caller = next(leg for leg in snap["legs"] if leg["direction"] == "in")
        if caller["state"] != "TERMINATED" or not snap["conferences"]:
            return None
        conf = snap["conferences"][0]
        legs = [leg for leg in snap["legs"] if leg["address"] in addresses]
        hearing = {"kind": "conference", "from": conf["id"]}
        alive = [leg for leg in legs if leg["state"] != "TERMINATED"]
        if len(alive) != len(addresses) or caller["id"] in conf["inputs"]:
            return None
        if all(leg["hearing"] == hearing and leg["id"] in conf["inputs"] for leg in alive):
            return snap
        return None

    return await eventually(probe, timeout=15, message=f"{addresses} talk on without the caller")


async def _caller_left(backend: LiveBackend, call_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if call["parties"][0]["state"] == "left" else None

    return await eventually(probe, timeout=15, message="the caller left")


async def test_the_caller_hangs_up_and_the_two_operators_talk_on_until_one_leaves(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("bob", "answer", after_ms=50)
    await _operator(live_backend, "bob")
    party_id = await _add(live_backend, call_id, alice, "operator", "bob")
    await _party_state(live_backend, call_id, party_id, "connected")
    await _in_conference(session, ["alice", "bob"])

    await session.hangup_caller()
    await _talk_on_without_caller(session, ["alice", "bob"])
    call = await _caller_left(live_backend, call_id)
    caller = call["parties"][0]
    assert (caller["outcome"], call["state"], call["operator"]) == ("hung_up", "connected", "alice")
    assert caller["left_at"] == call["caller_left_at"] is not None
    assert [p["state"] for p in call["parties"][1:]] == ["connected", "connected"]
    for login in ("alice", "bob"):
        assert (await live_backend.operator(login))["activity"] == "in_call"
    # Nothing more can be done for a caller who is gone.
    body = await live_backend._json(
        "POST", f"/api/v1/calls/{call_id}/hold", (409,), headers=alice, json={}
    )
    assert body["error"]["code"] == "caller_left"

    # Bob hangs up: alice is alone, the session ends, the call ends answered, both wrap up.
    await session.hangup_leg("bob")
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert (call["outcome"], call["hung_up_by"], call["end_reason"]) == (
        "answered",
        "caller",
        "parties_left",
    )
    assert [(p.get("login"), p["outcome"]) for p in call["parties"]] == [
        (None, "hung_up"),
        ("alice", "call_ended"),
        ("bob", "hung_up"),
    ]
    for login in ("alice", "bob"):
        assert (await live_backend.operator(login))["activity"] in ("wrap_up", "idle")
    snap = await session.snapshot()
    assert all(leg["state"] == "TERMINATED" for leg in snap["legs"])
    await assert_clean(session)


async def test_the_caller_hangs_up_and_the_owner_leaves_the_number_on_request(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee(NUMBER, "answer", after_ms=50)
    party_id = await _add(live_backend, call_id, alice, "number", NUMBER)
    await _party_state(live_backend, call_id, party_id, "connected")
    await _in_conference(session, ["alice", NUMBER])
    await session.hangup_caller()
    await _talk_on_without_caller(session, ["alice", NUMBER])
    call = await _caller_left(live_backend, call_id)

    # Alice leaves with DELETE: one party left, so the call ends and the number is hung up.
    own = next(p for p in call["parties"] if p.get("login") == "alice")["party_id"]
    await live_backend._json(
        "DELETE", f"/api/v1/calls/{call_id}/parties/{own}", (200,), headers=alice
    )
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert (call["outcome"], call["end_reason"]) == ("answered", "parties_left")
    assert _party(call, own)["outcome"] == "left"
    assert _party(call, party_id)["outcome"] == "call_ended"
    snap = await session.snapshot()
    number_leg = next(leg for leg in snap["legs"] if leg["address"] == NUMBER)
    assert number_leg["state"] == "TERMINATED"
    await assert_clean(session)


async def test_the_caller_hangs_up_with_one_operator_and_the_call_ends_as_before(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, _ = await _answered_by_alice(emulator, live_backend, scenarios)
    await session.hangup_caller()
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert (call["outcome"], call["hung_up_by"], call["caller_left_at"]) == (
        "answered",
        "caller",
        None,
    )
    await assert_clean(session)


async def test_blind_transfer_with_a_helper_present_keeps_the_helper_with_the_caller(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("bob", "answer", after_ms=50)
    await _operator(live_backend, "bob")
    helper = await _add(live_backend, call_id, alice, "operator", "bob")
    await _party_state(live_backend, call_id, helper, "connected")
    await _in_conference(session, ["alice", "bob"])

    await emulator.script_callee("carl", "answer", after_ms=300)
    await _operator(live_backend, "carl")
    reply = await live_backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/transfer",
        (202,),
        headers=alice,
        json={"to": {"type": "operator", "address": "carl"}, "mode": "blind", "reason": "vip"},
    )
    # Alice's leg is hung up at once; the caller and bob keep talking while carl rings.
    snap = await _in_conference(session, ["bob"])
    assert next(leg for leg in snap["legs"] if leg["address"] == "alice")["state"] == "TERMINATED"
    await session.wait("dialled", {"address": "carl"})
    call = await _party_state(live_backend, call_id, reply["party_id"], "connected")
    assert call["operator"] == "carl"
    await _in_conference(session, ["bob", "carl"])
    assert (await live_backend.operator("alice"))["activity"] in ("wrap_up", "idle")
    await session.hangup_leg("bob")
    await _party_state(live_backend, call_id, helper, "left")
    await session.hangup_caller()
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert call["outcome"] == "answered"
    await assert_clean(session)
