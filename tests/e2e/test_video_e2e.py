"""Voice to video end to end: the real inbound scenario in the emulator, a real backend process,
and the fake Management API that receives the SMS.

A voice call reaches Alice; she sends the caller an SMS link (captured by the fake API, its JWT
verified), then hangs up and is held in Video Reserved; the link's page gives the Web SDK call
its number and customData; that call, placed in the emulator as the page would place it, reaches
the scenario as a video call with the token, is posted with media "video", and is connected to
Alice with video while Bob has been Ready and idle all along.
"""

from __future__ import annotations

import html
import json
import os
import re
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
    registered_call_id,
    scenarios_for,
)
from tests.e2e.emulator import EmulatorClient
from tests.support.fake_management_api import (
    FakeManagementApi,
    KeyPair,
    running_api,
)
from tests.support.waiting import eventually

CALLER = "+15551230001"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[FakeManagementApi, KeyPair]]:
    async with running_api(tmp_path) as started:
        yield started


@pytest.fixture
async def backend(
    db_url: str,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    api: tuple[FakeManagementApi, KeyPair],
) -> AsyncIterator[LiveBackend]:
    fake, keys = api
    base = tmp_path / "e2e.toml"
    base.write_text(E2E_CONFIG)
    own = tmp_path / "video.toml"
    own.write_text(
        "[video]\n"
        'sms_source = "+15550009999"\n'
        "[voximplant]\n"
        'account = "acme"\napplication = "switchboard"\nnode = "NODE_1"\n'
        f'api_url = "{fake.url}"\n'
    )
    env = {
        "PLATFORM_TOKEN": PLATFORM_TOKEN,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "e2e-secret-key",
        "MONGODB_URL": db_url,
        "SWITCHBOARD_CONFIG": os.pathsep.join([str(base), str(own)]),
        "VOXIMPLANT_CREDENTIALS": str(keys.path),
        "VOXIMPLANT_GUEST_PASSWORD": "guest-pass",
        "LOG_LEVEL": "WARNING",
    }
    live = LiveBackend(env, tmp_path / "backend.log", http)
    await live.start()
    yield live
    live.stop()


async def activity(backend: LiveBackend, login: str, wanted: str) -> None:
    async def probe() -> bool:
        return bool((await backend.operator(login))["activity"] == wanted)

    await eventually(probe, timeout=15, message=f"{login} {wanted}")


async def test_voice_invite_reserve_and_the_video_call_reaches_the_same_operator(
    emulator: EmulatorClient,
    backend: LiveBackend,
    api: tuple[FakeManagementApi, KeyPair],
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    fake, _ = api
    scenarios = scenarios_for(tmp_path, backend)
    await emulator.script_callee("alice", "answer", after_ms=100)
    await emulator.script_callee("bob", "answer", after_ms=100)

    # The voice call reaches Alice (the only one Ready); then Bob goes Ready and stays idle.
    alice = await backend.ready_operator("alice")
    voice = await emulator.place_call(scenarios, callerid=CALLER)
    voice_id = await registered_call_id(voice, backend)
    await voice.wait("dialled", {"address": "alice"})
    await voice.wait("bridged")
    await activity(backend, "alice", "in_call")
    await backend.ready_operator("bob")

    # Alice texts the caller a link: the SMS goes through the (fake) Management API.
    reply = await backend._json(
        "POST", f"/api/v1/calls/{voice_id}/video_invite", (201,), headers=alice, json={}
    )
    [sms] = [r.form for r in await fake.wait_for("SendSmsMessage")]
    assert sms["destination"] == CALLER.lstrip("+") and reply["link"] in sms["sms_body"]
    link = re.search(r"https?://\S+/video/\S+", sms["sms_body"])
    assert link is not None and link.group(0) == reply["link"]

    # She hangs up the voice call, and is held in Video Reserved.
    await voice.hangup_leg("alice")
    await voice.wait("terminated", timeout=20)
    await activity(backend, "alice", "video_reserved")

    # The caller opens the link: the page names Alice and holds what the Web SDK call sends.
    path = "/video/" + link.group(0).rsplit("/video/", 1)[1]
    async with http.get(backend.url + path) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "Alice is waiting for you on video." in page
    found = re.search(r'<script type="application/json" id="video-config">(.*?)</script>', page)
    assert found is not None
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    media = config["media"]
    assert media["enabled"] and media["username"].endswith("@switchboard.acme.voximplant.com")
    assert len(media["custom_data"].encode()) <= 200  # the Web SDK's customData limit

    # The page's call (video, the token in customData) runs the real scenario.
    video = await emulator.place_call(
        scenarios,
        callerid=media["username"].split("@")[0],
        destination=media["number"],
        custom_data=media["custom_data"],
        video=True,
    )
    video_id = await registered_call_id(video, backend)
    posted = await video.wait("http_request", {"url": f"{backend.url}/api/v1/calls"})
    assert posted["body"]["media"] == "video"
    assert json.loads(posted["body"]["custom_data"]) == json.loads(media["custom_data"])
    dialled = await video.wait("dialled", {"address": "alice"})
    assert dialled["video"] is True
    await video.wait("bridged")

    async def connected() -> dict[str, Any] | None:
        call = await backend.call(video_id)
        return call if call["state"] == "connected" else None

    call = await eventually(connected, timeout=15, message="the video call connected")
    assert call["operator"] == "alice" and call["media"] == "video"
    assert [e["address"] for e in await video.entries("dialled")] == ["alice"]
    assert (await backend.operator("bob"))["activity"] == "idle"  # idle longer, not chosen
    await video.hangup_caller()
    await video.wait("terminated", timeout=20)
    assert await video.problems() == [] and await voice.problems() == []
