"""Voice to video through an SMS link, against the real database and the fake Management API:
the invitation (SMS or the development log), Video Reserved after the voice call, the video
call routed back to the inviting operator past a longer-idle one, the link's page in each of
its states, the guest's one-time-key login, refusals that write nothing, and the report."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.conftest import Backend
from tests.support.desk import call_in_state, connected_call, operator_in
from tests.support.fake_management_api import FakeManagementApi, KeyPair, make_credentials
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

VIDEO_CONFIG = """
[video]
reserve_s = 300
wait_s = 30
sms_source = "+15550009999"
guest_users = ["guest-a", "guest-b"]
languages = {"39" = "it"}

[voximplant]
account = "acme"
application = "switchboard"
node = "NODE_1"
attempts = 2
backoff_s = 0
request_timeout_s = 2
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[FakeManagementApi, KeyPair]]:
    keys = make_credentials(tmp_path)
    fake = FakeManagementApi(keys.public_key_pem)
    await fake.start()
    yield fake, keys
    await fake.close()


@pytest.fixture
async def b(
    make_backend: Callable[..., Awaitable[Backend]], api: tuple[FakeManagementApi, KeyPair]
) -> Backend:
    fake, keys = api
    return await make_backend(
        VIDEO_CONFIG + f'api_url = "{fake.url}"\n',
        voximplant_credentials=str(keys.path),
        voximplant_guest_password="guest-pass",
    )


