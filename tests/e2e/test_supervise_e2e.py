"""Listen, whisper, barge end to end: the real scenario routes the supervisor's leg with
one-way media in the emulator (who hears whom read from the emulator's snapshot, `hears`),
the real backend decides. Every wait is on an event: the session or the backend's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveBackend
from tests.e2e.emulator import EmulatorClient, Session
from tests.e2e.test_calls_e2e import assert_clean, call_state
from tests.e2e.test_parties_e2e import _answered_by_alice, _party, _party_state
from tests.support.waiting import eventually


async def _supervisor(backend: LiveBackend, login: str) -> dict[str, str]:
    await backend._json(
        "PUT",
        f"/api/v1/operators/{login}",
        (200, 201),
        headers=backend.admin,
        json={
            "name": login.title(),
            "password": "password-1",
            "role": "supervisor",
            "address": {"type": "user", "address": login},
            "groups": [{"name": "default", "level": 1}],
        },
    )
    reply = await backend._json(
        "POST", "/api/v1/auth/login", (200,), json={"login": login, "password": "password-1"}
    )
    return {"Authorization": f"Bearer {reply['token']}"}


async def _hearing(session: Session, expected: dict[str, set[str]]) -> dict[str, Any]:
    """Waits until each leg (by address; "caller" for the caller) hears exactly those legs."""

    async def probe() -> dict[str, Any] | None:
        snap = await session.snapshot()
        live = [leg for leg in snap["legs"] if leg["state"] != "TERMINATED"]
        name = {
            leg["id"]: ("caller" if leg["direction"] == "in" else leg["address"]) for leg in live
        }
        hears = {name[leg["id"]]: {name.get(i, i) for i in leg["hears"]} for leg in live}
        return snap if all(hears.get(k) == v for k, v in expected.items()) else None

    return await eventually(probe, timeout=15, message=f"who hears whom: {expected}")


async def test_listen_whisper_barge_leave(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session, call_id, alice = await _answered_by_alice(emulator, live_backend, scenarios)
    await emulator.script_callee("sue", "answer", after_ms=50)
    sue = await _supervisor(live_backend, "sue")

    # Listen: sue hears the caller and alice; nobody hears sue.
    reply = await live_backend._json(
        "POST", f"/api/v1/calls/{call_id}/supervise", (202,), headers=sue, json={"mode": "listen"}
    )
    party_id = reply["party_id"]
    dialled = await session.wait("dialled", {"address": "sue"})
    assert dialled["headers"]["X-Supervise"] == "listen"
    assert dialled["headers"]["X-Call-Id"] == call_id
    call = await _party_state(live_backend, call_id, party_id, "connected")
    sup = _party(call, party_id)
    assert (sup["kind"], sup["mode"], sup["login"]) == ("supervisor", "listen", "sue")
    await _hearing(session, {"sue": {"caller", "alice"}, "caller": {"alice"}, "alice": {"caller"}})

    # Whisper on the same leg: alice hears sue, the caller still does not.
    await live_backend._json(
        "PATCH",
        f"/api/v1/calls/{call_id}/parties/{party_id}",
        (200,),
        headers=sue,
        json={"mode": "whisper"},
    )
    await _hearing(
        session, {"sue": {"caller", "alice"}, "caller": {"alice"}, "alice": {"caller", "sue"}}
    )
    assert _party(await live_backend.call(call_id), party_id)["mode"] == "whisper"
    # On hold nobody hears the caller (who hears the music); alice and sue still hear each other.
    await live_backend._json("POST", f"/api/v1/calls/{call_id}/hold", (200,), headers=alice)
    await _hearing(session, {"sue": {"alice"}, "caller": set(), "alice": {"sue"}})
    await live_backend._json("POST", f"/api/v1/calls/{call_id}/unhold", (200,), headers=alice)
    await _hearing(
        session, {"sue": {"caller", "alice"}, "caller": {"alice"}, "alice": {"caller", "sue"}}
    )

    # Barge: everyone hears everyone.
    await live_backend._json(
        "PATCH",
        f"/api/v1/calls/{call_id}/parties/{party_id}",
        (200,),
        headers=sue,
        json={"mode": "barge"},
    )
    await _hearing(
        session,
        {"sue": {"caller", "alice"}, "caller": {"alice", "sue"}, "alice": {"caller", "sue"}},
    )

    # Sue leaves: her leg ends, the caller and alice talk on; the call is alice's still.
    await live_backend._json(
        "DELETE", f"/api/v1/calls/{call_id}/parties/{party_id}", (200,), headers=sue
    )
    await _hearing(session, {"caller": {"alice"}, "alice": {"caller"}})
    call = await call_state(live_backend, call_id, state="connected", operator="alice")
    assert _party(call, party_id)["outcome"] == "left"
    snap = await session.snapshot()
    assert next(leg for leg in snap["legs"] if leg["address"] == "sue")["state"] == "TERMINATED"

    # The call ends as ever when the caller hangs up.
    await session.hangup_caller()
    await session.wait("terminated")
    await call_state(live_backend, call_id, state="ended")
    await assert_clean(session)
