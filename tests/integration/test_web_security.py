"""The pages and the API in a browser: cookie-authenticated writes only from our own pages and
only as JSON, security headers on every answer, a favicon, and the right landing page."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Backend

STATUS = "/api/v1/me/status"


def _cookie_only(b: Backend) -> None:
    """What a browser sends: the session cookie, never the Bearer token."""
    assert any(c.key == "sb_session" for c in b.client.session.cookie_jar)


async def test_cookie_writes_must_come_from_our_own_origin(backend: Backend) -> None:
    await backend.add_operator("amy")
    await backend.login("amy")
    _cookie_only(backend)
    own = str(backend.client.make_url("")).rstrip("/")
    host = backend.client.make_url("").host
    port = backend.client.make_url("").port
    assert port is not None
    evil = f"http://{host}:{port + 1}"  # another port of the same host: another origin
    body = json.dumps({"status": "not_ready", "reason": "break"})
    # The attack as reported: a simple (no-preflight) fetch with text/plain from another port.
    for headers in (
        {"Origin": evil, "Content-Type": "text/plain"},
        {"Origin": evil, "Content-Type": "application/json"},
        {"Referer": evil + "/page", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Content-Type": "application/json"},  # neither Origin nor Referer
    ):
        resp = await backend.client.post(STATUS, data=body, headers=headers)
        assert resp.status == 403, (headers, await resp.text())
        assert (await resp.json())["error"]["code"] == "cross_origin"
    resp = await backend.client.post(
        STATUS, data=body, headers={"Origin": own, "Content-Type": "text/plain"}
    )
    assert resp.status == 415
    assert (await backend.operator("amy"))["presence"] == "offline"
    resp = await backend.client.post(
        STATUS, data=body, headers={"Origin": own, "Content-Type": "application/json"}
    )
    assert resp.status == 200 and (await resp.json())["presence"] == "not_ready"
    resp = await backend.client.post(
        "/api/v1/auth/logout", headers={"Origin": evil}
    )  # logging someone out from elsewhere is refused too
    assert resp.status == 403


async def test_bearer_writes_need_no_origin(backend: Backend) -> None:
    await backend.add_operator("bea")
    auth = await backend.login("bea")
    resp = await backend.client.post(
        STATUS, json={"status": "ready"}, headers={**auth, "Origin": "http://elsewhere.example"}
    )
    assert resp.status == 200


@pytest.mark.parametrize(
    "path", ["/login", "/desk", "/supervisor", "/api/v1/me", "/static/js/desk.js", "/nope"]
)
async def test_every_answer_carries_the_security_headers(backend: Backend, path: str) -> None:
    await backend.add_operator("cy", role="supervisor")
    await backend.login("cy")
    resp = await backend.client.get(path, allow_redirects=False)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_there_is_a_favicon(backend: Backend) -> None:
    resp = await backend.client.get("/favicon.ico")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    page = await (await backend.client.get("/login")).text()
    assert 'rel="icon"' in page


@pytest.mark.parametrize(
    ("role", "home"),
    [("operator", "/desk"), ("supervisor", "/supervisor"), ("admin", "/supervisor")],
)
async def test_each_role_lands_on_its_page(backend: Backend, role: str, home: str) -> None:
    await backend.add_operator("dee", role=role)
    await backend.login("dee")
    for path in ("/", "/login"):
        resp = await backend.client.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == home, path
