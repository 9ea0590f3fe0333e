"""Absences: an open-ended one is spoken without an empty date; one already over is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from tests.conftest import Backend

CALLER = "+15550004242"


async def _absent(b: Backend, body: dict[str, str]) -> int:
    resp = await b.client.put("/api/v1/operators/manny/absence", json=body, headers=b.admin)
    if resp.status != 200:
        err = (await resp.json())["error"]
        assert err["field"] == "until" and err["code"] == "invalid_field"
    return resp.status


async def test_an_open_ended_absence_has_no_empty_until(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend()
    await b.add_operator("manny", name="Bob")
    assert await _absent(b, {"reason": "sick_leave"}) == 200
    resp = await b.client.put(
        f"/api/v1/contacts/{CALLER}/manager", json={"manager": "manny"}, headers=b.admin
    )
    assert resp.status == 200
    placed = await b.place_call(caller=CALLER)
    assert placed["say"] == "Your manager Bob is away. Another specialist will help you."


@pytest.mark.parametrize("days", [-1, -400])
async def test_an_absence_ending_in_the_past_is_refused(
    make_backend: Callable[..., Awaitable[Backend]], days: int
) -> None:
    b = await make_backend()
    await b.add_operator("manny")
    now = b.engine.clock()
    for until in (
        (now + timedelta(days=days)).date().isoformat(),
        (now - timedelta(minutes=1)).isoformat(),
    ):
        assert await _absent(b, {"reason": "vacation", "until": until}) == 422
    assert (await b.operator("manny"))["absence"] is None
    # Today (a bare date: the whole day) and later are fine.
    assert await _absent(b, {"reason": "vacation", "until": now.date().isoformat()}) == 200
