"""Listen, whisper, barge in Chromium: the supervisor's buttons on a connected call of the live
floor (their Web SDK answers their own leg by itself), and the operator's desk saying, pushed
live, that a supervisor is listening, whispering or on the call. Screenshots in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.browser.conftest import VIEWPORT, LiveDesk, shot
from tests.browser.test_desk_browser import (
    FAKE_SDK,
    answer,
    desk_with_fake_sdk,
    offered_in_sdk,
    sign_in,
)
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser


async def _supervisor_page(browser: Browser, desk: LiveDesk, login: str) -> Page:
    """The supervisor signed in on their own page, with a media password and the stand-in SDK."""
    await desk.api.add_operator(login, [("sales", 1)], role="supervisor")
    resp = await desk.api.client.put(
        f"/api/v1/operators/{login}/voximplant", json={"password": "vox-pw"}, headers=desk.api.admin
    )
    assert resp.status == 200
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()

    async def fake_sdk(route: Route) -> None:
        await route.fulfill(path=FAKE_SDK, content_type="application/javascript")

    await page.route("**/static/vendor/voximplant-websdk/voximplant.min.js", fake_sdk)
    await sign_in(page, desk, login, lands="supervisor")
    await expect(page.locator("#media-status")).to_have_text("Media connected")
    return page


async def test_listen_whisper_barge_and_leave_from_the_floor(
    live: Callable[..., Any], page: Page, browser: Browser
) -> None:
    desk = await desk_with_fake_sdk(live, page, "alice")
    await offered_in_sdk(page, desk, "alice")
    await page.get_by_role("button", name="Answer", exact=True).click()
    call_id = await page.evaluate("window.__vox.calls[0].headers()['X-Call-Id']")
    session = next(s for s in desk.platform.sessions.values() if s.call_id == call_id)
    await answer(desk, {"session_id": session.session_id})
    await expect(page.locator("#card-state")).to_have_text("Connected")
    banner = page.locator("#supervised")
    await expect(banner).to_be_hidden()

    sue = await _supervisor_page(browser, desk, "sue")
    errors: list[str] = []
    sue.on("pageerror", lambda e: errors.append(str(e)))
    desk.platform.script("sue", Script(answer_after_s=None))  # the test rings her browser
    controls = sue.get_by_role("group", name="Supervise alice's call")
    await expect(controls.get_by_role("button")).to_have_text(["Listen", "Whisper", "Barge"])
    await shot(sue, "supervise-1-floor-with-buttons")

    # Listen: the scenario dials sue's media user; her page answers that leg by itself.
    await controls.get_by_role("button", name="Listen").click()

    async def dialled() -> str | None:
        return next((p for p, st in session.parties.items() if st == "ringing"), None)

    party_id = await eventually(dialled, message="sue's leg dialled")
    [cmd] = [c for c in session.commands if c["command"] == "add_party"]
    assert cmd["mode"] == "listen" and cmd["target"]["address"] == "sue"
    headers = cmd["headers"]
    # A call that is not the one she asked for is refused on her device.
    await sue.evaluate("(h) => window.__vox.ring(false, h)", {**headers, "X-Call-Id": "other"})
    await sue.evaluate("(h) => window.__vox.ring(false, h)", headers)
    await sue.wait_for_function("window.__vox.answered !== null")
    assert await sue.evaluate("window.__vox.rejected") == [party_id]
    session.parties[party_id] = "connected"
    await desk.platform.post_event(session, {"type": "party_connected", "party_id": party_id})

    # The operator sees it at once, pushed: listening.
    await expect(banner).to_have_text("Supervisor sue is listening")
    await expect(page.locator("#parties-list li").nth(2)).to_have_text(
        "sue (supervisor, listen) — on the line"
    )
    await expect(controls.get_by_role("button", name="Listen")).to_have_attribute(
        "aria-pressed", "true"
    )
    await shot(page, "supervise-2-desk-listening")
    await shot(sue, "supervise-2-floor-listening")

    # Whisper, then barge: the same leg, the mode switched; the desk follows.
    await controls.get_by_role("button", name="Whisper").click()
    await expect(banner).to_have_text(
        "Supervisor sue is whispering to you (the caller does not hear them)"
    )
    await expect(banner).to_have_attribute("data-mode", "whisper")
    await expect(controls.get_by_role("button", name="Whisper")).to_have_attribute(
        "aria-pressed", "true"
    )
    await shot(page, "supervise-3-desk-whispering")
    await controls.get_by_role("button", name="Barge").click()
    await expect(banner).to_have_text("Supervisor sue is on the call (everyone hears them)")
    await shot(page, "supervise-4-desk-barge")
    modes = [c["mode"] for c in session.commands if c["command"] == "party_mode"]
    assert modes == ["whisper", "barge"]

    # Leave: the banner goes, the buttons offer to join again.
    await controls.get_by_role("button", name="Leave").click()
    await expect(banner).to_be_hidden()
    await expect(controls.get_by_role("button")).to_have_text(["Listen", "Whisper", "Barge"])
    assert any(c["command"] == "remove_party" for c in session.commands)
    await expect(sue.locator("#supervise-message")).to_have_text("")
    await shot(sue, "supervise-5-floor-after-leaving")
    assert not errors, f"JavaScript errors on the supervisor's page: {errors}"
    assert re.match(r"^[0-9a-f]{32}$", party_id)
    await sue.context.close()


async def test_a_refusal_is_shown_on_the_floor(
    live: Callable[..., Any], page: Page, browser: Browser
) -> None:
    desk = await desk_with_fake_sdk(live, page, "alice")
    await offered_in_sdk(page, desk, "alice")
    await page.get_by_role("button", name="Answer", exact=True).click()
    call_id = await page.evaluate("window.__vox.calls[0].headers()['X-Call-Id']")
    session = next(s for s in desk.platform.sessions.values() if s.call_id == call_id)
    await answer(desk, {"session_id": session.session_id})
    sue = await _supervisor_page(browser, desk, "sue")
    # Ready (and so routable in sales): she could be offered a call while listening.
    await sue.evaluate(
        "fetch('/api/v1/me/status', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: JSON.stringify({status: 'ready'})})"
    )
    controls = sue.get_by_role("group", name="Supervise alice's call")
    await controls.get_by_role("button", name="Barge").click()
    await expect(sue.locator("#supervise-message")).to_have_text(
        "you are ready: be Not ready and off calls to supervise"
    )
    assert not [c for c in session.commands if c["command"] == "add_party"]
    await shot(sue, "supervise-6-refused")
    await sue.context.close()
