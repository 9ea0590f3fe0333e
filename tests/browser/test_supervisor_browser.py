"""The supervisor's page in Chromium: the live floor follows a change without a reload, and a
report shows its chart and serves its CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LiveDesk, shot
from tests.browser.test_desk_browser import sign_in
from tests.support.desk import call_in_state, connected_call, operator_in

pytestmark = pytest.mark.browser


async def test_the_floor_follows_an_operator_without_a_reload(
    live: Callable[..., Any], page: Page
) -> None:
    desk: LiveDesk = await live("\n[supervision]\nlongest_wait_amber_s = 1\n")
    await desk.api.add_operator("sara", role="supervisor")
    await desk.api.add_operator("olga", [("default", 2), ("sales", 1)])
    olga = await desk.api.login("olga")
    await sign_in(page, desk, "sara", lands="supervisor")
    row = page.locator("#floor-operators tbody tr[data-login='olga']")
    await expect(row.locator("td").nth(0)).to_have_text("offline")
    await expect(row.locator("td").nth(4)).to_have_text("default (2), sales (1)")
    await page.evaluate("window.__notReloaded = true")
    await desk.api.set_status(olga, "not_ready", "lunch")
    await expect(row.locator("td").nth(0)).to_have_text("not ready (lunch)")
    # A call with nobody ready waits, and its group turns amber past a second.
    await desk.api.place_call()
    waiting = page.locator("#waiting tbody tr")
    await expect(waiting).to_have_count(1)
    await expect(waiting.locator("td").nth(0)).to_have_text("default")
    group = page.locator("#queues tbody tr", has_text="default")
    await expect(group.locator("td").first).to_have_text("1")
    await expect(group).to_have_attribute("data-level", "amber", timeout=5000)
    assert await page.evaluate("window.__notReloaded") is True
    await shot(page, "supervisor-floor")


async def test_a_report_with_its_chart_and_csv(live: Callable[..., Any], page: Page) -> None:
    desk: LiveDesk = await live()
    b = desk.api
    await b.add_operator("sara", role="supervisor")
    auth = await b.ready_operator("ann")
    for _ in range(2):
        placed = await connected_call(b, "ann")
        resp = await b.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
        assert resp.status == 200, await resp.text()
        await call_in_state(b, placed["call_id"], "ended")
        call = f"/api/v1/calls/{placed['call_id']}"
        put = await b.client.put(f"{call}/disposition", json={"code": "resolved"}, headers=auth)
        assert put.status == 200, await put.text()
        finish = await b.client.post("/api/v1/me/wrap_up/finish", headers=auth)
        assert finish.status == 200, await finish.text()
        await operator_in(b, "ann", "idle")
    await b.engine.drain()
    await sign_in(page, desk, "sara", lands="supervisor")
    await expect(page.locator("#report-status")).to_contain_text("by hour")
    await page.get_by_label("By").select_option("15min")
    await page.get_by_role("button", name="Show").click()
    totals = page.locator("#report-groups tbody tr", has_text="All")
    await expect(totals.locator("td").nth(0)).to_have_text("2")
    await expect(totals.locator("td").nth(1)).to_have_text("2")
    await expect(page.locator("#report-status")).to_contain_text("by 15min")
    points = await page.locator("#report-chart").get_attribute("data-points")
    assert points == "96"
    drawn = await page.evaluate(
        "() => { const c = window.Chart.getChart(document.getElementById('report-chart'));"
        " return c.data.datasets[0].data.reduce((a, b) => a + b, 0); }"
    )
    assert drawn == 2  # the answered bars add up to the calls
    ann = page.locator("#report-operators tbody tr", has_text="ann")
    await expect(ann.locator("td").first).to_have_text("2")
    await expect(page.locator("#report-operators thead")).to_contain_text("video reserved")
    href = await page.locator("#csv-operators").get_attribute("href")
    assert href is not None and "format=csv" in href
    download = await page.request.get(desk.url + href)
    assert download.ok and download.headers["content-type"].startswith("text/csv")
    rows = {r["login"]: r for r in csv.DictReader(io.StringIO(await download.text()))}
    assert rows["ann"]["answered"] == "2"
    assert float(rows["ann"]["activity_in_call_s"]) > 0
    assert rows["sara"]["answered"] == "0"  # the supervisor is on the floor too
    assert "activity_video_reserved_s" in rows["ann"]
    await page.locator("#report-chart").scroll_into_view_if_needed()
    await shot(page, "supervisor-report")