@pytest.fixture
async def dev(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    """Development mode without credentials: the SMS goes to the call's log."""
    return await make_backend(VIDEO_CONFIG)


async def invite(b: Backend, call_id: str, auth: dict[str, str]) -> tuple[int, dict[str, Any]]:
    resp = await b.client.post(f"/api/v1/calls/{call_id}/video_invite", json={}, headers=auth)
    return resp.status, dict(await resp.json())


def token_of(link: str) -> str:
    return link.rsplit("/video/", 1)[1]


async def video_call(b: Backend, token: str, caller: str = "guest-a") -> dict[str, Any]:
    return await b.place_call(
        caller=caller, destination="video", media="video", custom_data=f'{{"invite":"{token}"}}'
    )


async def alice_on_a_call(b: Backend) -> tuple[dict[str, str], str]:
    """Alice answers a voice call from a mobile number; Bob is Ready and idle from then on."""
    auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice", caller="+15551230001")
    assert (await b.call(placed["call_id"]))["operator"] == "alice"
    await b.ready_operator("bob")
    return auth, str(placed["call_id"])


async def test_sms_invite_reserve_and_the_video_call_comes_back_to_the_same_operator(
    b: Backend, api: tuple[FakeManagementApi, KeyPair]
) -> None:
    fake, _ = api
    auth, voice = await alice_on_a_call(b)
    await b.client.post(
        f"/api/v1/calls/{voice}/notes", json={"text": "camera broken"}, headers=auth
    )
    status, sent = await invite(b, voice, auth)
    assert status == 201, sent
    assert sent["sms"] == "sent" and sent["link"].startswith(b.engine.settings.public_url)
    [sms] = fake.sms()
    assert sms["source"] == "15550009999" and sms["destination"] == "15551230001"
    assert sent["link"] in sms["sms_body"] and "Alice" in sms["sms_body"]
    token = token_of(sent["link"])
    assert len(f'{{"invite":"{token}"}}'.encode()) <= 200  # the Web SDK's customData limit

    # Alice hangs up: no wrap-up in this group, so she is held in Video Reserved at once.
    resp = await b.client.post(f"/api/v1/calls/{voice}/hangup", headers=auth)
    assert resp.status == 200
    held = await operator_in(b, "alice", "video_reserved")
    assert held["presence"] == "ready"
    stored = await b.store.operator_doc("alice")
    assert stored is not None and stored["activity_until"] is not None
    reserved_s = (stored["activity_until"] - stored["activity_since"]).total_seconds()
    assert reserved_s == 300

    # An ordinary call meanwhile goes to Bob, not to the reserved Alice.
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    other = await b.place_call(caller="+15557770000")
    assert (await call_in_state(b, other["call_id"], "connected"))["operator"] == "bob"

    # Carol is Ready and idle; the video call still goes to the reserved Alice.
    await b.ready_operator("carol")
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    placed = await video_call(b, token)
    call = await call_in_state(b, placed["call_id"], "connected")
    assert call["operator"] == "alice" and call["media"] == "video"
    assert call["group"] == "default"

    # The card shows the voice call before it, with its notes.
    resp = await b.client.get(f"/api/v1/calls/{placed['call_id']}/card", headers=auth)
    card = await resp.json()
    assert card["previous_call"]["call_id"] == voice
    assert [n["text"] for n in card["previous_call"]["notes"]] == ["camera broken"]
    assert card["contact"]["phone"] == "+15551230001"

    # The link now says the call has started; the invitation counts as converted.
    page = await b.client.get(f"/video/{token}")
    assert page.status == 409 and "already started" in await page.text()

    async def converted() -> dict[str, Any] | None:
        resp = await b.client.get("/api/v1/reports/video", headers=b.admin)
        report = dict(await resp.json())
        return report if report["invites"]["connected_same_operator"] == 1 else None

    report = await eventually(converted, message="the conversion in the report")
    assert report["invites"] == {
        "sent": 1,
        "opened": 0,
        "video_calls": 1,
        "connected": 1,
        "connected_same_operator": 1,
        "conversion": 1.0,
    }
    [alice] = [r for r in report["operators"] if r["operator"] == "alice"]
    assert alice["invites"] == 1 and alice["video_reserved_times"] == 1
    assert alice["video_reserved_s"] > 0

    # Time in Video Reserved is in her status history, ended by the video call.
    history = await b.client.get("/api/v1/operators/alice/status_history", headers=b.admin)
    intervals = [i for i in (await history.json())["intervals"] if i["value"] == "video_reserved"]
    assert [i["reason"] for i in intervals] == ["video_call"]


async def test_development_mode_logs_the_sms_on_the_call(dev: Backend) -> None:
    auth, voice = await alice_on_a_call(dev)
    status, sent = await invite(dev, voice, auth)
    assert status == 201 and sent["sms"] == "logged"
    call = await dev.call(voice)
    [entry] = [e for e in call["log"] if e["kind"] == "video_invite"]
    assert entry["to"] == "+15551230001" and sent["link"] in entry["text"]
    assert (await dev.store.operator_doc("alice") or {})["video_invite"] == sent["invite_id"]


async def test_refusals_write_nothing(b: Backend, api: tuple[FakeManagementApi, KeyPair]) -> None:
    fake, _ = api
    auth, voice = await alice_on_a_call(b)
    invites = b.store.db["video_invites"]

    async def refused(call_id: str, who: dict[str, str], body: Any = None) -> tuple[int, Any]:
        before = await Snapshot.take(b.store)
        resp = await b.client.post(
            f"/api/v1/calls/{call_id}/video_invite", json=body or {}, headers=who
        )
        await before.assert_unchanged(b.store)
        assert await invites.count_documents({}) == 0
        return resp.status, (await resp.json())["error"]

    fake.error_next(127, "Insufficient funds")
    status, error = await refused(voice, auth)
    assert (status, error["code"]) == (502, "sms_refused")
    assert "Insufficient funds" in error["message"] and "127" in error["message"]

    fake.fail_next(2, status=503)  # both attempts
    status, error = await refused(voice, auth)
    assert (status, error["code"]) == (503, "sms_unavailable")

    status, error = await refused(voice, auth, {"to": "+1555"})
    assert status == 422 and error["field"] == "to"

    bob = await b.login("bob")
    status, error = await refused(voice, bob)
    assert (status, error["code"]) == (403, "forbidden")

    status, error = await refused("nope", auth)
    assert status == 404

    # A Web SDK caller has no number an SMS could reach.
    sdk = await connected_call(b, "bob", caller="some-user")
    await operator_in(b, "bob", "in_call")
    status, error = await refused(sdk["call_id"], bob)
    assert (status, error["code"]) == (409, "no_phone_number")
    assert fake.sms() == []


async def test_two_invites_the_latest_counts(b: Backend) -> None:
    auth, voice = await alice_on_a_call(b)
    _, first = await invite(b, voice, auth)
    _, second = await invite(b, voice, auth)
    assert (await b.store.operator_doc("alice") or {})["video_invite"] == second["invite_id"]
    old = await b.client.get(f"/video/{token_of(first['link'])}")
    assert old.status == 410 and "newer invitation" in await old.text()
    await b.client.post(f"/api/v1/calls/{voice}/hangup", headers=auth)
    await operator_in(b, "alice", "video_reserved")
    # The older link's call is an ordinary video call: the longest-idle Bob takes it.
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    placed = await video_call(b, token_of(first["link"]))
    assert (await call_in_state(b, placed["call_id"], "connected"))["operator"] == "bob"
    assert (await b.operator("alice"))["activity"] == "video_reserved"


async def test_the_operator_releases_the_reservation(b: Backend) -> None:
    auth, voice = await alice_on_a_call(b)
    await invite(b, voice, auth)
    before = await Snapshot.take(b.store)
    resp = await b.client.post("/api/v1/me/video/release", headers=auth)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "not_video_reserved"
    await before.assert_unchanged(b.store)
    await b.client.post(f"/api/v1/calls/{voice}/hangup", headers=auth)
    await operator_in(b, "alice", "video_reserved")
    resp = await b.client.post("/api/v1/me/video/release", headers=auth)
    assert resp.status == 200 and (await resp.json())["activity"] == "idle"


async def test_the_reservation_runs_out_in_any_process(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend(VIDEO_CONFIG.replace("reserve_s = 300", "reserve_s = 1"))
    auth, voice = await alice_on_a_call(b)
    await invite(b, voice, auth)
    await b.client.post(f"/api/v1/calls/{voice}/hangup", headers=auth)
    await operator_in(b, "alice", "video_reserved")
    # The timer of this process is gone (as if it died): the sweep finishes the deadline.
    assert b.engine.timers is not None
    b.engine.timers.remove("op:alice")
    await operator_in(b, "alice", "idle")
    history = await b.client.get("/api/v1/operators/alice/status_history", headers=b.admin)
    intervals = [i for i in (await history.json())["intervals"] if i["value"] == "video_reserved"]
    assert [i["reason"] for i in intervals] == ["expired"]


class _Past(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 10_000


async def test_the_page_for_each_state_of_a_link(b: Backend) -> None:
    auth, voice = await alice_on_a_call(b)
    _, sent = await invite(b, voice, auth)
    token = token_of(sent["link"])
    page = await b.client.get(f"/video/{token}")
    html = await page.text()
    assert page.status == 200 and "Alice is waiting for you on video." in html
    assert "End your phone call now" in html and 'id="start"' in html
    doc = await b.store.db["video_invites"].find_one({"_id": sent["invite_id"]})
    assert doc is not None and doc["opened_at"] is not None

    tampered = await b.client.get(f"/video/{token[:-3]}abc")
    assert tampered.status == 400 and "This link is not valid" in await tampered.text()

    secret = b.engine.settings.secret_key
    assert secret is not None
    old = URLSafeTimedSerializer(secret, salt="switchboard.video-invite", signer=_Past)
    expired_token = old.dumps([sent["invite_id"], "", "sms", "+15551230001"])
    expired = await b.client.get(f"/video/{expired_token}")
    assert expired.status == 410 and "expired" in await expired.text()

    # The guest's one-time-key login, for this link only.
    resp = await b.client.post(f"/video/{token}/login", json={"key": "KEY-1"})
    assert resp.status == 200
    login = await resp.json()
    user = login["username"].split("@")[0]
    assert user in ("guest-a", "guest-b")
    assert login["username"] == f"{user}@switchboard.acme.voximplant.com"
    inner = hashlib.md5(f"{user}:voximplant.com:guest-pass".encode()).hexdigest()
    assert login["hash"] == hashlib.md5(f"KEY-1|{inner}".encode()).hexdigest()
    resp = await b.client.post(f"/video/{expired_token}/login", json={"key": "KEY-1"})
    assert resp.status == 410
    resp = await b.client.post(f"/video/{token}/login", json={"key": ""})
    assert resp.status == 422


async def test_the_page_speaks_the_callers_language(b: Backend) -> None:
    auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice", caller="+393331234567")
    assert (await b.call(placed["call_id"]))["operator"] == "alice"
    _, sent = await invite(b, placed["call_id"], auth)
    page = await b.client.get(f"/video/{token_of(sent['link'])}")
    html = await page.text()
    assert page.status == 200 and 'lang="it"' in html and "ti aspetta in video" in html


async def test_a_video_call_that_arrives_during_the_voice_call_waits_for_its_operator(
    b: Backend,
) -> None:
    auth, voice = await alice_on_a_call(b)
    _, sent = await invite(b, voice, auth)
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    # The caller opens the link before hanging up: the video call waits for Alice, not Bob.
    placed = await video_call(b, token_of(sent["link"]))
    queued = await b.call(placed["call_id"])
    assert queued["state"] == "queued" and queued["waits_for"] == "alice"
    assert (await b.operator("bob"))["activity"] == "idle"
    # The voice call ends: Video Reserved, and at once the waiting video call is hers.
    await b.client.post(f"/api/v1/calls/{voice}/hangup", headers=auth)
    call = await call_in_state(b, placed["call_id"], "connected")
    assert call["operator"] == "alice"
    assert (await b.operator("bob"))["activity"] == "idle"


async def test_every_process_keeps_a_reserved_operator_for_the_video_call_only(
    b: Backend,
) -> None:
    """Video Reserved written by another process (straight to the database, as its guarded
    write would): this process's view, fed by the change stream, offers her no other call."""
    auth = await b.ready_operator("alice")
    await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    b.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    op = await b.store.operator_doc("alice")
    assert op is not None
    now = b.engine.clock()
    await b.store.operators.update_one(
        {"_id": "alice", "rev": op["rev"]},
        {
            "$set": {
                "activity": "video_reserved",
                "activity_since": now,
                "activity_until": now + timedelta(seconds=300),
                "video_invite": "inv-elsewhere",
            },
            "$inc": {"rev": 1},
        },
    )
    await b.view_synced()
    assert b.engine.view.routable("default", 8)[0].login == "bob"
    first = await b.place_call(caller="+15557770001")
    assert (await call_in_state(b, first["call_id"], "connected"))["operator"] == "bob"
    second = await b.place_call(caller="+15557770002")
    assert (await b.call(second["call_id"]))["state"] == "queued"  # not Alice: she is reserved
    await b.client.post("/api/v1/me/video/release", headers=auth)
    assert (await call_in_state(b, second["call_id"], "connected"))["operator"] == "alice"
