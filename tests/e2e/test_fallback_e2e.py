"""No caller left waiting for nobody, end to end: the real inbound scenario in the emulator,
real backend processes deciding closed hours, empty groups and the maximum wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.conftest import LiveBackend, MakeLiveBackend, scenarios_for
from tests.e2e.emulator import EmulatorClient
from tests.support.waiting import eventually

# Groups with no rules: every call goes to `default` unless an action moves it.
BERLIN = ZoneInfo("Europe/Berlin")
BASE = 'rules = []\n\n[center]\ntimezone = "Europe/Berlin"\n\n'


def groups(*entries: str) -> str:
    return BASE + "\n".join(f"[[groups]]\n{e}\n" for e in entries)


async def operator_in(
    backend: LiveBackend, login: str, group: str, status: str = "ready"
) -> dict[str, str]:
    """An operator of `group` (a Web SDK user named like the login) in `status`."""
    await backend._json(
        "PUT",
        f"/api/v1/operators/{login}",
        (200, 201),
        headers=backend.admin,
        json={
            "name": login.title(),
            "password": "password-1",
            "address": {"type": "user", "address": login},
            "groups": [{"name": group, "level": 1}],
        },
    )
    reply = await backend._json(
        "POST", "/api/v1/auth/login", (200,), json={"login": login, "password": "password-1"}
    )
    auth = {"Authorization": f"Bearer {reply['token']}"}
    body: dict[str, Any] = {"status": status}
    if status == "not_ready":
        body["reason"] = "break"
    await backend._json("POST", "/api/v1/me/status", (200,), headers=auth, json=body)
    return auth


async def call_state(backend: LiveBackend, call_id: str, **expected: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await backend.call(call_id)
        return call if all(call.get(k) == v for k, v in expected.items()) else None

    found = await eventually(probe, timeout=15, message=f"call {call_id} with {expected}")
    assert found is not None
    return found


async def group_today(backend: LiveBackend, group: str) -> dict[str, Any]:
    queues = await backend._json("GET", "/api/v1/queues", (200,), headers=backend.admin)
    return dict(next(g for g in queues["groups"] if g["group"] == group)["today"])


async def registration(session: Any, backend: LiveBackend) -> dict[str, Any]:
    entry = await session.wait(
        "http_response",
        {"url": f"{backend.url}/api/v1/calls", "body": {"call_id": {"$exists": True}}},
    )
    return dict(entry["body"])


async def test_outside_business_hours_the_caller_hears_the_closed_message_and_goodbye(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    # Open only on a weekday two days from now (Berlin time): closed at this moment.
    later = (datetime.now(BERLIN) + timedelta(days=2)).strftime("%a").lower()
    backend = await make_live_backend(groups(f'name = "default"\nhours = ["{later} 09:00-10:00"]'))
    await operator_in(backend, "opal", "default")  # Ready, but the group is closed
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(session, backend)
    assert reply["action"]["type"] == "goodbye" and reply["action"]["why"] == "closed"
    assert reply["state"] == "ended" and "estimated_wait_s" not in reply
    said = await session.wait("said", {"text": {"$contains": "We are closed right now."}})
    assert "Goodbye" in said["text"]
    await session.wait("terminated")
    call = await call_state(backend, reply["call_id"], state="ended")
    assert call["outcome"] == "rejected" and call["end_reason"] == "closed"
    assert await session.entries("dialled") == [], "nobody is rung in a closed group"
    assert await session.problems() == []


async def test_a_supervisor_closes_a_group_now_and_reopens_it(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(
        groups('name = "default"\nclosed_action = "group:support"', 'name = "support"')
    )
    await operator_in(backend, "sam", "support")
    await emulator.script_callee("sam", "answer", after_ms=50)
    closed = await backend._json(
        "PUT",
        "/api/v1/groups/default/closed",
        (200,),
        headers=backend.admin,
        json={"closed": True},
    )
    assert closed == {"group": "default", "closed": True, "open_now": False}

    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(session, backend)
    assert reply["action"] == {
        "type": "group",
        "why": "closed",
        "target": "support",
        "say": "We are closed right now. "
        "We are putting you through to another team. Please stay on the line.",
    }
    await session.wait("said", {"text": {"$contains": "another team"}})
    await session.wait("dialled", {"address": "sam"})
    await session.wait("bridged")
    call = await call_state(backend, reply["call_id"], state="connected", operator="sam")
    assert call["group"] == "support"
    await session.hangup_caller()
    await session.wait("terminated")

    await backend._json(
        "PUT",
        "/api/v1/groups/default/closed",
        (200,),
        headers=backend.admin,
        json={"closed": False},
    )
    again = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(again, backend)
    assert "action" not in reply and reply["state"] == "queued" and reply["group"] == "default"
    await again.hangup_caller()
    await again.wait("terminated")
    assert await session.problems() == [] and await again.problems() == []


async def test_no_agents_the_caller_is_told_at_once_and_the_action_runs(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(groups('name = "default"\nno_agents_action = "goodbye"'))
    # Nobody of the group is online (one is offline, one marked absent): no agents.
    await operator_in(backend, "olga", "default", status="offline")
    await operator_in(backend, "abe", "default", status="not_ready")
    await backend._json(
        "PUT",
        "/api/v1/operators/abe/absence",
        (200,),
        headers=backend.admin,
        json={"reason": "vacation"},
    )
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(session, backend)
    assert reply["action"]["type"] == "goodbye" and reply["action"]["why"] == "no_agents"
    said = await session.wait("said", {"text": {"$contains": "No operator is available"}})
    assert "Goodbye" in said["text"]
    await session.wait("terminated")
    call = await call_state(backend, reply["call_id"], state="ended")
    assert call["outcome"] == "rejected" and call["end_reason"] == "no_agents"

    # An operator who is Not ready but online still counts: the call waits, with no
    # estimate (nobody of the group is Ready), and the announcements promise none.
    await backend._json("DELETE", "/api/v1/operators/abe/absence", (200,), headers=backend.admin)
    waiting = await emulator.place_call(scenarios_for(tmp_path, backend, announceEverySec=1))
    reply = await registration(waiting, backend)
    assert "action" not in reply and reply["state"] == "queued"
    assert "estimated_wait_s" not in reply
    said = await waiting.wait("said", {"text": {"$contains": "in the queue"}})
    assert "Estimated wait" not in said["text"]
    await waiting.hangup_caller()
    await waiting.wait("terminated")
    assert await session.problems() == [] and await waiting.problems() == []


async def test_max_wait_moves_the_call_to_another_group_keeping_its_enqueue_time(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(
        groups(
            'name = "default"\nmax_wait_s = 2\nmax_wait_action = "group:support"',
            'name = "support"',
        )
    )
    await operator_in(backend, "dora", "default", status="not_ready")  # online, not Ready
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(session, backend)
    assert reply["state"] == "queued" and "action" not in reply
    queued = await call_state(backend, reply["call_id"], state="queued", group="default")

    moved = await call_state(backend, reply["call_id"], state="queued", group="support")
    said = await session.wait("said", {"text": {"$contains": "another team"}}, timeout=10)
    assert said["text"].startswith("We are sorry to keep you waiting so long.")
    assert moved["enqueued_at"] == queued["enqueued_at"], "the call keeps its place"
    entry = next(e for e in moved["log"] if e["kind"] == "fallback")
    assert entry["why"] == "max_wait"
    elapsed = datetime.fromisoformat(entry["at"]) - datetime.fromisoformat(queued["created_at"])
    assert elapsed >= timedelta(seconds=2), "not before max_wait_s"

    await emulator.script_callee("sid", "answer", after_ms=50)
    await operator_in(backend, "sid", "support")
    await session.wait("dialled", {"address": "sid"})
    await session.wait("bridged")
    call = await call_state(backend, reply["call_id"], state="connected", operator="sid")
    assert call["enqueued_at"] == queued["enqueued_at"]
    await session.hangup_caller()
    await session.wait("terminated")
    await call_state(backend, reply["call_id"], state="ended", outcome="answered")
    assert await session.problems() == []


async def test_a_voicemail_is_left_then_offered_to_an_operator_and_closed_with_a_disposition(
    emulator: EmulatorClient, make_live_backend: MakeLiveBackend, tmp_path: Path
) -> None:
    backend = await make_live_backend(
        groups('name = "default"\nno_agents_action = "voicemail"')
        + "\n[voicemail]\nmax_length_s = 30\n"
    )
    session = await emulator.place_call(scenarios_for(tmp_path, backend))
    reply = await registration(session, backend)
    call_id = reply["call_id"]
    assert reply["state"] == "voicemail"
    assert reply["action"]["type"] == "voicemail" and reply["action"]["max_length_s"] == 30
    said = await session.wait("said", {"text": {"$contains": "leave a message after the tone"}})
    beep = await session.wait("played", {"url": {"$contains": "/static/audio/beep.wav"}})
    assert beep["seq"] > said["seq"] and beep["loop"] is False
    started = await session.wait("recorder_started", after=beep["seq"])
    await session.hangup_caller()  # the usual end of a message
    stopped = await session.wait("recorder_stopped", {"recorder": started["recorder"]})
    assert stopped["url"] == started["url"]
    await session.wait("terminated")
    task = await call_state(backend, call_id, state="queued", task="voicemail")
    assert task["voicemail_url"] == started["url"]
    assert task["enqueued_at"] == task["created_at"]
    assert await session.problems() == []

    # The task is in the database: it survives the process (SIGKILL, then a new one).
    await backend.crash_and_restart()
    await call_state(backend, call_id, state="queued", task="voicemail")

    # An operator of the group goes Ready: the voicemail is offered like a call, on the desk.
    auth = await operator_in(backend, "vera", "default")
    offered = await call_state(backend, call_id, state="offering")
    assert offered["offer"]["operator"] == "vera"
    assert (await backend.operator("vera"))["activity"] == "offered"
    assert await session.entries("dialled") == [], "a voicemail is not dialled"
    taken = await backend._json("POST", f"/api/v1/calls/{call_id}/accept", (200,), headers=auth)
    assert taken == {"call_id": call_id, "state": "connected"}
    await backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/close",
        (422,),
        headers=auth,
        json={"disposition": "no-such-code"},
    )
    closed = await backend._json(
        "POST",
        f"/api/v1/calls/{call_id}/close",
        (200,),
        headers=auth,
        json={"disposition": "resolved"},
    )
    assert closed["state"] == "ended" and closed["outcome"] == "voicemail"
    call = await call_state(backend, call_id, state="ended", outcome="voicemail")
    assert call["operator"] == "vera" and call["hung_up_by"] == "operator"
    today = await group_today(backend, "default")
    assert today["voicemails"] == {"left": 1, "handled": 1}
    assert today["answered"] == 0, "a voicemail taken on the desk is not a call answered"
