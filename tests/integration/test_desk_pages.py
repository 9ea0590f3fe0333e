"""The web client's pages, static files, today's figures and the Web SDK login endpoints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call, operator_in

VOX = '\n[voximplant]\naccount = "acme"\napplication = "desk"\nnode = "NODE_4"\n'


def _anonymous(b: Backend) -> Backend:
    b.client.session.cookie_jar.clear()
    return b


async def test_pages_redirect_until_logged_in(backend: Backend) -> None:
    c = backend.client
    for path in ("/", "/desk", "/supervisor"):
        resp = await c.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/login", path
    resp = await c.get("/login")
    assert resp.status == 200
    page = await resp.text()
    assert 'for="password"' in page and "/static/js/login.js" in page
    await backend.add_operator("alice")
    await backend.login("alice")  # sets the cookie, as the login form's fetch does
    resp = await c.get("/", allow_redirects=False)
    assert resp.headers["Location"] == "/desk"
    resp = await c.get("/login", allow_redirects=False)
    assert resp.headers["Location"] == "/desk"
    resp = await c.get("/desk")
    assert resp.status == 200
    page = await resp.text()
    match = re.search(
        r'<script type="application/json" id="desk-config">(.*?)</script>', page, re.S
    )
    assert match is not None
    config = json.loads(match.group(1))
    assert config["operator"]["login"] == "alice"
    assert "lunch" in config["not_ready_reasons"]
    assert config["websdk_url"].endswith("voximplant.min.js")
    resp = await c.get("/supervisor")
    assert resp.status == 403


async def test_desk_escapes_what_operators_and_callers_type(backend: Backend) -> None:
    await backend.add_operator("eve", name="<script>alert(1)</script>")
    await backend.login("eve")
    page = await (await backend.client.get("/desk")).text()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


async def test_supervisor_page_for_supervisors(backend: Backend) -> None:
    await backend.add_operator("sue", role="supervisor")
    await backend.login("sue")
    resp = await backend.client.get("/supervisor")
    assert resp.status == 200 and "/static/js/supervisor.js" in await resp.text()


async def test_static_files_and_the_web_sdk_are_served(backend: Backend) -> None:
    for path in ("/static/js/desk.js", "/static/css/desk.css"):
        assert (await backend.client.get(path)).status == 200, path
    resp = await backend.client.get("/static/vendor/voximplant-websdk/voximplant.min.js")
    assert resp.status == 200
    assert "VoxImplant" in (await resp.text())[:2000]
    assert (await backend.client.get("/static/js/nope.js")).status == 404


async def test_today_counts_offers_answers_and_time(make_backend: Callable[..., Any]) -> None:
    b: Backend = await make_backend(DESK_CONFIG)
    assert (await _anonymous(b).client.get("/api/v1/me/today")).status == 401
    auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    await b.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
    await operator_in(b, "alice", "wrap_up")
    resp = await b.client.get("/api/v1/me/today", headers=auth)
    assert resp.status == 200
    t = await resp.json()
    assert (t["offers"], t["answered"], t["not_answered"]) == (1, 1, 0)
    call = await b.call(placed["call_id"])
    talk = datetime.fromisoformat(call["ended_at"]) - datetime.fromisoformat(call["connected_at"])
    assert abs(t["talk_s"] - round(talk.total_seconds(), 1)) <= 0.1
    assert t["avg_answer_s"] is not None
    # Wrap-up is the status in force: counted up to now, so it lies between 0 and the time
    # since the call ended.
    since_end = (datetime.now(UTC) - datetime.fromisoformat(call["ended_at"])).total_seconds()
    assert t["ready_s"] > 0 and 0 <= t["time_s"]["activity"]["wrap_up"] <= since_end + 0.1


async def test_media_is_off_without_voximplant_config(backend: Backend) -> None:
    auth = await backend.ready_operator("alice")
    resp = await backend.client.get("/api/v1/me/media", headers=auth)
    info = await resp.json()
    assert info["enabled"] is False and "not configured" in info["reason"]
    resp = await backend.client.post("/api/v1/me/media/login_hash", json={"key": "k"}, headers=auth)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "media_not_configured"


async def test_one_time_key_hash_never_needs_the_password(make_backend: Callable[..., Any]) -> None:
    b: Backend = await make_backend(VOX)
    auth = await b.ready_operator("alice")
    info = await (await b.client.get("/api/v1/me/media", headers=auth)).json()
    assert info["enabled"] is False and "no Voximplant login" in info["reason"]
    url = "/api/v1/operators/alice/voximplant"
    # Only administrators set it, with exactly one of the password or its digest.
    assert (await b.client.put(url, json={"password": "pw"}, headers=auth)).status == 403
    for body in ({}, {"password": "pw", "password_digest": "0" * 32}, {"password_digest": "xyz"}):
        resp = await b.client.put(url, json=body, headers=b.admin)
        assert resp.status == 422, body
    resp = await b.client.put(
        "/api/v1/operators/ghost/voximplant", json={"password": "pw"}, headers=b.admin
    )
    assert resp.status == 404
    resp = await b.client.put(url, json={"password": "s3cret"}, headers=b.admin)
    assert resp.status == 200 and (await resp.json()) == {
        "login": "alice",
        "user": "alice",
        "digest_set": True,
    }
    info = await (await b.client.get("/api/v1/me/media", headers=auth)).json()
    assert info == {
        "enabled": True,
        "username": "alice@desk.acme.voximplant.com",
        "node": "NODE_4",
        "reason": None,
    }
    resp = await b.client.post("/api/v1/me/media/login_hash", json={"key": "abc123"}, headers=auth)
    assert resp.status == 200
    inner = hashlib.md5(b"alice:voximplant.com:s3cret").hexdigest()
    expected = hashlib.md5(f"abc123|{inner}".encode()).hexdigest()
    assert await resp.json() == {"username": "alice@desk.acme.voximplant.com", "hash": expected}
    assert "s3cret" not in json.dumps(await (await b.client.get("/api/v1/me", headers=auth)).json())
    resp = await b.client.post("/api/v1/me/media/login_hash", json={"key": ""}, headers=auth)
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "key"
    assert (
        await _anonymous(b).client.post("/api/v1/me/media/login_hash", json={"key": "k"})
    ).status == 401
