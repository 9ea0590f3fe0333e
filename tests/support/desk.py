"""Helpers for the desk's tests: a configuration with wrap-up and dispositions, calls in a state."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.support.fake_platform import Script
from tests.support.waiting import eventually

DESK_CONFIG = """
[desk]
dispositions = ["resolved", "callback_needed"]
personal_fields = ["name", "email"]

[[groups]]
name = "default"
wrap_up_s = 120
require_disposition = true

[[groups]]
name = "sales"
priority = 60

[[groups]]
name = "support"
"""


async def call_in_state(b: Backend, call_id: str, state: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        call = await b.call(call_id)
        return call if call["state"] == state else None

    found = await eventually(probe, message=f"call {call_id} {state}")
    assert found is not None
    return found


async def operator_in(b: Backend, login: str, activity: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    async def probe() -> dict[str, Any] | None:
        op = await b.operator(login)
        seen[:] = [op]
        return op if op["activity"] == activity else None

    try:
        found = await eventually(probe, message=f"{login} {activity}")
    except AssertionError as e:
        # Say where the operator is instead, and why (a timeout alone tells nothing).
        raise AssertionError(f"{e}; the operator last read: {seen}") from None
    assert found is not None
    return found


async def connected_call(b: Backend, login: str, **fields: Any) -> dict[str, Any]:
    """A call that the operator answers and that stays connected until someone hangs up."""
    b.platform.script(login, Script(answer_after_s=0.01, talk_s=None))
    placed = await b.place_call(**fields)
    await call_in_state(b, placed["call_id"], "connected")
    return placed


async def wrapped_up_call(b: Backend, login: str, auth: dict[str, str], **fields: Any) -> str:
    """A call the operator answered and hung up: they are in wrap-up on it."""
    placed = await connected_call(b, login, **fields)
    resp = await b.client.post(f"/api/v1/calls/{placed['call_id']}/hangup", headers=auth)
    assert resp.status == 200, await resp.text()
    await operator_in(b, login, "wrap_up")
    return str(placed["call_id"])
