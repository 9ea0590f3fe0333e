"""The end-user's video page in Chromium at phone size: what it says, and the guest's Web SDK
call (one-time-key login, a video call with the link's token in customData) against the
stand-in SDK, with fake camera and microphone."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, ViewportSize, async_playwright, expect

from backend.settings import Settings
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveDesk, shot
from tests.support.desk import connected_call, operator_in
from tests.support.fake_platform import FakePlatform
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

FAKE_SDK = Path(__file__).resolve().parent / "fakes" / "voximplant-sdk.js"
PHONE: ViewportSize = {"width": 390, "height": 844}
CONFIG = """
[[groups]]
name = "default"

[[groups]]
name = "sales"

[[groups]]
name = "support"

[voximplant]
account = "acme"
application = "switchboard"
node = "NODE_1"

[video]
guest_users = ["video-guest"]
"""


@pytest.fixture
async def desk(make_settings: Callable[..., Settings]) -> AsyncIterator[LiveDesk]:
    platform = FakePlatform([], "platform-secret")
    await platform.start()
    settings = make_settings(CONFIG, voximplant_guest_password="guest-pass")
    live = LiveDesk(settings, platform)
    await live.start()
    yield live
    await live.stop()
    await platform.close()


@pytest.fixture
async def phone() -> AsyncIterator[Browser]:
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(phone: Browser) -> AsyncIterator[Page]:
    context = await phone.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    async def fake_sdk(route: Route) -> None:
        await route.fulfill(path=FAKE_SDK, content_type="application/javascript")

    await page.route("**/static/vendor/voximplant-websdk/voximplant.min.js", fake_sdk)
    yield page
    await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def placed(page: Page, count: int) -> None:
    """Wait until the page has placed `count` calls through the SDK."""

    async def probe() -> bool:
        return bool(
            await page.evaluate(f"(window.__vox && window.__vox.placed.length) === {count}")
        )

    await eventually(probe, message=f"{count} call(s) placed")


async def invited_link(desk: LiveDesk) -> str:
    """Alice invites the caller of her voice call (development: the SMS is logged), hangs up."""
    api = desk.api
    auth = await api.ready_operator("alice")
    placed = await connected_call(api, "alice", caller="+15551230001")
    resp = await api.client.post(
        f"/api/v1/calls/{placed['call_id']}/video_invite", json={}, headers=auth
    )
    assert resp.status == 201, await resp.text()
    link = str((await resp.json())["link"])
    await api.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
    await operator_in(api, "alice", "video_reserved")
    return desk.url + "/video/" + link.rsplit("/video/", 1)[1]


async def test_the_guest_starts_a_video_call_from_the_link(desk: LiveDesk, page: Page) -> None:
    url = await invited_link(desk)
    token = url.rsplit("/", 1)[1]
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Video call")).to_be_visible()
    await expect(page.locator("#message")).to_have_text("Alice is waiting for you on video.")
    await expect(page.get_by_text("End your phone call now.")).to_be_visible()
    start = page.get_by_role("button", name="Start video call")
    await shot(page, "video-1-invitation")

    await start.click()
    await expect(page.locator("#call-status")).to_have_text("Calling…")
    await placed(page, 1)
    username = "video-guest@switchboard.acme.voximplant.com"
    inner = hashlib.md5(b"video-guest:voximplant.com:guest-pass").hexdigest()
    expected = hashlib.md5(f"KEY-123|{inner}".encode()).hexdigest()
    assert await page.evaluate("window.__vox.keyRequests") == [username]
    assert await page.evaluate("window.__vox.logins") == [[username, expected]]
    assert await page.evaluate("window.__vox.init.node") == "NODE_1"
    settings: dict[str, Any] = await page.evaluate("window.__vox.placed[0].settings")
    assert settings == {
        "number": "video",
        "video": {"sendVideo": True, "receiveVideo": True},
        "customData": f'{{"invite":"{token}"}}',
    }
    await page.evaluate("window.__vox.answerPlaced()")
    await expect(page.locator("#call-status")).to_have_text(
        "Connected: you are on video with Alice."
    )
    hangup = page.get_by_role("button", name="End the video call")
    await expect(hangup).to_be_visible()
    await expect(start).to_be_hidden()
    await shot(page, "video-2-connected")
    await hangup.click()
    await expect(page.locator("#call-status")).to_have_text("The video call has ended. Thank you!")
    assert await page.evaluate("window.__vox.placed[0].hungUp") is True


async def test_a_failed_call_can_be_tried_again(desk: LiveDesk, page: Page) -> None:
    await page.goto(await invited_link(desk))
    start = page.get_by_role("button", name="Start video call")
    await start.click()
    await placed(page, 1)
    await page.evaluate("window.__vox.failPlaced(480, 'Temporarily Unavailable')")
    await expect(page.locator("#call-status")).to_have_text(
        "The video call could not start: Temporarily Unavailable. Tap the button to try again."
    )
    await expect(start).to_be_enabled()
    await start.click()
    await placed(page, 2)
    assert await page.evaluate("window.__vox.logins.length") == 1  # logged in once


async def test_a_tampered_link_says_so(desk: LiveDesk, page: Page) -> None:
    url = await invited_link(desk)
    response = await page.goto(url[:-4] + "AAAA")
    assert response is not None and response.status == 400
    await expect(page.locator("#message")).to_have_text(
        "This link is not valid. Please ask us for a new one."
    )
    await expect(page.get_by_role("button", name="Start video call")).to_have_count(0)
    await shot(page, "video-3-invalid-link")
