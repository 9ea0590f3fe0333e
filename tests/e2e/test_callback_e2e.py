"""Queued callback end to end: the real inbound scenario in the emulator asks for the callback
(a key while waiting, the number confirmed or typed), a real backend process keeps the caller's
place, reserves an operator when their turn comes and starts the callback session through the
Management API's StartScenarios (a local stand-in that checks the JWT and the form, wired to the
emulator's StartScenarios sessions: AppEvents.Started, no CallAlerting, VoxEngine.customData()).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import (
    ADMIN_TOKEN,
    E2E_CONFIG,
    PLATFORM_TOKEN,
    LiveBackend,
    scenarios_for,
)
from tests.e2e.emulator import EmulatorClient, Session
from tests.e2e.test_fallback_e2e import call_state, group_today, operator_in, registration
from tests.support.fake_management_api import FakeManagementApi, make_credentials
from tests.support.waiting import eventually

CALLER = "+15557770001"
PSTN_ID = "+15550009999"


class CallbackRig:
    def __init__(self, backend: LiveBackend, api: FakeManagementApi, scenarios: list[Path]):
        self.backend, self.api, self.scenarios = backend, api, scenarios
        self.sessions: list[Session] = []

    async def session(self, n: int) -> Session:
        """The n-th callback session (the fake API records the request before starting it)."""

        async def started() -> Session | None:
            return self.sessions[n] if len(self.sessions) > n else None

        found = await eventually(started, timeout=10, message=f"callback session {n}")
        assert found is not None
        return found


@pytest.fixture
async def rig(
    db_url: str, tmp_path: Path, http: aiohttp.ClientSession, emulator: EmulatorClient
) -> AsyncIterator[CallbackRig]:
    keys = make_credentials(tmp_path)
    api = FakeManagementApi(keys.public_key_pem)
    await api.start()
    base = tmp_path / "e2e.toml"
    base.write_text(E2E_CONFIG)
    own = tmp_path / "callback.toml"
    own.write_text(
        'rules = []\n\n[[groups]]\nname = "default"\n\n'
        f'[voximplant]\napi_url = "{api.url}"\napplication = "switchboard"\n\n'
        '[callback]\nenabled = true\nrule_name = "callback"\nretry_s = 1\nmax_attempts = 2\n'
    )
    env = {
        "PLATFORM_TOKEN": PLATFORM_TOKEN,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "e2e-secret-key",
        "MONGODB_URL": db_url,
        "SWITCHBOARD_CONFIG": os.pathsep.join([str(base), str(own)]),
        "VOXIMPLANT_CREDENTIALS": str(keys.path),
        "LOG_LEVEL": "WARNING",
    }
    backend = LiveBackend(env, tmp_path / "backend.log", http)
    await backend.start()
    scenarios = scenarios_for(tmp_path, backend, pstnCallerId=PSTN_ID)
    rig = CallbackRig(backend, api, scenarios)

    async def start_scenarios(form: dict[str, str]) -> dict[str, Any]:
        # The routing rule named in the request runs the same scenarios as inbound calls.
        assert form["rule_name"] == "callback" and form["application_name"] == "switchboard"
        session, reply = await emulator.start_scenarios(scenarios, form["script_custom_data"])
        rig.sessions.append(session)
        return reply

    api.on_start_scenarios = start_scenarios
    yield rig
    backend.stop()
    await api.close()


async def ask_for_callback(
    emulator: EmulatorClient, rig: CallbackRig, typed: str = ""
) -> tuple[Session, str]:
    """A caller waits, presses star, confirms their own number with 1 (or types another one
    and #) and hangs up."""
    session = await emulator.place_call(rig.scenarios, callerid=CALLER)
    reply = await registration(session, rig.backend)
    assert reply["state"] == "queued"
    assert reply["callback"]["key"] == "*"
    await session.wait("said", {"text": {"$contains": "press star"}})
    assert await session.press("*") == "*"
    prompt = await session.wait("said", {"text": {"$contains": "We will call you back at"}})
    assert "5 5 5 7 7 7 0 0 0 1" in prompt["text"]
    if typed:
        await session.press("2")
        await session.wait("said", {"text": {"$contains": "Please enter the number"}})
        await session.press(f"{typed}#")
    else:
        await session.press("1")
    await session.wait("said", {"text": {"$contains": "You keep your place in the queue"}})
    await session.wait("terminated")
    return session, str(reply["call_id"])


async def test_a_callback_is_requested_answered_and_bridged(
    emulator: EmulatorClient, rig: CallbackRig
) -> None:
    backend = rig.backend
    first, call_id = await ask_for_callback(emulator, rig)
    task = await call_state(backend, call_id, state="queued", task="callback")
    assert task["callback_number"] == CALLER and task["enqueued_at"] == task["created_at"]
    assert rig.api.requests == [], "nobody is free: no callback yet"

    await emulator.script_callee(CALLER, "answer", after_ms=50)
    await emulator.script_callee("cleo", "answer", after_ms=50)
    auth = await operator_in(backend, "cleo", "default")
    [started] = await rig.api.wait_for("StartScenarios")
    data = json.loads(started.form["script_custom_data"])
    assert data["callback"] == call_id and len(started.form["script_custom_data"]) <= 200
    assert (await backend.operator("cleo"))["activity"] == "offered", "reserved first"
    session = await rig.session(0)
    await session.wait("session_started")
    assert await session.entries("event") == [] or all(
        e.get("name") != "Application.CallAlerting" for e in await session.entries("event")
    )
    caller = await session.wait("dialled", {"type": "pstn"})
    assert caller["address"] == CALLER and caller["callerid"] == PSTN_ID
    await session.wait("said", {"text": {"$contains": "calling you back"}})
    operator = await session.wait("dialled", {"address": "cleo"}, after=caller["seq"])
    await session.wait("bridged", after=operator["seq"])
    call = await call_state(backend, call_id, state="connected", operator="cleo")
    assert call["enqueued_at"] == task["enqueued_at"]

    # The operator hangs up from the desk: the command reaches the callback's own session.
    await backend._json("POST", f"/api/v1/calls/{call_id}/hangup", (200,), headers=auth)
    command = await session.wait("access_request", {"body": {"command": "hangup"}})
    assert command["reply"]["ok"] is True
    await session.wait("terminated")
    call = await call_state(backend, call_id, state="ended", outcome="callback")
    assert call["hung_up_by"] == "operator"
    today = await group_today(backend, "default")
    assert today["callbacks"] == {"requested": 1, "completed": 1, "failed": 0}
    assert await first.problems() == [] and await session.problems() == []


async def test_a_callback_not_answered_is_retried_then_becomes_a_task(
    emulator: EmulatorClient, rig: CallbackRig
) -> None:
    backend = rig.backend
    other = "15557770002"  # typed on the keypad instead of confirming the caller's number
    _, call_id = await ask_for_callback(emulator, rig, typed=other)
    task = await call_state(backend, call_id, state="queued", task="callback")
    assert task["callback_number"] == other
    await emulator.script_callee(other, "busy", after_ms=50)
    auth = await operator_in(backend, "cory", "default")

    # Busy twice (max_attempts = 2, retry_s = 1): the operator is freed each time, no miss.
    await rig.api.wait_for("StartScenarios", count=2, timeout=20)
    task = await call_state(backend, call_id, state="offering", task="callback_failed")
    assert task["callback_attempts"] == 2
    for n in range(2):
        session = await rig.session(n)
        await session.wait("ended", {"how": "failed", "code": 486})
        await session.wait("terminated")
        assert [e["address"] for e in await session.entries("dialled")] == [other]
        assert await session.problems() == []
    cory = await backend.operator("cory")
    assert cory["activity"] == "offered" and cory["scores"]["misses"] == 0
    assert len(rig.api.requests) == 2, "a failed callback is not dialled again"

    # Now a task for the operator, like a voicemail: taken and closed with a disposition.
    await backend._json("POST", f"/api/v1/calls/{call_id}/accept", (200,), headers=auth)
    closed = await backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/close",
        (200,),
        headers=auth,
        json={"disposition": "callback_needed"},
    )
    assert closed["outcome"] == "callback"
    call = await call_state(backend, call_id, state="ended")
    assert call["end_reason"] == "callback_failed"
    today = await group_today(backend, "default")
    assert today["callbacks"] == {"requested": 1, "completed": 0, "failed": 1}
