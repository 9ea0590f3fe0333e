"""'Your manager' end to end: the real inbound scenario in the emulator, real backend processes.

A contact's manager gets their call first, is waited for while busy (up to [manager] wait_s),
is explained away when absent; after a call the caller is asked (speech or keys) whether the
operator should answer their calls from now on. Every wait is on an event or a deadline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import (
    LiveBackend,
    MakeLiveBackend,
    registered_call_id,
    scenarios_for,
)
from tests.e2e.emulator import EmulatorClient, Session
from tests.support.waiting import eventually

CALLER = "+15551230001"
OTHER_CALLER = "+15550009999"
MANAGER_CONFIG = """
[manager]
wait_s = 2
pin_timeout_s = 3
absent_text = "Your manager {name} is away until {until}. Another specialist will help you."
"""


async def call_state(backend: LiveBackend, call_id: str, **expected: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if all(call.get(k) == v for k, v in expected.items()) else None

    found = await eventually(probe, timeout=15, message=f"call {call_id} with {expected}")
    assert found is not None
    return found


async def set_manager(backend: LiveBackend, phone: str, login: str | None) -> None:
    await backend._json(
        "PUT",
        f"/api/v1/contacts/{phone}/manager",
        (200,),
        headers=backend.admin,
        json={"manager": login},
    )


async def idle(backend: LiveBackend, login: str) -> None:
    async def probe() -> bool:
        return bool((await backend.operator(login))["activity"] == "idle")

    await eventually(probe, timeout=10, message=f"{login} idle")


async def connected_call(
    emulator: EmulatorClient, backend: LiveBackend, scenarios: list[Path], caller: str, op: str
) -> tuple[Session, str]:
    """A call from `caller` that `op` answers and keeps."""
    session = await emulator.place_call(scenarios, callerid=caller)
    call_id = await registered_call_id(session, backend)
    await session.wait("dialled", {"address": op})
    await session.wait("bridged")
    await call_state(backend, call_id, state="connected", operator=op)
    return session, call_id


async def dialled(session: Session) -> list[str]:
    return [str(e["address"]) for e in await session.entries("dialled")]


async def end_clean(session: Session) -> None:
    if (await session.snapshot())["phase"] != "terminated":
        await session.hangup_caller()
    await session.wait("terminated")
    assert await session.problems() == []


async def test_ready_manager_gets_their_caller(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(MANAGER_CONFIG)
    for op in ("olive", "manny"):
        await emulator.script_callee(op, "answer", after_ms=50)
    # olive has been idle longest: the group alone would pick her.
    await backend.ready_operator("olive")
    await backend.ready_operator("manny")
    await set_manager(backend, CALLER, "manny")

    session, call_id = await connected_call(
        emulator, backend, scenarios_for(tmp_path, backend), CALLER, "manny"
    )
    assert await dialled(session) == ["manny"]
    assert (await backend.call(call_id))["manager"] == "manny"
    await end_clean(session)


async def caller_of_busy_manny(
    emulator: EmulatorClient, backend: LiveBackend, tmp_path: Path
) -> tuple[Session, Session, str]:
    """Manny on another call, olive Ready, and a call from manny's own contact arriving."""
    scenarios = scenarios_for(tmp_path, backend)
    for op in ("manny", "olive"):
        await emulator.script_callee(op, "answer", after_ms=50)
    await backend.ready_operator("manny")
    first, _ = await connected_call(emulator, backend, scenarios, OTHER_CALLER, "manny")
    await backend.ready_operator("olive")
    await set_manager(backend, CALLER, "manny")
    session = await emulator.place_call(scenarios, callerid=CALLER)
    return first, session, await registered_call_id(session, backend)


