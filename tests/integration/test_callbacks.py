"""Queued callback in one process, against the real database and the fake Management API: the
offer in the reply to the scenario, StartScenarios for the reserved operator (its whole form),
the `callback_start` log entries of a failed and a started session compared whole, the
session's access URL kept for later commands, and a backend without credentials counting the
failure as an attempt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from tests.support.desk import call_in_state
from tests.support.fake_management_api import (
    FakeManagementApi,
    KeyPair,
    running_api,
)
from tests.support.waiting import eventually

MakeBackend = Callable[..., Awaitable[Backend]]

CALLBACK_CONFIG = """
rules = []

[[groups]]
name = "default"

[callback]
enabled = true
rule_name = "callback"
retry_s = 1
max_attempts = 3
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[FakeManagementApi, KeyPair]]:
    async with running_api(tmp_path) as started:
        yield started


def callback_starts(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for e in doc["log"]:
        if e["kind"] == "callback_start":
            e = dict(e)
            assert isinstance(e.pop("at"), datetime)
            found.append(e)
    return found


async def request_callback(b: Backend) -> str:
    placed = await b.place_call(caller="+15557770001")
    call_id = str(placed["call_id"])
    resp = await b.client.post(
        f"/api/v1/calls/{call_id}/events",
        json={"type": "callback_requested", "number": "+15557770001"},
        headers=b.plat,
    )
    assert resp.status == 200, await resp.text()
    return call_id


async def test_a_failed_start_counts_an_attempt_and_the_retry_starts_the_session(
    make_backend: MakeBackend, api: tuple[FakeManagementApi, KeyPair]
) -> None:
    fake, keys = api
    # The rule's id wins over its name when both are given.
    b = await make_backend(
        CALLBACK_CONFIG.replace('rule_name = "callback"', 'rule_name = "callback"\nrule_id = 12')
        + f'\n[voximplant]\napi_url = "{fake.url}"\napplication = "switchboard"\n'
        + "attempts = 1\nbackoff_s = 0\nrequest_timeout_s = 2\n",
        voximplant_credentials=str(keys.path),
    )
    placed = await b.place_call()
    assert placed["callback"] == {
        "key": "*",
        "say": "To be called back instead of waiting, press star.",
    }
    call_id = await request_callback(b)
    fake.error_next(120, "rule not found")
    await b.ready_operator("cleo")

    waiting = await call_in_state(b, call_id, "callback_wait")
    assert waiting["callback_attempts"] == 1
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None
    [failed] = callback_starts(doc)
    assert failed == {
        "kind": "callback_start",
        "offer_id": failed["offer_id"],
        "error": "Voximplant StartScenarios refused: rule not found (code 120)",
    }
    assert "callback_access_url" not in doc

    # retry_s later the call is offered again, and this time the session starts.
    [started] = await fake.wait_for("StartScenarios")
    offer = (await call_in_state(b, call_id, "offering"))["offer"]
    assert offer["operator"] == "cleo" and offer["offer_id"] != failed["offer_id"]
    assert started.form == {
        "script_custom_data": json.dumps(
            {"callback": call_id, "offer_id": offer["offer_id"]}, separators=(",", ":")
        ),
        "rule_id": "12",
        "application_name": "switchboard",
    }

    async def logged() -> dict[str, Any] | None:
        d = await b.store.calls.find_one({"_id": call_id})
        return d if d is not None and len(callback_starts(d)) == 2 else None

    doc = await eventually(logged, message="the second callback_start")
    assert doc is not None
    assert callback_starts(doc) == [
        failed,
        {
            "kind": "callback_start",
            "offer_id": offer["offer_id"],
            "session": {
                "media_session_access_url": "http://127.0.0.1/request/1",
                "call_session_history_id": 1,
            },
        },
    ]
    assert doc["callback_access_url"] == "https://127.0.0.1/request/1"
    assert doc["callback_attempts"] == 1

    # Replies without the secure URL, or without any: the plain one is kept, or nothing.
    callbacks = b.engine.callbacks
    assert callbacks is not None
    replies: list[dict[str, Any]] = [
        {"result": 1, "media_session_access_url": "http://127.0.0.1/plain"},
        {"result": 1},
    ]

    async def reply(_form: dict[str, str]) -> dict[str, Any]:
        return replies.pop(0)

    fake.on_start_scenarios = reply
    await callbacks.start(call_id, "offer-plain")
    await callbacks.start(call_id, "offer-bare")
    doc = await b.store.calls.find_one({"_id": call_id})
    assert doc is not None
    assert callback_starts(doc)[2:] == [
        {
            "kind": "callback_start",
            "offer_id": "offer-plain",
            "session": {"media_session_access_url": "http://127.0.0.1/plain"},
        },
        {"kind": "callback_start", "offer_id": "offer-bare", "session": {}},
    ]
    assert doc["callback_access_url"] == "http://127.0.0.1/plain"

    # With no rule id (an administrator's edit), the rule is named.
    config = b.engine.settings.config
    callback = config.callback.model_copy(update={"rule_id": 0})
    b.engine.settings = b.engine.settings.model_copy(
        update={"config": config.model_copy(update={"callback": callback})}
    )
    replies.append({"result": 1})
    await callbacks.start(call_id, "offer-name")
    assert fake.requests[-1].form == {
        "script_custom_data": json.dumps(
            {"callback": call_id, "offer_id": "offer-name"}, separators=(",", ":")
        ),
        "rule_name": "callback",
        "application_name": "switchboard",
    }


async def test_without_credentials_the_start_fails_and_counts_as_an_attempt(
    make_backend: MakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    b = await make_backend(CALLBACK_CONFIG.replace("max_attempts = 3", "max_attempts = 1"))
    placed = await b.place_call()
    assert "callback" not in placed, "no Management API: no callback offered"
    call_id = await request_callback(b)
    await b.ready_operator("cleo")

    async def failed_task() -> dict[str, Any] | None:
        d = await b.store.calls.find_one({"_id": call_id})
        return d if d is not None and d.get("task") == "callback_failed" else None

    doc = await eventually(failed_task, message="the one attempt failed: a task")
    assert doc is not None and doc["callback_attempts"] == 1
    [start] = callback_starts(doc)
    assert start == {
        "kind": "callback_start",
        "offer_id": start["offer_id"],
        "error": "no Management API credentials (VOXIMPLANT_CREDENTIALS)",
    }
    assert start["offer_id"] and "callback_access_url" not in doc
    warned = [r.getMessage() for r in caplog.records if r.name == "backend.services.callback"]
    assert warned == [
        f"call {call_id}: the callback session could not be started: "
        "no Management API credentials (VOXIMPLANT_CREDENTIALS)"
    ]
