"""Bad input of every kind gets a 4xx in the documented error shape, and nothing is written;
an unexpected error still answers in that shape; refused requests leave no trace on a call."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Backend
from tests.support.desk import DESK_CONFIG, connected_call

CALL = {"session_id": "deep", "access_url": "http://127.0.0.1:9/request/deep", "caller": "+1555"}


async def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return dict(body["error"])


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [40, 5000, 100_000])
async def test_deeply_nested_bodies_are_400(backend: Backend, depth: int) -> None:
    body = '{"login": ' + _nested(depth) + ', "password": "x"}'
    headers = {"Content-Type": "application/json"}
    resp = await backend.client.post("/api/v1/auth/login", data=body, headers=headers)
    too_large = len(body) > 64 * 1024
    err = await _error(resp, 413 if too_large else 400)
    assert err["code"] == ("body_too_large" if too_large else "too_deep")


@pytest.mark.parametrize("depth", [40, 4000])
async def test_deeply_nested_custom_data_is_422(backend: Backend, depth: int) -> None:
    custom = '{"category": ' + _nested(depth) + "}"
    resp = await backend.client.post(
        "/api/v1/calls", json={**CALL, "custom_data": custom}, headers=backend.plat
    )
    err = await _error(resp, 422)
    assert err["field"] == "custom_data" and "deeper" in err["message"]
    assert await backend.store.calls.count_documents({}) == 0


async def test_custom_data_that_is_not_json_is_still_accepted(backend: Backend) -> None:
    resp = await backend.client.post(
        "/api/v1/calls", json={**CALL, "custom_data": "{not json"}, headers=backend.plat
    )
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "1e10", "-5", "0", "abc", "1e309"])
async def test_history_hours_must_be_a_sensible_number(backend: Backend, hours: str) -> None:
    auth = await backend.ready_operator("hana")
    for url, headers in (
        ("/api/v1/me/status_history", auth),
        ("/api/v1/operators/hana/status_history", backend.admin),
    ):
        resp = await backend.client.get(url, params={"hours": hours}, headers=headers)
        assert (await _error(resp, 422))["field"] == "hours"


async def test_history_totals_are_never_negative(backend: Backend) -> None:
    auth = await backend.ready_operator("hana")
    resp = await backend.client.get("/api/v1/me/status_history?hours=0.5", headers=auth)
    assert resp.status == 200
    totals = (await resp.json())["totals_s"]
    assert all(v >= 0 for bucket in totals.values() for v in bucket.values())


async def test_an_unexpected_error_answers_in_the_error_shape(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr("backend.views.operators.queue_figures", broken)
    resp = await backend.client.get("/api/v1/queues", headers=backend.admin)
    err = await _error(resp, 500)
    assert err["code"] == "internal_error" and "surprise" not in err["message"]


async def test_bodies_must_say_they_are_json(backend: Backend) -> None:
    await backend.add_operator("tom")
    body = json.dumps({"login": "tom", "password": "password-1"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        resp = await backend.client.post("/api/v1/auth/login", data=body, headers=headers)
        assert (await _error(resp, 415))["code"] == "unsupported_media_type"


async def test_a_refused_hang_up_writes_nothing_and_the_audit_trail_stays_whole(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend(DESK_CONFIG)
    await b.ready_operator("alice")
    intruder = await b.ready_operator("mallory")
    await b.set_status(intruder, "not_ready", "break")
    placed = await connected_call(b, "alice")
    call_id = placed["call_id"]
    before = await b.store.call_doc(call_id)
    assert before is not None
    kinds = [e["kind"] for e in before["log"]]
    url = f"/api/v1/calls/{call_id}/hangup"
    for _ in range(30):
        resp = await b.client.post(url, headers=intruder)
        assert (await _error(resp, 409))["code"] == "not_connected"
    after = await b.store.call_doc(call_id)
    assert after == before
    # Even a very long log keeps its beginning: how the call arrived, the offer, the events.
    filler = [{"at": before["created_at"], "kind": "note"} for _ in range(250)]
    assert await b.store.append_call_log(call_id, filler)
    doc = await b.store.call_doc(call_id)
    assert doc is not None and [e["kind"] for e in doc["log"][: len(kinds)]] == kinds
    assert len(doc["log"]) == len(kinds) + 250


async def test_notes_are_all_kept_up_to_the_limit_then_refused(
    make_backend: Callable[..., Awaitable[Backend]],
) -> None:
    b = await make_backend(DESK_CONFIG)
    auth = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    url = f"/api/v1/calls/{placed['call_id']}/notes"
    for i in range(100):
        resp = await b.client.post(url, json={"text": f"note {i}"}, headers=auth)
        assert resp.status == 201, await resp.text()
    resp = await b.client.post(url, json={"text": "one too many"}, headers=auth)
    assert (await _error(resp, 409))["code"] == "too_many_notes"
    doc = await b.store.call_doc(placed["call_id"])
    assert doc is not None
    assert [n["text"] for n in doc["desk"]["notes"]] == [f"note {i}" for i in range(100)]