async def test_busy_manager_then_free_gets_the_waiting_caller(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend("[manager]\nwait_s = 30\npin_enabled = false\n")
    first, session, call_id = await caller_of_busy_manny(emulator, backend, tmp_path)
    waiting = await call_state(backend, call_id, state="queued", waits_for="manny")
    assert waiting["manager"] == "manny"
    assert (await backend.operator("olive"))["activity"] == "idle", "olive may not take it"

    await first.hangup_leg("manny")  # manny's first call ends; wrap-up is 0 s
    await first.wait("terminated")
    await session.wait("dialled", {"address": "manny"})
    await session.wait("bridged")
    await call_state(backend, call_id, state="connected", operator="manny")
    assert await dialled(session) == ["manny"]
    await end_clean(session)


async def test_busy_manager_past_wait_s_the_group_takes_it(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(MANAGER_CONFIG)
    first, session, call_id = await caller_of_busy_manny(emulator, backend, tmp_path)
    await call_state(backend, call_id, state="queued", waits_for="manny")
    # After wait_s (2 s) the group's operator gets it, though manny is still busy.
    await session.wait("dialled", {"address": "olive"}, timeout=10)
    await session.wait("bridged")
    call = await call_state(backend, call_id, state="connected", operator="olive")
    assert call["manager"] == "manny"
    assert (await backend.operator("manny"))["activity"] == "in_call"
    assert await dialled(session) == ["olive"]
    await end_clean(session)
    await end_clean(first)


async def test_absent_manager_is_explained_and_the_group_takes_it_at_once(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(MANAGER_CONFIG)
    await emulator.script_callee("olive", "answer", after_ms=50)
    await backend.ready_operator("manny")
    await backend.ready_operator("olive")
    await backend._json(
        "PUT",
        "/api/v1/operators/manny/absence",
        (200,),
        headers=backend.admin,
        json={"reason": "vacation", "until": "2099-12-31"},
    )
    await set_manager(backend, CALLER, "manny")

    session = await emulator.place_call(scenarios_for(tmp_path, backend), callerid=CALLER)
    call_id = await registered_call_id(session, backend)
    said = await session.wait("said", {"text": {"$contains": "Your manager Manny is away until"}})
    assert "December 31" in said["text"] and "Another specialist will help you." in said["text"]
    registered = await session.wait("http_response", {"url": f"{backend.url}/api/v1/calls"})
    offered = await session.wait("dialled", {"address": "olive"})
    # At once: well under the 2 s a busy manager would be waited for.
    assert offered["t"] - registered["t"] < 1500
    await session.wait("bridged")
    call = await call_state(backend, call_id, state="connected", operator="olive")
    assert call["waits_for"] is None
    assert await dialled(session) == ["olive"]
    await end_clean(session)


async def served_by_penny_then_asked(
    emulator: EmulatorClient, backend: LiveBackend, scenarios: list[Path]
) -> tuple[Session, str, str]:
    """CALLER (no manager) talks to penny; penny hangs up; the scenario asks the pin question.
    Returns the session, the call id and the recogniser listening to the caller."""
    await emulator.script_callee("penny", "answer", after_ms=50)
    await emulator.script_callee("olive", "answer", after_ms=50)
    await backend.ready_operator("penny")
    session, call_id = await connected_call(emulator, backend, scenarios, CALLER, "penny")
    # olive becomes Ready now: once penny is free again, olive has been idle longer.
    await backend.ready_operator("olive")
    await session.hangup_leg("penny")
    question = await session.wait("said", {"text": {"$contains": "answer your calls from now on"}})
    assert "Penny" in question["text"]
    created = await session.wait("asr_created", after=question["seq"])
    await session.wait("media", {"to": created["asr"]})
    return session, call_id, str(created["asr"])


async def pin_answer_logged(backend: LiveBackend, call_id: str) -> str:
    async def probe() -> str | None:
        log = (await backend.call(call_id)).get("log", [])
        answers = [e.get("answer") for e in log if e.get("type") == "manager_pin_answer"]
        return str(answers[-1]) if answers else None

    answer = await eventually(probe, timeout=10, message="manager_pin_answer in the call log")
    assert answer is not None
    return answer


async def test_pin_yes_by_voice_makes_the_operator_the_manager(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(MANAGER_CONFIG)
    scenarios = scenarios_for(tmp_path, backend)
    session, call_id, asr = await served_by_penny_then_asked(emulator, backend, scenarios)

    assert await session.say("Yes, please", confidence=0.93) == [asr]
    await session.wait("asr_stopped", {"asr": asr})
    await session.wait("said", {"text": {"$contains": "Goodbye"}})
    await session.wait("terminated")
    assert await pin_answer_logged(backend, call_id) == "yes"
    assert await session.problems() == []

    # The next call from the same number goes to penny, although olive has been idle longer.
    await idle(backend, "penny")
    again, again_id = await connected_call(emulator, backend, scenarios, CALLER, "penny")
    assert (await backend.call(again_id))["manager"] == "penny"
    await again.hangup_leg("penny")
    # A caller with a manager is not asked again.
    await again.wait("said", {"text": {"$contains": "Goodbye"}})
    assert not [e for e in await again.entries("said") if "from now on" in e["text"]]
    await again.wait("terminated")
    assert await again.problems() == []


async def test_pin_no_by_keys_leaves_the_caller_without_a_manager(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(MANAGER_CONFIG)
    scenarios = scenarios_for(tmp_path, backend)
    session, call_id, asr = await served_by_penny_then_asked(emulator, backend, scenarios)

    assert await session.press("2") == "2"
    await session.wait("asr_stopped", {"asr": asr})
    await session.wait("terminated")
    assert await pin_answer_logged(backend, call_id) == "no"
    assert await session.problems() == []

    # No manager: the next call goes to the group's longest idle operator, olive.
    await idle(backend, "penny")
    again, again_id = await connected_call(emulator, backend, scenarios, CALLER, "olive")
    assert (await backend.call(again_id))["manager"] is None
    await end_clean(again)
