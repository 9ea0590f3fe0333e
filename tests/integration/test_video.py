"""Voice to video through an SMS link, against the real database and the fake Management API:
the invitation (SMS or the development log), Video Reserved after the voice call, the video
call routed back to the inviting operator past a longer-idle one, the link's page in each of
its states, the guest's one-time-key login, refusals that write nothing, and the report."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from backend.adapters.documents import Doc, iso
from backend.keys import MANAGEMENT_API
from backend.services import video
from backend.services.desk import DeskError
from tests.conftest import Backend
from tests.support.desk import call_in_state, connected_call, operator_in
from tests.support.fake_management_api import (
    FakeManagementApi,
    KeyPair,
    running_api,
)
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot
from tests.support.waiting import eventually

VIDEO_CONFIG = """
[video]
reserve_s = 300
wait_s = 30
sms_source = "+15550009999"
guest_users = ["guest-a", "guest-b"]
languages = {"39" = "it", "3" = "en", "393" = "xx"}

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
    async with running_api(tmp_path) as started:
        yield started


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


async def test_an_invitation_for_no_call_and_a_release_with_nothing_reserved(b: Backend) -> None:
    """The quickest refusals, from the services, whole (no call needed)."""
    engine = b.engine
    assert engine.invite_signer is not None
    with pytest.raises(DeskError) as no_call:
        await video.send_invite(engine, engine.invites, engine.invite_signer, None, "nope", "alice")
    e = no_call.value
    assert (e.status, e.code, e.message, e.field) == (404, "not_found", "no call nope", "call_id")
    await b.ready_operator("alice")
    with pytest.raises(DeskError) as nothing:
        await video.release(engine, "alice")
    e = nothing.value
    assert (e.status, e.code, e.message, e.field) == (
        409,
        "not_video_reserved",
        "nothing to release: you are idle",
        None,
    )


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
    token = token_of(sent["link"])
    # One invitation document, one log entry on the voice call, one SMS: each whole.
    doc = await b.store.db["video_invites"].find_one({"_id": sent["invite_id"]})
    assert doc is not None
    now, expires = doc["sent_at"], doc["sent_at"] + timedelta(seconds=900)
    link = f"{b.engine.settings.public_url.rstrip('/')}/video/{token}"
    assert sent == {
        "invite_id": doc["_id"],
        "link": link,
        "expires_at": iso(expires),
        "sms": "sent",
    }
    assert len(doc["_id"]) == 16
    assert doc == {
        "_id": sent["invite_id"],
        "voice_call_id": voice,
        "operator": "alice",
        "email": "",
        "phone": "+15551230001",
        "origin": "sms",
        "group": "default",
        "sent_at": now,
        "expires_at": expires,
        "sms": "sent",
        "superseded": False,
        "opened_at": None,
        "video_call_id": None,
        "connected_at": None,
    }
    stored_call = await b.store.call_doc(voice)
    assert stored_call is not None
    [entry] = [e for e in stored_call["log"] if e["kind"] == "video_invite"]
    assert entry == {
        "at": now,
        "kind": "video_invite",
        "invite_id": doc["_id"],
        "operator": "alice",
        "to": "+15551230001",
        "link": link,
        "expires_at": expires,
        "sms": "sent",
    }
    assert fake.sms() == [
        {
            "source": "15550009999",
            "destination": "15551230001",
            "sms_body": f"Alice invites you to continue your call by video: {link}",
        }
    ]
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
    # The video call is not invited again; the ended voice call is not either.
    for call_id, code, message in (
        (placed["call_id"], "already_video", "this call is already a video call"),
        (voice, "not_connected", f"call {voice} is not connected to an operator"),
    ):
        status, error = await invite(b, call_id, auth)
        assert (status, error) == (
            409,
            {"error": {"code": code, "message": message, "field": None}},
        )

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


