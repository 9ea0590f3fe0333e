"""Administration in Chromium: each form, its refusals as the API words them, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LiveDesk, shot
from tests.browser.test_desk_browser import sign_in

pytestmark = pytest.mark.browser


async def test_operator_and_absence_forms_with_their_errors(
    live: Callable[..., Any], page: Page
) -> None:
    desk: LiveDesk = await live()
    await desk.api.add_operator("ada", role="admin")
    await sign_in(page, desk, "ada", lands="supervisor")
    await page.get_by_role("link", name="Administration").click()
    await page.wait_for_url("**/admin")
    error = page.locator("#operator-error")

    # Create: an unknown group, then a short password, each refused by name.
    await page.get_by_label("Login").fill("nina")
    await page.get_by_label("Name").fill("Nina")
    await page.get_by_label("Address", exact=True).fill("nina")
    await page.get_by_label("Groups and levels").fill("default:2, nowhere:1")
    await page.get_by_label("Password (new or reset)").fill("long-enough-1")
    await page.get_by_role("button", name="Save operator").click()
    await expect(error).to_have_text("groups.1.name: no group named 'nowhere'")
    await expect(page.get_by_label("Groups and levels")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Groups and levels").fill("default:2, sales:1")
    await page.get_by_label("Password (new or reset)").fill("short")
    await page.get_by_role("button", name="Save operator").click()
    await expect(error).to_contain_text("password")
    await expect(page.get_by_label("Password (new or reset)")).to_be_focused()
    await shot(page, "admin-1-refused")
    await page.get_by_label("Password (new or reset)").fill("long-enough-1")
    await page.get_by_role("button", name="Save operator").click()
    await expect(page.locator("#operator-result")).to_have_text("Saved nina.")
    await expect(error).to_be_hidden()
    row = page.locator("#admin-operators tbody tr[data-login='nina']")
    await expect(row.locator("td").nth(2)).to_have_text("default:2, sales:1")

    # Edit: the role and a level out of range, then right.
    await page.get_by_role("button", name="Edit nina").click()
    await expect(page.get_by_label("Groups and levels")).to_have_value("default:2, sales:1")
    await page.get_by_label("Role").select_option("supervisor")
    await page.get_by_label("Groups and levels").fill("default:9")
    await page.get_by_role("button", name="Save operator").click()
    await expect(error).to_contain_text("groups.0.level")
    await page.get_by_label("Groups and levels").fill("default:5")
    await page.get_by_role("button", name="Save operator").click()
    await expect(row.locator("td").nth(1)).to_have_text("supervisor")
    await expect(row.locator("td").nth(2)).to_have_text("default:5")
    op = await desk.api.operator("nina")
    assert (op["role"], op["groups"]) == ("supervisor", [{"name": "default", "level": 5}])

    # Absence: a day already past is refused; vacation, then present, then dismissed.
    absence_error = page.locator("#absence-error")
    await page.get_by_label("Operator", exact=True).fill("nina")
    await page.get_by_label("Until (last day away)").fill("2020-01-01")
    await page.get_by_role("button", name="Mark absent").click()
    await expect(absence_error).to_have_text("until: must be in the future (or absent: no end)")
    await page.get_by_label("Until (last day away)").fill("")
    await page.get_by_role("button", name="Mark absent").click()
    await expect(page.locator("#absence-result")).to_have_text("nina is marked absent.")
    await expect(row.locator("td").nth(3)).to_have_text("vacation")
    await page.get_by_role("button", name="Mark present").click()
    await expect(page.locator("#absence-result")).to_have_text("nina is marked present.")
    await expect(row.locator("td").nth(3)).to_have_text("")
    await page.get_by_label("Operator", exact=True).fill("nobody")
    await page.get_by_role("button", name="Mark absent").click()
    await expect(absence_error).to_have_text("no operator nobody")
    await page.get_by_label("Operator", exact=True).fill("nina")
    await page.get_by_label("Reason").select_option("dismissed")
    await page.get_by_role("button", name="Mark absent").click()
    await expect(row.locator("td").nth(3)).to_have_text("dismissed")

    # The audit log: newest first, who and what, before and after.
    audit = page.locator("#audit tbody tr")
    await expect(audit.first.locator("td").nth(1)).to_have_text("absence set")
    await expect(audit.first.locator("td").nth(0)).to_have_text("ada")
    await expect(audit.first.locator("td").nth(4)).to_contain_text("dismissed")
    created = page.locator("#audit tbody tr", has_text="operator created")
    await expect(created.locator("td").nth(2)).to_have_text("nina")
    await expect(created.locator("td").nth(1)).to_have_text("operator created (password changed)")
    await shot(page, "admin-2-audit")
