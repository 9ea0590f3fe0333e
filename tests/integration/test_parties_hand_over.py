"""Blind transfer with others on the call: the owner goes into wrap-up at once, the target
rings as a party while the others stay with the caller; a helper holds the call meanwhile,
and keeps it when the target does not answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Backend
from tests.integration.test_parties import CONFIG, _add, _party, _party_in
from tests.support.desk import connected_call, operator_in
from tests.support.fake_platform import Script
from tests.support.snapshots import Snapshot


@pytest.fixture
async def b(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    return await make_backend(CONFIG)


async def _three(b: Backend) -> tuple[str, dict[str, str], dict[str, str], str]:
    """A call of alice's with bob asked in and on the line."""
    alice = await b.ready_operator("alice")
    placed = await connected_call(b, "alice")
    bob = await b.ready_operator("bob")
    b.platform.script("bob", Script(answer_after_s=0.01, talk_s=None))
    added = await _add(b, placed["call_id"], alice, {"type": "operator", "address": "bob"})
    await _party_in(b, placed["call_id"], added["party_id"], "connected")
    return placed["call_id"], alice, bob, added["party_id"]


async def _blind(
    b: Backend, call_id: str, auth: dict[str, str], to: dict[str, str], status: int = 202
) -> dict[str, Any]:
    body = {"to": to, "mode": "blind", "reason": "billing"}
    resp = await b.client.post(f"/api/v1/calls/{call_id}/transfer", json=body, headers=auth)
    assert resp.status == status, await resp.text()
    return dict(await resp.json())


async def test_blind_with_a_helper_present_the_target_answers_and_owns_the_call(
    b: Backend,
) -> None:
    call_id, alice, _, bob_party = await _three(b)
    await b.ready_operator("carl", [("sales", 1)])
    b.platform.script("carl", Script(answer_after_s=0.2, talk_s=None))
    reply = await _blind(b, call_id, alice, {"type": "group", "address": "sales"})
    party_id = reply["party_id"]
    await operator_in(b, "alice", "wrap_up")  # at once, before carl answers
    call = await b.call(call_id)
    own = next(p for p in call["parties"] if p.get("login") == "alice")
    assert own["outcome"] == "transferred"
    target = _party(call, party_id)
    assert (target["login"], target["role"], target["requested_by"]) == (
        "carl",
        "transfer",
        "alice",
    )
    assert call["state"] == "connected"
    call = await _party_in(b, call_id, party_id, "connected")
    assert call["operator"] == "carl"
    assert _party(call, bob_party)["state"] == "connected"
    await operator_in(b, "carl", "in_call")
    doc = await b.store.call_doc(call_id)
    assert doc is not None
    assert [n["text"] for n in doc["desk"]["notes"]] == [
        "transferred by alice to group sales: billing"
    ]
    [entry] = [e for e in doc["log"] if e["kind"] == "transfer"]
    assert entry == {
        "at": entry["at"],
        "kind": "transfer",
        "party_id": party_id,
        "to": {"type": "group", "address": "sales"},
        "login": "carl",
        "role": "transfer",
        "by": "alice",
        "mode": "blind",
    }


async def test_blind_with_a_helper_present_whose_target_fails_stays_with_the_helper(
    b: Backend,
) -> None:
    call_id, alice, bob, _ = await _three(b)
    await b.ready_operator("carl")
    b.platform.script("carl", Script(fail_code=486))
    reply = await _blind(b, call_id, alice, {"type": "operator", "address": "carl"})
    call = await _party_in(b, call_id, reply["party_id"], "left")
    assert _party(call, reply["party_id"])["outcome"] == "no_answer"
    # Never back in the queue while bob is on the line: the call is his now.
    assert (call["state"], call["operator"]) == ("connected", "bob")
    await operator_in(b, "carl", "paused_no_answer")
    await operator_in(b, "alice", "wrap_up")
    # Bob may hand it on in turn (nobody else on it now: the ordinary blind transfer).
    await b.ready_operator("dan")
    b.platform.script("dan", Script(answer_after_s=0.01, talk_s=None))
    await _blind(b, call_id, bob, {"type": "operator", "address": "dan"})
    await operator_in(b, "dan", "in_call")
    assert (await b.call(call_id))["operator"] == "dan"


async def test_blind_with_others_present_is_refused_with_its_reason_and_writes_nothing(
    b: Backend,
) -> None:
    call_id, alice, bob, _ = await _three(b)
    await b.add_operator("carl")  # offline: the refusals come before the target's state
    cases = [
        (bob, {"type": "operator", "address": "carl"}, 409, "not_owner"),
        (alice, {"type": "operator", "address": "bob"}, 409, "already_on_call"),
    ]
    messages = {
        "not_owner": "only the call's owner (alice) hands it over",
        "already_on_call": "bob is on this call already",
    }
    for auth, to, status, code in cases:
        before = await Snapshot.take(b.store)
        data = await _blind(b, call_id, auth, to, status)
        field = "to.address" if code == "already_on_call" else None
        assert data["error"] == {"code": code, "message": messages[code], "field": field}, data
        await before.assert_unchanged(b.store)
    # Only an outside number would stay with the caller.
    dave = await b.ready_operator("dave")
    placed = await connected_call(b, "dave")
    b.platform.script("+15557770002", Script(answer_after_s=0.01, talk_s=None))
    added = await _add(b, placed["call_id"], dave, {"type": "number", "address": "+15557770002"})
    await _party_in(b, placed["call_id"], added["party_id"], "connected")
    before = await Snapshot.take(b.store)
    data = await _blind(b, placed["call_id"], dave, {"type": "operator", "address": "carl"}, 409)
    assert data["error"]["code"] == "no_operator_stays"
    await before.assert_unchanged(b.store)