async def test_development_mode_logs_the_sms_on_the_call(
    dev: Backend, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    auth, voice = await alice_on_a_call(dev)
    # An email so long that the link's token no longer fits the Web SDK's customData.
    # (The token is compressed: random letters, not a repeated one.)
    email = "".join(hashlib.sha256(bytes([i])).hexdigest() for i in range(4)) + "@example.com"
    await dev.store.operators.update_one({"_id": "alice"}, {"$set": {"email": email}})
    status, sent = await invite(dev, voice, auth)
    assert status == 201 and sent["sms"] == "logged"
    stored = await dev.store.call_doc(voice)
    assert stored is not None
    [entry] = [e for e in stored["log"] if e["kind"] == "video_invite"]
    doc = await dev.store.db["video_invites"].find_one({"_id": sent["invite_id"]})
    assert doc is not None and doc["sms"] == "logged"
    assert entry == {
        "at": doc["sent_at"],
        "kind": "video_invite",
        "invite_id": sent["invite_id"],
        "operator": "alice",
        "to": "+15551230001",
        "link": sent["link"],
        "expires_at": doc["expires_at"],
        "sms": "logged",
        "text": f"Alice invites you to continue your call by video: {sent['link']}",
    }
    assert doc["email"] == email
    out = capsys.readouterr().out
    warnings = [r.getMessage() for r in caplog.records if r.name == "backend.services.video"]
    assert warnings == [
        f"invite for call {voice}: the token is too long for customData",
        f"call {voice}: SMS to +15551230001 not sent (no VOXIMPLANT_CREDENTIALS): " + entry["text"],
    ]
    assert f"switchboard: SMS to +15551230001 (development, not sent): {entry['text']}\n" in out
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
    assert (status, error) == (
        502,
        {
            "code": "sms_refused",
            "message": "the SMS was not sent: Insufficient funds (Voximplant code 127)",
            "field": None,
        },
    )

    fake.fail_next(2, status=503)  # both attempts
    status, error = await refused(voice, auth)
    assert (status, error["code"], error["field"]) == (503, "sms_unavailable", None)
    prefix = "the SMS was not sent: Voximplant did not answer ("
    assert error["message"].startswith(prefix) and error["message"].endswith(")"), error
    assert len(error["message"]) > len(prefix) + 1

    status, error = await refused(voice, auth, {"to": "+1555"})
    assert status == 422 and error["field"] == "to"

    bob = await b.login("bob")
    status, error = await refused(voice, bob)
    assert (status, error) == (
        403,
        {"code": "forbidden", "message": "this call is not yours", "field": "call_id"},
    )

    status, error = await refused("nope", auth)
    assert (status, error) == (
        404,
        {"code": "not_found", "message": "no call nope", "field": "call_id"},
    )

    # A Web SDK caller has no number an SMS could reach.
    sdk = await connected_call(b, "bob", caller="some-user")
    await operator_in(b, "bob", "in_call")
    status, error = await refused(sdk["call_id"], bob)
    assert (status, error) == (
        409,
        {
            "code": "no_phone_number",
            "message": "the caller has no phone number (a SIP or Web SDK caller): "
            "an SMS cannot reach them",
            "field": None,
        },
    )
    # An administrator may invite on any call, but not for an operator who is not on it.
    await b.store.operators.update_one({"_id": "alice"}, {"$set": {"call_id": "elsewhere"}})
    await b.view_synced()
    status, error = await refused(voice, b.admin)
    assert (status, error) == (
        409,
        {"code": "not_on_call", "message": f"alice is not on call {voice} now", "field": None},
    )
    assert fake.sms() == []

    # A text longer than an SMS may be: refused before anything goes out.
    await b.store.operators.update_one({"_id": "alice"}, {"$set": {"call_id": voice}})
    settings = b.engine.settings
    cfg = settings.config
    long_text = cfg.model_copy(
        update={"video": cfg.video.model_copy(update={"sms_text": "x" * 700 + " {link}"})}
    )
    b.engine.settings = settings.model_copy(update={"config": long_text})
    try:
        status, error = await refused(voice, b.admin)
    finally:
        b.engine.settings = settings
    assert status == 409, error
    length = int(error["message"].split()[4])
    assert length > 765 and error == {
        "code": "sms_too_long",
        "message": f"the SMS would be {length} characters (765 at most)",
        "field": None,
    }

    # No sender configured, or (in production) no credentials: nothing goes out.
    engine = b.engine
    api_client = b.app[MANAGEMENT_API]
    with pytest.raises(DeskError) as no_source:
        await video._deliver(engine, api_client, "", "+15551230001", "hi", voice)
    assert (no_source.value.status, no_source.value.code, no_source.value.message) == (
        409,
        "sms_not_configured",
        "SMS cannot be sent: [video] sms_source is not set",
    )
    development = engine.settings
    engine.settings = development.model_copy(update={"mode": "production"})
    try:
        with pytest.raises(DeskError) as no_api:
            await video._deliver(engine, None, "+15550009999", "+15551230001", "hi", voice)
    finally:
        engine.settings = development
    assert (no_api.value.status, no_api.value.code, no_api.value.message) == (
        503,
        "sms_not_configured",
        "SMS cannot be sent: VOXIMPLANT_CREDENTIALS is not set",
    )
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


def _guest(invite_id: str) -> str:
    users = ["guest-a", "guest-b"]
    return users[int(hashlib.sha256(invite_id.encode()).hexdigest(), 16) % 2]


async def test_the_page_and_its_login_for_each_link_exactly(b: Backend) -> None:
    """What the page shows and the login answers, compared whole, from the service."""
    auth, voice = await alice_on_a_call(b)
    _, sent = await invite(b, voice, auth)
    token, invite_id = token_of(sent["link"]), sent["invite_id"]
    engine, invites = b.engine, b.engine.invites
    signer = engine.invite_signer
    assert signer is not None
    en = video.TEXTS["en"]
    user = _guest(invite_id)
    custom_data = '{"invite":"' + token + '"}'
    media = {
        "enabled": True,
        "username": f"{user}@switchboard.acme.voximplant.com",
        "node": "NODE_1",
        "number": "video",
        "custom_data": custom_data,
    }
    valid = {
        "status": "valid",
        "http_status": 200,
        "lang": "en",
        "texts": en,
        "operator": "Alice",
        "message": "Alice is waiting for you on video.",
        "media": media,
    }
    assert await video.page(engine, invites, signer, token) == valid
    doc = await invites.get(invite_id)
    assert doc is not None and doc["opened_at"] is not None
    inner = hashlib.md5(f"{user}:voximplant.com:guest-pass".encode()).hexdigest()
    assert await video.page_login(engine, invites, signer, token, "K") == {
        "username": media["username"],
        "hash": hashlib.md5(f"K|{inner}".encode()).hexdigest(),
    }

    # Without the guest password, the account or the application, the page says video is
    # unavailable and the login refuses.
    configured = engine.settings
    cfg = configured.config
    for update in (
        {"voximplant_guest_password": None},
        {
            "config": cfg.model_copy(
                update={"voximplant": cfg.voximplant.model_copy(update={"account": ""})}
            )
        },
        {
            "config": cfg.model_copy(
                update={"voximplant": cfg.voximplant.model_copy(update={"application": ""})}
            )
        },
    ):
        engine.settings = configured.model_copy(update=update)
        try:
            off = await video.page(engine, invites, signer, token)
            with pytest.raises(DeskError) as refused:
                await video.page_login(engine, invites, signer, token, "K")
        finally:
            engine.settings = configured
        assert off == {
            **valid,
            "message": en["unavailable"],
            "media": {**media, "enabled": False, "username": None},
        }, update
        assert (refused.value.status, refused.value.code, refused.value.message) == (
            409,
            "media_not_configured",
            en["unavailable"],
        )
    # A default language without texts: the page speaks English.
    video_cfg = cfg.video.model_copy(update={"default_language": "de"})
    engine.settings = configured.model_copy(
        update={"config": cfg.model_copy(update={"video": video_cfg})}
    )
    try:
        german = await video.page(engine, invites, signer, "garbage")
    finally:
        engine.settings = configured
    assert (german["lang"], german["texts"]) == ("en", en)

    # A bad link: the page in its state, the login refused with the same words.
    bad = {"status": "invalid", "http_status": 400, "lang": "en", "texts": en}
    assert await video.page(engine, invites, signer, "garbage") == {
        **bad,
        "message": en["invalid"],
    }
    with pytest.raises(DeskError) as invalid:
        await video.page_login(engine, invites, signer, "garbage", "K")
    assert (invalid.value.status, invalid.value.code, invalid.value.message) == (
        400,
        "link_invalid",
        en["invalid"],
    )
    # Signed, but for no invitation here: invalid, in the language of the number it names.
    unknown = signer.issue("no-such-invite", "", "+393331234567")
    it = video.TEXTS["it"]
    assert await video.page(engine, invites, signer, unknown) == {
        "status": "invalid",
        "http_status": 400,
        "lang": "it",
        "texts": it,
        "message": it["invalid"],
    }
    # A second invitation supersedes the first link.
    _, newer = await invite(b, voice, auth)
    assert await video.page(engine, invites, signer, token) == {
        "status": "superseded",
        "http_status": 410,
        "lang": "en",
        "texts": en,
        "message": en["superseded"],
    }
    with pytest.raises(DeskError) as superseded:
        await video.page_login(engine, invites, signer, token, "K")
    assert (superseded.value.status, superseded.value.code) == (410, "link_superseded")

    # The caller's country code picks the language: the longest prefix with texts.
    assert [
        video.language_for(engine, p) for p in ("+393331234567", "+3312345678", "+15551230001")
    ] == ["it", "en", "en"]
    assert newer["invite_id"] != invite_id


async def _crafted(
    b: Backend, invite_id: str, operator: str, voice_call_id: str, **fields: Any
) -> str:
    """An invitation written as send_invite writes one, and its link's token."""
    now = b.engine.clock()
    doc = {
        "_id": invite_id,
        "voice_call_id": voice_call_id,
        "operator": operator,
        "email": "",
        "phone": "+15551230001",
        "origin": "sms",
        "group": "default",
        "sent_at": now,
        "expires_at": now + timedelta(seconds=900),
        "sms": "sent",
        "superseded": False,
        "opened_at": None,
        "video_call_id": None,
        "connected_at": None,
        **fields,
    }
    await b.store.db["video_invites"].insert_one(doc)
    signer = b.engine.invite_signer
    assert signer is not None
    return signer.issue(invite_id, "", "+15551230001")


async def test_a_call_from_a_link_goes_back_to_its_routable_operator(b: Backend) -> None:
    """The quick case of route_invite, compared whole: the inviting operator is Ready and
    idle; the voice call's group is gone from the configuration."""
    await b.ready_operator("bob")
    token = await _crafted(b, "inv-bob", "bob", "voice-4", group="nope")
    engine = b.engine
    assert engine.invite_signer is not None
    routed = await video.route_invite(
        engine, engine.invites, engine.invite_signer, token, "video-1"
    )
    assert routed == video.InviteRouting(
        invite_id="inv-bob",
        preferred="bob",
        group=None,
        extra={
            "invite": {
                "status": "valid",
                "invite_id": "inv-bob",
                "operator": "bob",
                "voice_call_id": "voice-4",
                "phone": "+15551230001",
            },
            "previous_call_id": "voice-4",
        },
    )


async def test_how_a_call_from_each_link_is_routed(b: Backend) -> None:
    """route_invite, compared whole: back to the inviting operator when
    theirs (reserved for it), routable or still on the voice call; to nobody in particular
    when they are away or busy elsewhere; as an ordinary call when the link is no good."""
    auth, voice = await alice_on_a_call(b)  # alice on the voice call, bob Ready and idle
    await b.add_operator("carl")  # offline
    _, sent = await invite(b, voice, auth)
    mine = sent["invite_id"]
    raw = b.store.db["video_invites"]
    # Alice's own invitation, on another voice call: hers by the invitation alone.
    await raw.update_one({"_id": mine}, {"$set": {"voice_call_id": "voice-2"}})
    tokens = {
        "mine": token_of(sent["link"]),
        "voice": await _crafted(b, "inv-voice", "alice", voice),
        "other": await _crafted(b, "inv-other", "alice", "voice-3"),
        "bob": await _crafted(b, "inv-bob", "bob", "voice-4", group="nope"),
        "carl": await _crafted(b, "inv-carl", "carl", "voice-5"),
        "raced": await _crafted(b, "inv-raced", "bob", "voice-6", video_call_id=""),
    }
    # Carl is away though the invitation is his: nobody waits for an away operator.
    await b.store.operators.update_one({"_id": "carl"}, {"$set": {"video_invite": "inv-carl"}})
    await b.view_synced()
    engine, invites = b.engine, b.engine.invites
    signer = engine.invite_signer
    assert signer is not None

    ids = {"mine": mine, "voice": "inv-voice", "other": "inv-other", "bob": "inv-bob"}
    ids["carl"] = "inv-carl"
    voices = {"mine": "voice-2", "voice": voice, "other": "voice-3", "bob": "voice-4"}
    voices["carl"] = "voice-5"
    expected = {
        "mine": ("alice", "default"),
        "voice": ("alice", "default"),
        "other": (None, "default"),
        "bob": ("bob", None),
        "carl": (None, "default"),
    }
    for name, (preferred, group) in expected.items():
        routed = await video.route_invite(engine, invites, signer, tokens[name], f"video-{name}")
        login = "bob" if name == "bob" else "carl" if name == "carl" else "alice"
        assert routed == video.InviteRouting(
            invite_id=ids[name],
            preferred=preferred,
            group=group,
            extra={
                "invite": {
                    "status": "valid",
                    "invite_id": ids[name],
                    "operator": login,
                    "voice_call_id": voices[name],
                    "phone": "+15551230001",
                },
                "previous_call_id": voices[name],
            },
        ), name
        doc = await invites.get(ids[name])
        assert doc is not None and doc["video_call_id"] == f"video-{name}"
        assert doc["arrived_at"] is not None
    # Used, raced (claimed between the read and the write) and bad links: ordinary calls.
    for token, status in ((tokens["mine"], "started"), (tokens["raced"], "started")):
        routed = await video.route_invite(engine, invites, signer, token, "video-again")
        assert routed == video.InviteRouting(extra={"invite": {"status": status}})
    routed = await video.route_invite(engine, invites, signer, "garbage", "video-bad")
    assert routed == video.InviteRouting(extra={"invite": {"status": "invalid"}})
    assert (await invites.get("inv-raced") or {})["video_call_id"] == ""


async def test_a_connected_video_call_stamps_its_invitation_once(b: Backend) -> None:
    """video_connected: the conversion the report counts, stamped with the call's connected_at
    (or now) and who took it; nothing for a call of a link that was no good, or no operator."""
    engine, invites = b.engine, b.engine.invites
    await _crafted(b, "inv-voice", "alice", "voice-1")
    await _crafted(b, "inv-other", "alice", "voice-2")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    valid = {"status": "valid", "invite_id": "inv-voice"}
    for call in (
        {"invite": {"status": "started", "invite_id": "inv-voice"}, "operator": "bob"},
        {"invite": valid, "operator": None},
        {"operator": "bob"},
    ):
        await video.video_connected(engine, invites, call)
    doc = await invites.get("inv-voice")
    assert doc is not None and doc["connected_at"] is None and "connected_operator" not in doc
    await video.video_connected(
        engine, invites, {"invite": valid, "operator": "bob", "connected_at": at}
    )
    doc = await invites.get("inv-voice")
    assert doc is not None and (doc["connected_at"], doc["connected_operator"]) == (at, "bob")
    before = engine.clock()
    await video.video_connected(
        engine, invites, {"invite": {"status": "valid", "invite_id": "inv-other"}, "operator": "al"}
    )
    doc = await invites.get("inv-other")
    assert doc is not None and doc["connected_operator"] == "al"
    assert before - timedelta(seconds=1) <= doc["connected_at"] <= engine.clock()


async def test_the_report_counts_each_invitation_and_each_reserved_interval(b: Backend) -> None:
    """Invitations and Video Reserved intervals written as the services write them, in a
    window of their own: the report compared whole."""
    t0 = datetime(2020, 3, 1, 10, 0, tzinfo=UTC)

    def at(minutes: float) -> datetime:
        return t0 + timedelta(minutes=minutes)

    def inv(n: int, operator: str, sent: float, **fields: Any) -> Doc:
        return {
            "_id": f"r{n}",
            "voice_call_id": f"v{n}",
            "operator": operator,
            "phone": "+15551230001",
            "group": "default",
            "sent_at": at(sent),
            "superseded": False,
            "opened_at": None,
            "video_call_id": None,
            "connected_at": None,
            **fields,
        }

    await b.store.db["video_invites"].insert_many(
        [
            inv(8, "bob", 40),  # first: the report sorts its operators by login
            inv(1, "alice", 1, opened_at=at(2), video_call_id="c1", connected_at=at(3))
            | {"connected_operator": "alice"},
            inv(2, "alice", 5, opened_at=at(6), video_call_id="c2", connected_at=at(7))
            | {"connected_operator": "bob"},
            inv(3, "alice", 8, opened_at=at(9), video_call_id="c3", connected_at=at(10))
            | {"connected_operator": "alice"},
            inv(4, "bob", 20, opened_at=at(21)),
            inv(5, "bob", 30),
            inv(6, "bob", -1),  # before the window
            inv(7, "bob", 60),  # at its end: not in it
        ]
    )

    def interval(
        login: str, start: float, end: float, value: str = "video_reserved", ms: int = 0
    ) -> Doc:
        return {
            "operator": login,
            "field": "activity",
            "value": value,
            "reason": "video_call",
            "start": at(start),
            "end": at(end) + timedelta(milliseconds=ms),
            "seconds": (end - start) * 60,
        }

    await b.store.status_log.insert_many(
        [
            # 0.1 s and 0.2 s: their float sum is rounded back to 0.3 s.
            interval("alice", 1, 1, ms=100),
            interval("alice", 10, 10, ms=200),
            interval("carl", -5, 0.5),  # cut at the window's start
            interval("carl", 59, 70),  # cut at its end
            interval("carl", -10, -5),  # before
            interval("carl", 60, 65),  # after
            interval("carl", 0, 50, "in_call"),
        ]
    )
    report = await video.report(b.engine, b.engine.invites, t0, at(60))
    assert report == {
        "from": iso(t0),
        "to": iso(at(60)),
        "invites": {
            "sent": 6,
            "opened": 4,
            "video_calls": 3,
            "connected": 3,
            "connected_same_operator": 2,
            "conversion": 0.333,
        },
        "operators": [
            {
                "operator": "alice",
                "invites": 3,
                "connected_same_operator": 2,
                "video_reserved_s": 0.3,
                "video_reserved_times": 2,
            },
            {
                "operator": "bob",
                "invites": 3,
                "connected_same_operator": 0,
                "video_reserved_s": 0.0,
                "video_reserved_times": 0,
            },
            {
                "operator": "carl",
                "invites": 0,
                "connected_same_operator": 0,
                "video_reserved_s": 90.0,
                "video_reserved_times": 2,
            },
        ],
    }
    # Nothing in a window: no conversion rather than a division by zero.
    empty = await video.report(b.engine, b.engine.invites, at(-60), at(-59))
    assert empty["invites"]["conversion"] is None and empty["operators"] == []
    assert empty["invites"]["sent"] == 0
