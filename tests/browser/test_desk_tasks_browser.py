"""The desk's voicemail and callback cards in Chromium: a task offered like a call, taken,
listened to (the voicemail's own player loads the recording) and closed with a disposition."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from backend.settings import Settings
from tests.browser.conftest import LiveDesk, shot
from tests.browser.test_desk_browser import sign_in
from tests.support.desk import call_in_state
from tests.support.fake_platform import FakePlatform

pytestmark = pytest.mark.browser

# Nobody online in `default`: its calls go to voicemail. `sales` calls wait (no action), and a
# callback nobody answers once becomes a task for the group.
TASKS_CONFIG = """
rules = [{group = "sales", category = "sales"}]

[desk]
dispositions = ["resolved", "callback_needed"]
personal_fields = ["name"]

[callback]
max_attempts = 1

[[groups]]
name = "default"
wrap_up_s = 120
no_agents_action = "voicemail"

[[groups]]
name = "sales"
wrap_up_s = 120
"""


@pytest.fixture
async def desk(make_settings: Callable[..., Settings]) -> AsyncIterator[LiveDesk]:
    platform = FakePlatform([], "platform-secret")
    await platform.start()
    live = LiveDesk(make_settings(TASKS_CONFIG), platform)
    await live.start()
    yield live
    await live.stop()
    await platform.close()


async def event(desk: LiveDesk, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    api = desk.api
    resp = await api.client.post(f"/api/v1/calls/{call_id}/events", json=body, headers=api.plat)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_a_voicemail_card_plays_the_message_and_closes_with_a_disposition(
    desk: LiveDesk, page: Page
) -> None:
    await desk.api.add_operator("alice")  # offline: nobody could take the call
    placed = await desk.api.place_call(caller="+390212345678")
    assert placed["state"] == "voicemail" and placed["action"]["type"] == "voicemail"
    url = desk.url + "/static/audio/beep.wav"  # a real recording the page can load
    reply = await event(
        desk, placed["call_id"], {"type": "voicemail_recorded", "url": url, "duration_s": 7}
    )
    assert reply["applied"] is True
    await call_in_state(desk.api, placed["call_id"], "queued")

    await sign_in(page, desk, "alice")
    await page.locator("#btn-ready").click()
    await expect(page.locator("#card-kind")).to_have_text("Voicemail")
    await expect(page.locator("#card-state")).to_have_text("Ringing")
    await expect(page.locator("#card-announce")).to_have_text("Voicemail from Caller")
    await expect(page.locator("#task-what")).to_have_text(
        "+390212345678 left a message (0:07). Listen, then close it with a disposition."
    )
    player = page.locator("#voicemail-player")
    await expect(player).to_be_visible()
    await expect(player).to_have_attribute("src", url)
    await expect(page.locator("#btn-hangup")).to_be_hidden()
    await shot(page, "desk-voicemail-1-offered")

    await page.get_by_role("button", name="Take it").click()
    await expect(page.locator("#card-state")).to_have_text("Connected")
    await expect(page.locator("#btn-take-task")).to_be_hidden()
    # The player loads the recording from its URL.
    seconds = await player.evaluate(
        """a => new Promise((ok, fail) => {
            a.preload = "auto";
            a.onloadedmetadata = () => ok(a.duration);
            a.onerror = () => fail(new Error("the recording did not load"));
            a.load();
        })"""
    )
    assert 0.3 < seconds < 0.5
    await page.get_by_role("button", name="Close with the disposition").click()
    await expect(page.locator("#card-message")).to_have_text("Choose a disposition code first.")
    await page.locator("#disposition").select_option("resolved")
    await page.get_by_role("button", name="Close with the disposition").click()
    await expect(page.locator("#card-state")).to_have_text("Ended")
    await expect(page.locator("#activity")).to_contain_text("Wrap-up")
    await shot(page, "desk-voicemail-2-closed")
    call = await desk.api.call(placed["call_id"])
    assert call["outcome"] == "voicemail" and call["operator"] == "alice"
    card = await desk.api.client.get(
        f"/api/v1/calls/{placed['call_id']}/card", headers=await desk.api.login("alice")
    )
    assert (await card.json())["call"]["disposition"] == "resolved"


async def test_a_callback_nobody_answered_is_a_card_to_call_them_yourself(
    desk: LiveDesk, page: Page
) -> None:
    await desk.api.add_operator("bob", [("sales", 1)])
    placed = await desk.api.place_call(caller="+15557770001", custom_data='{"category": "sales"}')
    assert placed["state"] == "queued" and placed["group"] == "sales"
    reply = await event(
        desk, placed["call_id"], {"type": "callback_requested", "number": "+15557770001"}
    )
    assert reply["applied"] is True

    # Bob goes Ready: he is reserved for the callback; the callback cannot be placed here (no
    # Management API credentials) and max_attempts is 1, so it comes back as a task for him.
    await sign_in(page, desk, "bob")
    await page.locator("#btn-ready").click()
    await expect(page.locator("#card-kind")).to_have_text("Callback not answered")
    await expect(page.locator("#task-what")).to_have_text(
        "+15557770001 did not answer 1 callback. Call them yourself, then close it with a "
        "disposition."
    )
    await expect(page.locator("#voicemail-player")).to_be_hidden()
    await shot(page, "desk-callback-1-offered")
    await page.get_by_role("button", name="Take it").click()
    await expect(page.locator("#card-state")).to_have_text("Connected")
    await page.locator("#disposition").select_option("callback_needed")
    await page.get_by_role("button", name="Close with the disposition").click()
    await expect(page.locator("#card-state")).to_have_text("Ended")
    await shot(page, "desk-callback-2-closed")
    call = await desk.api.call(placed["call_id"])
    assert call["outcome"] == "callback" and call["end_reason"] == "callback_failed"
    assert call["callback_attempts"] == 1
