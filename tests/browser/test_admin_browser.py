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
    await page.get_by_label("Name", exact=True).fill("Nina")
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


async def test_group_and_rule_forms_with_their_errors(live: Callable[..., Any], page: Page) -> None:
    desk: LiveDesk = await live()
    await desk.api.add_operator("ada", role="admin")
    await sign_in(page, desk, "ada", lands="supervisor")
    await page.goto(f"{desk.url}/admin")
    groups = page.locator("#admin-groups tbody tr")
    await expect(groups).to_have_count(3)
    error = page.locator("#group-error")

    # Edit support: an unknown group as an action, hours the API cannot read, a loop.
    await page.get_by_role("button", name="Edit group support").click()
    await expect(page.get_by_label("Group name")).to_have_value("support")
    await expect(page.get_by_label("Priority (1 to 100)")).to_have_value("50")
    await page.get_by_label("When nobody can answer").fill("group:nowhere")
    await page.get_by_role("button", name="Save group").click()
    await expect(error).to_have_text("groups.support.no_agents_action: no group named 'nowhere'")
    await expect(page.get_by_label("When nobody can answer")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.get_by_label("When nobody can answer")).to_be_focused()
    await page.get_by_label("When nobody can answer").fill("")
    await page.get_by_label("Hours").fill("mon-fri 9-18")
    await page.get_by_role("button", name="Save group").click()
    await expect(error).to_contain_text("hours")
    await expect(error).to_contain_text("expected like 'mon-fri 09:00-18:00'")
    await expect(page.get_by_label("Hours")).to_have_attribute("aria-invalid", "true")
    resp = await desk.api.client.put(
        "/api/v1/groups/sales",
        json={"priority": 60, "no_agents_action": "group:support"},
        headers=desk.api.admin,
    )
    assert resp.status == 200
    await page.get_by_label("Hours").fill("mon-fri 09:00-18:00; sat 10:00-14:00")
    await page.get_by_label("When closed").fill("group:sales")
    await page.get_by_role("button", name="Save group").click()
    await expect(error).to_contain_text("the group actions make a loop (")
    await expect(page.get_by_label("When closed")).to_have_attribute("aria-invalid", "true")
    await shot(page, "admin-3-group-refused")
    stored = await desk.api.client.get("/api/v1/groups/support", headers=desk.api.admin)
    assert (await stored.json())["closed_action"] is None  # nothing written on refusal

    # Right at last: every setting of the form reaches the group.
    await page.get_by_label("When closed").fill("voicemail")
    await page.get_by_label("Strategy").select_option("fewest_calls")
    await page.get_by_label("Wrap-up seconds").fill("20")
    await page.get_by_label("Disposition required").check()
    await page.get_by_label("Holidays").fill("2026-12-25")
    await page.get_by_label("Maximum wait seconds").fill("600")
    await page.get_by_label("After the maximum wait").fill("callback")
    await page.get_by_role("button", name="Save group").click()
    await expect(page.locator("#group-result")).to_have_text("Saved group support.")
    await expect(error).to_be_hidden()
    row = page.locator("#admin-groups tbody tr[data-group='support']")
    await expect(row.locator("td").nth(1)).to_have_text("fewest calls")
    await expect(row.locator("td").nth(2)).to_have_text("20 s")
    await expect(row.locator("td").nth(3)).to_have_text("required")
    await expect(row.locator("td").nth(6)).to_have_text("closed: voicemail; after 600 s: callback")
    got = await (await desk.api.client.get("/api/v1/groups/support", headers=desk.api.admin)).json()
    assert (got["strategy"], got["wrap_up_s"], got["require_disposition"]) == (
        "fewest_calls",
        20,
        True,
    )
    assert got["hours"] == ["mon-fri 09:00-18:00", "sat 10:00-14:00"]
    assert (got["holidays"], got["max_wait_s"]) == (["2026-12-25"], 600)

    # A new group, then delete: the default group is refused, the new one goes.
    await page.get_by_label("Group name").fill("vip")
    for label in (
        "When closed",
        "When nobody can answer",
        "Maximum wait seconds",
        "After the maximum wait",
        "Hours",
        "Holidays",
        "Wrap-up seconds",
    ):
        await page.get_by_label(label).fill("")
    await page.get_by_label("Priority (1 to 100)").fill("0")
    await page.get_by_role("button", name="Save group").click()
    await expect(error).to_contain_text("priority")
    await expect(page.get_by_label("Priority (1 to 100)")).to_be_focused()
    await page.get_by_label("Priority (1 to 100)").fill("90")
    await page.get_by_role("button", name="Save group").click()
    await expect(page.locator("#group-result")).to_have_text("Saved group vip.")
    await expect(groups).to_have_count(4)
    await page.get_by_label("Group name").fill("default")
    await page.get_by_role("button", name="Delete group").click()
    await expect(error).to_have_text("default is the default group (routing.default_group)")
    await page.get_by_label("Group name").fill("vip")
    await page.get_by_role("button", name="Delete group").click()
    await expect(page.locator("#group-result")).to_have_text("Deleted group vip.")
    await expect(groups).to_have_count(3)

    # Rules: a pattern that does not compile is named by row and field, then fixed.
    rules_error = page.locator("#rules-error")
    await expect(page.locator("#admin-rules tbody tr")).to_have_count(3)
    await expect(page.get_by_label("Rule 1 category")).to_have_value("sales|pricing|order")
    await page.get_by_role("button", name="Add rule").click()
    await page.get_by_label("Rule 4 group").select_option("support")
    await page.get_by_label("Rule 4 page").fill("(")
    await page.get_by_label("Rule 4 headers").fill("X-Lang=it|en")
    await page.get_by_role("button", name="Save rules").click()
    await expect(rules_error).to_contain_text("rules.3.page")
    await expect(rules_error).to_contain_text("not a valid regular expression")
    await expect(page.get_by_label("Rule 4 page")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Rule 4 page")).to_be_focused()
    await page.get_by_label("Rule 4 page").fill(".*/help")
    await page.get_by_role("button", name="Remove rule 1").click()
    await page.get_by_role("button", name="Save rules").click()
    await expect(page.locator("#rules-result")).to_have_text("Saved the rules.")
    await expect(rules_error).to_be_hidden()
    stored_rules = await (await desk.api.client.get("/api/v1/rules", headers=desk.api.admin)).json()
    assert len(stored_rules["rules"]) == 3
    assert stored_rules["rules"][2] == {
        "group": "support",
        "page": ".*/help",
        "headers": {"X-Lang": "it|en"},
    }

    # The audit log has each change, who made it, and what changed.
    audit = page.locator("#audit tbody tr")
    await expect(audit.first.locator("td").nth(1)).to_have_text("rules updated")
    await expect(audit.first.locator("td").nth(0)).to_have_text("ada")
    deleted = page.locator("#audit tbody tr", has_text="group deleted")
    await expect(deleted.locator("td").nth(2)).to_have_text("vip")
    updated = page.locator("#audit tbody tr", has_text="group updated").first
    await expect(updated.locator("td").nth(2)).to_have_text("support")
    await expect(updated.locator("td").nth(4)).to_contain_text("wrap_up_s: 20")
    await expect(updated.locator("td").nth(3)).to_contain_text("wrap_up_s: null")
    await shot(page, "admin-4-groups-and-rules")
