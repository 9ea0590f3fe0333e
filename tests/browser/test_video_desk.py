"""Video on the desk (seeds 000 and 003): the invitation button on a voice call, Video Reserved
after wrap-up with its release button, and during a video call the operator's own video off and
on and pushing a screen or tab to the caller (the stand-in SDK records the calls)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import LiveDesk, shot
from tests.browser.test_desk_browser import FAKE_SDK, answer, ring, sign_in

pytestmark = pytest.mark.browser

VOX = '\n[voximplant]\naccount = "acme"\napplication = "desk"\nnode = "NODE_1"\n'


async def media_desk(live: Callable[..., Any], page: Page) -> LiveDesk:
    desk: LiveDesk = await live(VOX)
    await desk.api.add_operator("dora")
    await desk.api.client.put(
        "/api/v1/operators/dora/voximplant", json={"password": "vox-pw"}, headers=desk.api.admin
    )

    async def fake_sdk(route: Route) -> None:
        await route.fulfill(path=FAKE_SDK, content_type="application/javascript")

    await page.route("**/static/vendor/voximplant-websdk/voximplant.min.js", fake_sdk)
    await sign_in(page, desk, "dora")
    await expect(page.locator("#media-status")).to_have_text("Media connected")
    await page.get_by_role("button", name="Ready", exact=True).click()
    return desk


async def test_invite_to_video_then_wait_for_it_and_release(
    live: Callable[..., Any], page: Page
) -> None:
    desk = await media_desk(live, page)
    placed = await ring(desk, "dora", caller="+15551230001")
    await answer(desk, placed)
    invite = page.get_by_role("button", name="Invite to video")
    await expect(invite).to_be_visible()
    await invite.click()
    await expect(page.get_by_text("Video invitation written to the call's log")).to_be_visible()
    await shot(page, "desk-video-1-invited")

    # The call ends; wrap-up (this group requires a code), then Video Reserved.
    await page.get_by_role("button", name="Hang up").click()
    await expect(page.locator("#activity")).to_contain_text("Wrap-up")
    await page.get_by_label("Code").select_option("resolved")
    await page.get_by_role("button", name="Set disposition").click()
    await expect(page.locator("#disposition-saved")).to_have_text("Saved: resolved")
    await page.get_by_role("button", name="Finish wrap-up").click()
    await expect(page.locator("#activity")).to_contain_text("Reserved for a video call")
    release = page.get_by_role("button", name="Stop waiting for the video call")
    await expect(release).to_be_visible()
    await shot(page, "desk-video-2-reserved")
    await release.click()
    await expect(page.locator("#activity")).not_to_contain_text("Reserved")
    await expect(release).to_be_hidden()


async def test_a_caller_without_a_number_cannot_be_invited(
    live: Callable[..., Any], page: Page
) -> None:
    desk = await media_desk(live, page)
    placed = await ring(desk, "dora", caller="sip:guest@example.org")
    await answer(desk, placed)
    await page.get_by_role("button", name="Invite to video").click()
    await expect(page.locator("#card-message")).to_contain_text(
        "the caller has no phone number (a SIP or Web SDK caller)"
    )


async def test_video_off_and_on_and_pushing_a_screen(live: Callable[..., Any], page: Page) -> None:
    desk = await media_desk(live, page)
    placed = await ring(desk, "dora", media="video")
    offer_id = desk.platform.sessions[placed["session_id"]].ringing
    headers = {"X-Call-Id": placed["call_id"], "X-Offer-Id": offer_id}
    await page.evaluate("(h) => window.__vox.ring(true, h)", headers)
    await page.get_by_role("button", name="Answer with video").click()
    await expect(page.locator("#video-panel")).to_be_visible()
    camera = page.get_by_role("button", name="Turn my video off")
    await camera.click()
    await expect(page.get_by_role("button", name="Turn my video on")).to_have_attribute(
        "aria-pressed", "false"
    )
    await page.get_by_role("button", name="Turn my video on").click()
    push = page.get_by_role("button", name="Push video (share a screen or tab)")
    await push.click()
    stop = page.get_by_role("button", name="Stop pushing video")
    await expect(stop).to_have_attribute("aria-pressed", "true")
    await shot(page, "desk-video-3-pushing")
    await stop.click()
    await expect(push).to_be_visible()
    assert await page.evaluate("window.__vox.video") == [
        ["sendVideo", False],
        ["sendVideo", True],
        ["shareScreen", True, True],
        ["stopSharingScreen"],
    ]
