"""The desk during a call with more than two parties: talk timer, Hold/Resume, Mute, the Add
party picker, Transfer with its required reason, Leave, the party list, and a help offer that
looks different from a customer's call. Screenshots in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LiveDesk, shot
from tests.browser.test_desk_browser import answer, desk_with_fake_sdk, offered_in_sdk, sign_in
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser


async def _ready(desk: LiveDesk, login: str) -> dict[str, str]:
    return await desk.api.ready_operator(login)


async def test_hold_mute_add_party_transfer_reason_and_leave(
    live: Callable[..., Any], page: Page
) -> None:
    desk = await desk_with_fake_sdk(live, page, "alice")
    await offered_in_sdk(page, desk, "alice")
    await page.get_by_role("button", name="Answer", exact=True).click()
    placed_id = await page.evaluate("window.__vox.calls[0].headers()['X-Call-Id']")
    session = next(s for s in desk.platform.sessions.values() if s.call_id == placed_id)
    await answer(desk, {"session_id": session.session_id})
    await expect(page.locator("#card-state")).to_have_text("Connected")
    parties = page.locator("#parties-list li")
    await expect(parties).to_have_text(
        [re.compile("^Caller .* on the line$"), "alice — on the line"]
    )
    # The talk timer runs.
    await expect(page.locator("#f-talk")).to_have_text(re.compile(r"^0:0[1-9]$"), timeout=5000)

    # Hold and resume.
    await page.get_by_role("button", name="Hold", exact=True).click()
    await expect(parties.first).to_contain_text("on hold")
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    await page.get_by_role("button", name="Resume").click()
    await expect(parties.first).to_contain_text("on the line")
    # Mute: the Web SDK's own microphone.
    await page.get_by_role("button", name="Mute", exact=True).click()
    assert await page.evaluate("window.__vox.calls[0].isMicrophoneMuted()") is True
    await expect(page.get_by_role("button", name="Unmute")).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.get_by_role("button", name="Unmute").click()
    assert await page.evaluate("window.__vox.calls[0].isMicrophoneMuted()") is False

    # The picker: operators with their states, groups with how many are routable, pushed
    # over the desk's socket as they change (no reload, no polling).
    desk.platform.script("bob", Script(answer_after_s=None))
    await _ready(desk, "bob")
    await desk.api.add_operator("carl")  # offline
    picker = page.locator("#party-target option")
    await expect(picker).to_have_text(["bob — ready, idle", "carl — offline, idle"])
    await page.locator("#party-type").select_option("group")
    await expect(picker.first).to_have_text("default (1 routable)")
    await page.locator("#party-type").select_option("operator")
    await page.locator("#party-target").select_option("bob")
    await page.get_by_placeholder("Why (shown to them)").fill("billing question")
    await page.get_by_role("button", name="Add party").click()
    await expect(parties.nth(2)).to_have_text("bob (help) — ringing")
    await shot(page, "parties-1-helper-ringing")

    # Bob answers: three on the line.
    [party_id] = [p for p, st in session.parties.items() if st == "ringing"]
    session.parties[party_id] = "connected"
    await desk.platform.post_event(session, {"type": "party_connected", "party_id": party_id})
    await expect(parties.nth(2)).to_have_text("bob (help) — on the line")
    # Transfer needs a reason.
    await page.get_by_role("button", name="Transfer", exact=True).click()
    await expect(page.locator("#party-message")).to_have_text("Give the reason for the transfer.")
    await shot(page, "parties-2-three-on-the-line")

    # Alice leaves: bob and the caller go on, alice is in wrap-up.
    await page.get_by_role("button", name="Leave").click()
    await expect(parties.nth(1)).to_have_text("alice — left: left")
    await expect(page.locator("#activity")).to_contain_text("Wrap-up")

    async def bob_owns() -> bool:
        return bool((await desk.api.call(placed_id))["operator"] == "bob")

    await eventually(bob_owns, message="bob owns the call")
    await shot(page, "parties-3-left")


async def test_a_help_offer_looks_different_and_says_who_asks_and_why(
    live: Callable[..., Any], page: Page
) -> None:
    desk: LiveDesk = await live()
    alice = await _ready(desk, "alice")
    desk.platform.script("alice", Script(answer_after_s=0.01, talk_s=None))
    placed = await desk.api.place_call(display_name="Maria Rossi")

    async def connected() -> bool:
        return bool((await desk.api.call(placed["call_id"]))["state"] == "connected")

    await eventually(connected, message="alice answered")
    await desk.api.add_operator("bob")
    await sign_in(page, desk, "bob")
    await page.get_by_role("button", name="Ready", exact=True).click()
    await expect(page.locator("#presence")).to_have_text("Ready")
    desk.platform.script("bob", Script(answer_after_s=None))
    resp = await desk.api.client.post(
        f"/api/v1/calls/{placed['call_id']}/parties",
        json={"to": {"type": "operator", "address": "bob"}, "reason": "a refund over 500 EUR"},
        headers=alice,
    )
    assert resp.status == 202, await resp.text()
    await expect(page.locator("#card-kind")).to_have_text("Help request")
    await expect(page.locator("#card-state")).to_have_text("Ringing")
    await expect(page.locator("#card")).to_have_attribute("data-kind", "help")
    await expect(page.locator("#card-help")).to_have_text(
        "alice asks you in: a refund over 500 EUR"
    )
    await expect(page.locator("#card-announce")).to_have_text("alice asks for your help")
    await shot(page, "parties-4-help-offer")


async def test_the_add_party_picker_follows_colleagues_live(
    live: Callable[..., Any], page: Page
) -> None:
    desk = await desk_with_fake_sdk(live, page, "alice")
    await offered_in_sdk(page, desk, "alice")
    await page.get_by_role("button", name="Answer", exact=True).click()
    placed_id = await page.evaluate("window.__vox.calls[0].headers()['X-Call-Id']")
    session = next(s for s in desk.platform.sessions.values() if s.call_id == placed_id)
    await answer(desk, {"session_id": session.session_id})
    await expect(page.locator("#card-state")).to_have_text("Connected")
    await desk.api.add_operator("dora")  # offline, in the default group
    picker = page.locator("#party-target option")
    await expect(picker).to_have_text(["dora — offline, idle"])
    await page.locator("#party-type").select_option("group")
    await expect(picker.first).to_have_text("default (0 routable)")
    gets: list[str] = []
    page.on("request", lambda r: gets.append(r.url) if "party_targets" in r.url else None)
    # Dora goes Ready elsewhere: the count and her state change on alice's desk by themselves.
    dora = await _ready(desk, "dora")
    await expect(picker.first).to_have_text("default (1 routable)")
    await page.locator("#party-type").select_option("operator")
    await expect(picker).to_have_text(["dora — ready, idle"])
    await shot(page, "parties-5-picker-live")
    resp = await desk.api.client.post(
        "/api/v1/me/status", json={"status": "not_ready", "reason": "break"}, headers=dora
    )
    assert resp.status == 200, await resp.text()
    await expect(picker).to_have_text(["dora — not ready, idle"])
    assert await page.locator("#party-target").evaluate("s => s.options[0].dataset.routable") == (
        "false"
    )
    assert gets == []  # pushed, never fetched


async def test_the_caller_hangs_up_and_the_two_operators_talk_on(
    live: Callable[..., Any], page: Page
) -> None:
    desk = await desk_with_fake_sdk(live, page, "alice")
    await offered_in_sdk(page, desk, "alice")
    await page.get_by_role("button", name="Answer", exact=True).click()
    placed_id = await page.evaluate("window.__vox.calls[0].headers()['X-Call-Id']")
    session = next(s for s in desk.platform.sessions.values() if s.call_id == placed_id)
    await answer(desk, {"session_id": session.session_id})
    await expect(page.locator("#card-state")).to_have_text("Connected")
    desk.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    await _ready(desk, "bob")
    await page.locator("#party-target").select_option("bob")
    await page.get_by_role("button", name="Add party").click()
    parties = page.locator("#parties-list li")
    await expect(parties.nth(2)).to_have_text("bob (help) — on the line")
    await expect(page.get_by_role("button", name="Hold", exact=True)).to_be_visible()

    # The caller hangs up (seed 002): alice and bob talk on; nothing to hold, add or transfer.
    await desk.platform.hang_up_caller(session.session_id)
    await expect(parties.first).to_have_text(re.compile("^Caller .* — left: hung up$"))
    await expect(parties.nth(1)).to_have_text("alice — on the line")
    await expect(page.locator("#card-state")).to_have_text("Connected")
    await expect(page.get_by_role("button", name="Hold", exact=True)).to_be_hidden()
    await expect(page.locator("#party-form")).to_be_hidden()
    await expect(page.locator("#transfer-form")).to_be_hidden()
    await expect(page.get_by_role("button", name="Leave")).to_be_visible()
    await shot(page, "parties-6-caller-left")

    # Alice leaves: bob is alone, so the call ends and alice wraps up.
    await page.get_by_role("button", name="Leave").click()
    await expect(page.locator("#activity")).to_contain_text("Wrap-up")

    async def ended() -> bool:
        return bool((await desk.api.call(placed_id))["state"] == "ended")

    await eventually(ended, message="the call ended with one party left")
