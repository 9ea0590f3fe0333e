"""Calls with more than two parties end to end: the real scenario mixes three legs in a
conference (Modules.Conference) in the emulator, the real backend decides.

Every wait is on an event: the session log or the backend's recorded state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveBackend, MakeLiveBackend, registered_call_id, scenarios_for
from tests.e2e.emulator import EmulatorClient, Session
from tests.e2e.test_calls_e2e import assert_clean, call_state, caller_leg
from tests.support.waiting import eventually

NUMBER = "+15557770001"


async def _operator(
    backend: LiveBackend, login: str, groups: list[str] | None = None
) -> dict[str, str]:
    """A Ready operator in the given groups (default: the default group)."""
    await backend._json(
        "PUT",
        f"/api/v1/operators/{login}",
        (200, 201),
        headers=backend.admin,
        json={
            "name": login.title(),
            "password": "password-1",
            "address": {"type": "user", "address": login},
            "groups": [{"name": g, "level": 1} for g in (groups or ["default"])],
        },
    )
    reply = await backend._json(
        "POST", "/api/v1/auth/login", (200,), json={"login": login, "password": "password-1"}
    )
    auth = {"Authorization": f"Bearer {reply['token']}"}
    await backend._json("POST", "/api/v1/me/status", (200,), headers=auth, json={"status": "ready"})
    return auth


async def _answered_by_alice(
    emulator: EmulatorClient, backend: LiveBackend, scenarios: list[Path]
) -> tuple[Session, str, dict[str, str]]:
    await emulator.script_callee("alice", "answer", after_ms=50)
    alice = await _operator(backend, "alice")
    session = await emulator.place_call(scenarios, callerid="+15551110009")
    call_id = await registered_call_id(session, backend)
    await session.wait("bridged")
    await call_state(backend, call_id, state="connected", operator="alice")
    return session, call_id, alice


async def _add(
    backend: LiveBackend, call_id: str, auth: dict[str, str], kind: str, address: str
) -> str:
    body = await backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/parties",
        (202,),
        headers=auth,
        json={"to": {"type": kind, "address": address}},
    )
    return str(body["party_id"])


def _party(call: dict[str, Any], party_id: str) -> dict[str, Any]:
    return next(p for p in call["parties"] if p["party_id"] == party_id)


async def _party_state(
    backend: LiveBackend, call_id: str, party_id: str, state: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if _party(call, party_id)["state"] == state else None

    return await eventually(probe, timeout=20, message=f"party {party_id} {state}")


async def _in_conference(session: Session, addresses: list[str]) -> dict[str, Any]:
    """Waits until the caller and the legs dialled to `addresses` all hear one mix."""

    async def probe() -> dict[str, Any] | None:
        snap = await session.snapshot()
        if not snap["conferences"]:
            return None
        conf = snap["conferences"][0]
        legs = [leg for leg in snap["legs"] if leg["state"] != "TERMINATED"]
        wanted = [leg for leg in legs if leg["direction"] == "in" or leg["address"] in addresses]
        if len(wanted) != len(addresses) + 1:
            return None
        hearing = {"kind": "conference", "from": conf["id"]}
        if all(leg["hearing"] == hearing and leg["id"] in conf["inputs"] for leg in wanted):
            return snap
        return None

    return await eventually(probe, timeout=15, message=f"caller and {addresses} in the mix")


async def test_help_from_an_operator_then_one_of_three_leaves_and_two_talk_on(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("bob", "answer", after_ms=50)
    bob = await _operator(live_backend, "bob")
    party_id = await _add(live_backend, call_id, alice, "operator", "bob")
    dialled = await session.wait("dialled", {"address": "bob"})
    assert dialled["headers"]["X-Party-Id"] == party_id
    await _party_state(live_backend, call_id, party_id, "connected")
    await session.wait("conference_created")
    await _in_conference(session, ["alice", "bob"])

    # Alice leaves (her own party): the caller and bob keep talking in the mix.
    call = await live_backend.call(call_id)
    own = next(p for p in call["parties"] if p.get("login") == "alice")["party_id"]
    await live_backend._json(
        "DELETE", f"/api/v1/calls/{call_id}/parties/{own}", (200,), headers=alice
    )
    snap = await _in_conference(session, ["bob"])
    alice_leg = next(leg for leg in snap["legs"] if leg["address"] == "alice")
    assert alice_leg["state"] == "TERMINATED"
    call = await call_state(live_backend, call_id, state="connected", operator="bob")
    assert _party(call, own)["outcome"] == "left"

    # Bob hangs up on his side, the last one with the caller: goodbye, the call ends.
    await session.hangup_leg("bob")
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert all(p["state"] == "left" for p in call["parties"])
    assert (await live_backend.operator("bob"))["activity"] in ("wrap_up", "idle")
    assert bob
    await assert_clean(session)


async def test_help_from_a_group_and_a_party_that_does_not_answer(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("sam", "busy")
    await _operator(live_backend, "sam", ["sales"])
    party_id = await _add(live_backend, call_id, alice, "group", "sales")
    await session.wait("dialled", {"address": "sam"})
    call = await _party_state(live_backend, call_id, party_id, "left")
    party = _party(call, party_id)
    assert (party["login"], party["outcome"], party["code"]) == ("sam", "no_answer", 486)
    # Reported on the card; the call goes on, alice and the caller still bridged.
    assert call["state"] == "connected" and call["operator"] == "alice"
    assert (await caller_leg(session))["hearing"]["kind"] == "call"

    await emulator.script_callee("sue", "answer", after_ms=50)
    await _operator(live_backend, "sue", ["sales"])
    again = await _add(live_backend, call_id, alice, "group", "sales")
    call = await _party_state(live_backend, call_id, again, "connected")
    assert _party(call, again)["login"] == "sue"
    await _in_conference(session, ["alice", "sue"])
    # The caller hangs up: alice and sue talk on (seed 002) until one of them hangs up.
    await session.hangup_caller()
    await call_state(live_backend, call_id, state="connected", operator="alice")
    await session.hangup_leg("sue")
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert call["hung_up_by"] == "caller" and call["caller_left_at"]
    await assert_clean(session)


async def test_help_from_a_number_and_hold(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    # Hold: the caller hears the music, alice hears nothing from the caller.
    await live_backend._json("POST", f"/api/v1/calls/{call_id}/hold", (200,), headers=alice)
    await session.wait("played", {"url": {"$contains": "hold-music"}, "loop": True})
    snap = await session.snapshot()
    alice_leg = next(leg for leg in snap["legs"] if leg["address"] == "alice")
    assert alice_leg["hearing"] is None
    assert (await live_backend.call(call_id))["parties"][0]["state"] == "held"
    await live_backend._json("POST", f"/api/v1/calls/{call_id}/unhold", (200,), headers=alice)
    await session.wait("bridged", after=snap["log"][-1]["seq"])
    call = await live_backend.call(call_id)
    assert call["parties"][0]["state"] == "connected" and call["hold_s"] > 0

    await emulator.script_callee(NUMBER, "answer", after_ms=50)
    party_id = await _add(live_backend, call_id, alice, "number", NUMBER)
    dialled = await session.wait("dialled", {"address": NUMBER})
    assert dialled["type"] == "pstn"
    call = await _party_state(live_backend, call_id, party_id, "connected")
    assert _party(call, party_id)["kind"] == "external"
    await _in_conference(session, ["alice", NUMBER])
    # The number hangs up: alice and the caller go on, then the caller hangs up.
    await session.hangup_leg(NUMBER)
    await _party_state(live_backend, call_id, party_id, "left")
    await session.hangup_caller()
    await session.wait("terminated")
    await call_state(live_backend, call_id, state="ended")
    await assert_clean(session)


async def test_the_caller_hangs_up_while_a_helper_rings(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("bob", "no_answer")
    await _operator(live_backend, "bob")
    before = await live_backend.operator("bob")
    party_id = await _add(live_backend, call_id, alice, "operator", "bob")
    await session.wait("dialled", {"address": "bob"})
    await session.hangup_caller()
    await session.wait("terminated")
    snap = await session.snapshot()
    bob_leg = next(leg for leg in snap["legs"] if leg["address"] == "bob")
    assert bob_leg["state"] == "TERMINATED"  # the helper's leg was cancelled
    call = await call_state(live_backend, call_id, state="ended")
    assert _party(call, party_id)["outcome"] == "cancelled"

    async def freed() -> dict[str, Any] | None:
        op = await live_backend.operator("bob")
        return op if op["activity"] == "idle" else None

    bob = await eventually(freed, timeout=15, message="bob freed")
    assert bob["misses_in_row"] == 0 and bob["scores"]["misses"] == 0
    assert bob["scores"]["offers"] == before["scores"]["offers"]
    await assert_clean(session)


async def test_blind_transfer_whose_target_does_not_answer_goes_back_to_the_head(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    # A missed offer pauses bob for a minute, so nobody takes the call back meanwhile.
    live_backend = await make_live_backend("[routing]\nno_answer_delay_s = 60\n")
    scenarios = scenarios_for(tmp_path, live_backend)
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    # Alice stays on her call but takes no new one (her wrap-up here is 0 s).
    await live_backend._json(
        "POST",
        "/api/v1/me/status",
        (200,),
        headers=alice,
        json={"status": "not_ready", "reason": "break"},
    )
    later = await emulator.place_call(scenarios, callerid="+15551110010")
    later_id = await registered_call_id(later, live_backend)
    await call_state(live_backend, later_id, state="queued")
    await emulator.script_callee("bob", "busy")
    await _operator(live_backend, "bob", ["sales"])
    await live_backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/transfer",
        (202,),
        headers=alice,
        json={"to": {"type": "operator", "address": "bob"}, "mode": "blind", "reason": "billing"},
    )
    await session.wait("dialled", {"address": "bob"})
    call = await call_state(live_backend, call_id, state="queued", attempts=2)
    assert call["position"] == 1
    assert (await live_backend.call(later_id))["position"] == 2
    # The caller waits with music again; alice's leg is gone.
    await session.wait("played", {"url": {"$contains": "hold-music"}})
    snap = await session.snapshot()
    assert next(leg for leg in snap["legs"] if leg["address"] == "alice")["state"] == "TERMINATED"
    await session.hangup_caller()
    await later.hangup_caller()
    await session.wait("terminated")
    await later.wait("terminated")
    await assert_clean(session)


async def test_consult_transfer_completed(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("bob", "answer", after_ms=50)
    bob = await _operator(live_backend, "bob")
    reply = await live_backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/transfer",
        (202,),
        headers=alice,
        json={"to": {"type": "operator", "address": "bob"}, "mode": "consult", "reason": "expert"},
    )
    party_id = reply["party_id"]
    await _party_state(live_backend, call_id, party_id, "connected")
    await _in_conference(session, ["alice", "bob"])
    call = await live_backend.call(call_id)
    own = next(p for p in call["parties"] if p.get("login") == "alice")["party_id"]
    await live_backend._json(
        "DELETE", f"/api/v1/calls/{call_id}/parties/{own}", (200,), headers=alice
    )
    await call_state(live_backend, call_id, state="connected", operator="bob")
    await _in_conference(session, ["bob"])
    card = await live_backend._json("GET", f"/api/v1/calls/{call_id}/card", (200,), headers=bob)
    notes = [n["text"] for n in card["call"]["notes"]]
    assert notes == ["transferred by alice to bob: expert"]
    await session.hangup_caller()
    await session.wait("terminated")
    await assert_clean(session)
