"""Calls end to end: the real inbound scenario in the VoxEngine emulator, real backend processes.

The emulator plays the caller and the operators' phones (scripted per operator login); the
backend decides. Every wait is on an event: the session log or the backend's recorded state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LiveBackend, registered_call_id
from tests.e2e.emulator import EmulatorClient, Session, write_scenario_config
from tests.support.waiting import eventually


async def call_state(backend: LiveBackend, call_id: str, **expected: Any) -> dict[str, Any]:
    """Waits until the backend's call has the expected fields; returns it."""

    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if all(call.get(k) == v for k, v in expected.items()) else None

    call = await eventually(probe, timeout=15, message=f"call {call_id} with {expected}")
    assert call is not None
    return call


async def caller_leg(session: Session) -> dict[str, Any]:
    legs: list[dict[str, Any]] = (await session.snapshot())["legs"]
    return next(leg for leg in legs if leg["direction"] == "in")


async def assert_clean(session: Session) -> None:
    assert await session.problems() == []


async def test_caller_reaches_a_ready_operator(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    await emulator.script_callee("alice", "answer", after_ms=100)
    await live_backend.ready_operator("alice")

    session = await emulator.place_call(scenarios, callerid="+15551110001")
    call_id = await registered_call_id(session, live_backend)
    dialled = await session.wait("dialled", {"address": "alice"})
    assert dialled["type"] == "user"
    assert dialled["callerid"] == "+15551110001"
    assert dialled["headers"]["X-Call-Id"] == call_id
    assert dialled["headers"]["VI-CallTimeout"] == "10"
    await session.wait("bridged")
    call = await call_state(live_backend, call_id, state="connected", operator="alice")
    assert call["media"] == "voice"
    assert call["recording_url"], "the recording URL was reported"

    await session.hangup_caller()
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert call["outcome"] == "answered"
    assert call["hung_up_by"] == "caller"
    await assert_clean(session)


async def test_caller_waits_with_music_and_hears_the_position(
    emulator: EmulatorClient, live_backend: LiveBackend, tmp_path: Path, scenarios: list[Path]
) -> None:
    write_scenario_config(
        scenarios[0], live_backend.url, live_backend.env["PLATFORM_TOKEN"], announceEverySec=0.5
    )
    # Someone of the group is online but Not ready: the call waits (nobody Ready: no estimate).
    auth = await live_backend.ready_operator("nina")
    await live_backend._json(
        "POST",
        "/api/v1/me/status",
        (200,),
        headers=auth,
        json={"status": "not_ready", "reason": "break"},
    )
    session = await emulator.place_call(scenarios, options={"say_ms_per_word": 5})
    call_id = await registered_call_id(session, live_backend)
    await session.wait("played", {"url": "http://media.invalid/hold-music.mp3", "loop": True})
    # The backend's `say` for a caller who has to wait ([messages] queued), then the position.
    await session.wait("said", {"text": {"$contains": "operators are busy"}})
    said = await session.wait("said", {"text": {"$contains": "You are number 1 in the queue."}})
    assert "Estimated wait" not in said["text"], "no promise while nobody of the group is Ready"
    # After the announcement the caller is back on music.
    await session.wait("played", {"url": "http://media.invalid/hold-music.mp3"}, after=said["seq"])
    assert (await caller_leg(session))["hearing"]["kind"] == "playback"
    assert (await call_state(live_backend, call_id, state="queued"))["position"] == 1

    await session.hangup_caller()
    await session.wait("terminated")
    await assert_clean(session)


async def test_first_operator_does_not_answer_and_the_call_goes_to_the_second(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    await emulator.script_callee("bob", "no_answer", after_ms=300, code=408)
    await emulator.script_callee("carol", "answer", after_ms=100)
    await live_backend.ready_operator("bob")

    session = await emulator.place_call(scenarios)
    call_id = await registered_call_id(session, live_backend)
    first = await session.wait("dialled", {"address": "bob"})
    await live_backend.ready_operator("carol")
    failed = await session.wait("ended", {"how": "failed", "code": 408}, after=first["seq"])
    second = await session.wait("dialled", {"address": "carol"}, after=failed["seq"])
    await session.wait("bridged", after=second["seq"])

    call = await call_state(live_backend, call_id, state="connected", operator="carol")
    assert call["attempts"] >= 2
    bob = await live_backend.operator("bob")
    assert bob["activity"] != "in_call"
    # bob's leg had ended (Failed 408) before carol was dialled: never two ringing at once.
    assert [e["address"] for e in await session.entries("dialled")] == ["bob", "carol"]
    await session.hangup_caller()
    await session.wait("terminated")
    await assert_clean(session)


async def test_caller_hangs_up_while_queued(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    session = await emulator.place_call(scenarios)
    call_id = await registered_call_id(session, live_backend)
    await call_state(live_backend, call_id, state="queued")

    await session.hangup_caller()
    await session.wait(
        "http_response", {"body": {"applied": True}, "url": {"$contains": "/events"}}
    )
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert call["outcome"] == "abandoned"
    assert call["hung_up_by"] == "caller"
    requests = [
        e["body"]["type"]
        for e in await session.entries("http_request")
        if e["body"] and "type" in e["body"]
    ]
    assert "caller_hung_up" in requests and requests[-1] == "session_ended"
    await assert_clean(session)


async def test_operator_hangs_up_first(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    await emulator.script_callee("dave", "answer", after_ms=50)
    await live_backend.ready_operator("dave")
    session = await emulator.place_call(scenarios)
    call_id = await registered_call_id(session, live_backend)
    await session.wait("bridged")
    await call_state(live_backend, call_id, state="connected")

    await session.hangup_leg("dave")
    said = await session.wait("said", {"text": {"$contains": "Goodbye"}})
    await session.wait("hangup", {"leg": (await caller_leg(session))["id"]}, after=said["seq"])
    await session.wait("terminated")
    call = await call_state(live_backend, call_id, state="ended")
    assert call["outcome"] == "answered"
    assert call["hung_up_by"] == "operator"
    await assert_clean(session)


async def test_backend_restart_while_a_call_is_queued(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    await emulator.script_callee("erin", "answer", after_ms=50)
    session = await emulator.place_call(scenarios)
    call_id = await registered_call_id(session, live_backend)
    await call_state(live_backend, call_id, state="queued")

    await live_backend.crash_and_restart()
    # The new process knows the call from the database and routes it when someone is Ready.
    await live_backend.ready_operator("erin")
    await session.wait("dialled", {"address": "erin"})
    await session.wait("bridged")
    await call_state(live_backend, call_id, state="connected", operator="erin")
    await session.hangup_caller()
    await session.wait("terminated")
    await call_state(live_backend, call_id, state="ended", outcome="answered")
    await assert_clean(session)


async def test_video_call_reaches_the_operator_with_video(
    emulator: EmulatorClient, live_backend: LiveBackend, scenarios: list[Path]
) -> None:
    await emulator.script_callee("frank", "answer", after_ms=50)
    await live_backend.ready_operator("frank")
    session = await emulator.place_call(scenarios, video=True)
    call_id = await registered_call_id(session, live_backend)

    answered = await session.wait("answered")
    assert answered["video"] is True, "the caller was answered with the video scheme"
    dialled = await session.wait("dialled", {"address": "frank"})
    assert dialled["video"] is True
    assert "video" in dialled["scheme"]
    await session.wait("bridged")
    call = await call_state(live_backend, call_id, state="connected", operator="frank")
    assert call["media"] == "video"
    await session.hangup_caller()
    await session.wait("terminated")
    await assert_clean(session)
