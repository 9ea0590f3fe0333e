"""The stored documents (backend/adapters/documents.py): their exact fields, and back again.

The field names are what the indexes, the filters and the guarded updates use, so each is
pinned here; a document back from the database gives the same dataclass, and a sparse (older)
document reads with the defaults.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.adapters.documents import (
    call_doc,
    call_from,
    changed_fields,
    iso,
    operator_doc,
    operator_from,
)
from backend.domain.model import (
    Absence,
    AbsenceReason,
    Activity,
    Address,
    Call,
    CallParty,
    CallState,
    Media,
    Offer,
    Operator,
    OperatorStats,
    Outcome,
    Party,
    PartyKind,
    PartyRole,
    PartyState,
    Presence,
    Skill,
    SpareAttempt,
    TargetType,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


OPERATOR = Operator(
    login="ann",
    address=Address(TargetType.SIP, "sip:ann@example.org"),
    groups=(Skill("default", 1), Skill("sales", 3)),
    presence=Presence.NOT_READY,
    presence_since=at(1),
    reason="lunch",
    activity=Activity.WRAP_UP,
    activity_since=at(2),
    activity_until=at(3),
    idle_since=at(4),
    offer_id="o1",
    call_id="c1",
    misses_in_row=2,
    ban_level=1,
    stats=OperatorStats(offers=7, answers=5, misses=2, answer_s_total=12.5, talk_s_total=300.0),
    absence=Absence(AbsenceReason.SICK_LEAVE, at(86400)),
    video_invite="inv1",
    rev=9,
)

OPERATOR_DOC: dict[str, Any] = {
    "address": {"type": "sip", "address": "sip:ann@example.org"},
    "groups": [{"name": "default", "level": 1}, {"name": "sales", "level": 3}],
    "group_names": ["default", "sales"],
    "presence": "not_ready",
    "presence_since": at(1),
    "reason": "lunch",
    "activity": "wrap_up",
    "activity_since": at(2),
    "activity_until": at(3),
    "idle_since": at(4),
    "offer_id": "o1",
    "call_id": "c1",
    "misses_in_row": 2,
    "ban_level": 1,
    "stats": {
        "offers": 7,
        "answers": 5,
        "misses": 2,
        "answer_s_total": 12.5,
        "talk_s_total": 300.0,
    },
    "score": OPERATOR.score,
    "absence": {"reason": "sick_leave", "until": at(86400)},
    "video_invite": "inv1",
}

CALL = Call(
    call_id="c1",
    group="sales",
    priority=70,
    media=Media.VIDEO,
    state=CallState.ENDED,
    created_at=at(0),
    enqueued_at=at(1),
    offer=Offer("o1", "ann", Address(TargetType.USER, "ann"), at(2), at(32), sent_at=at(3)),
    operator="ann",
    connected_at=at(5),
    ended_at=at(60),
    outcome=Outcome.ANSWERED,
    hung_up_by=Party.OPERATOR,
    end_reason="done",
    attempts=2,
    preferred="bob",
    preferred_until=at(31),
    spare=SpareAttempt("s1", "+100", at(10), at(40), sent_at=at(11)),
    spares_tried=("+100", "+200"),
    next_overflow_at=at(50),
    max_wait_at=at(65),
    invite_id="inv1",
    deadline=at(70),
    parties=(
        CallParty(
            party_id="p1",
            kind=PartyKind.OPERATOR,
            address=Address(TargetType.USER, "bob"),
            state=PartyState.LEFT,
            created_at=at(20),
            role=PartyRole.TRANSFER,
            login="bob",
            requested_by="ann",
            expires_at=at(50),
            connected_at=at(22),
            left_at=at(40),
            outcome="left",
            code=486,
            reason="billing",
        ),
    ),
    held_since=at(30),
    hold_s=4.5,
    rev=4,
)

CALL_DOC: dict[str, Any] = {
    "group": "sales",
    "priority": 70,
    "media": "video",
    "state": "ended",
    "created_at": at(0),
    "enqueued_at": at(1),
    "offer": {
        "offer_id": "o1",
        "operator": "ann",
        "target": {"type": "user", "address": "ann"},
        "created_at": at(2),
        "expires_at": at(32),
        "sent_at": at(3),
    },
    "operator": "ann",
    "connected_at": at(5),
    "ended_at": at(60),
    "outcome": "answered",
    "hung_up_by": "operator",
    "end_reason": "done",
    "attempts": 2,
    "preferred": "bob",
    "preferred_until": at(31),
    "spare": {
        "offer_id": "s1",
        "number": "+100",
        "created_at": at(10),
        "expires_at": at(40),
        "sent_at": at(11),
        "fallback": False,
    },
    "spares_tried": ["+100", "+200"],
    "next_overflow_at": at(50),
    "max_wait_at": at(65),
    "task": None,
    "voicemail_url": None,
    "voicemail_s": None,
    "callback_number": None,
    "callback_attempts": 0,
    "invite_id": "inv1",
    "deadline": at(70),
    "parties": [
        {
            "party_id": "p1",
            "kind": "operator",
            "address": {"type": "user", "address": "bob"},
            "state": "left",
            "created_at": at(20),
            "role": "transfer",
            "login": "bob",
            "requested_by": "ann",
            "expires_at": at(50),
            "connected_at": at(22),
            "left_at": at(40),
            "outcome": "left",
            "code": 486,
            "reason": "billing",
        }
    ],
    "held_since": at(30),
    "hold_s": 4.5,
}


def test_an_operators_document_field_by_field() -> None:
    assert operator_doc(OPERATOR) == OPERATOR_DOC


def test_an_operator_read_back_is_the_same_operator() -> None:
    assert operator_from({**OPERATOR_DOC, "_id": "ann", "rev": 9}) == OPERATOR


def test_a_sparse_operator_document_reads_with_the_defaults() -> None:
    sparse = {
        "_id": "bob",
        "address": {"type": "user", "address": "bob"},
        "groups": [{"name": "default"}],
        "presence": "offline",
        "presence_since": T0,
        "activity": "idle",
        "activity_since": T0,
        "idle_since": T0,
    }
    assert operator_from(sparse) == Operator(
        login="bob",
        address=Address(TargetType.USER, "bob"),
        groups=(Skill("default", 1),),
        presence=Presence.OFFLINE,
        presence_since=T0,
        activity=Activity.IDLE,
        activity_since=T0,
        idle_since=T0,
    )
    # Written back, the missing fields are there with their defaults.
    doc = operator_doc(operator_from(sparse))
    assert (doc["absence"], doc["reason"], doc["stats"]["offers"]) == (None, None, 0)
    no_groups = {k: v for k, v in sparse.items() if k != "groups"}
    assert operator_from({**no_groups, "stats": None, "absence": None}).groups == ()


def test_an_open_ended_absence_round_trips() -> None:
    doc = {**OPERATOR_DOC, "_id": "ann", "absence": {"reason": "dismissed"}}
    assert operator_from(doc).absence == Absence(AbsenceReason.DISMISSED)


def test_a_calls_document_field_by_field() -> None:
    assert call_doc(CALL) == CALL_DOC


def test_a_call_read_back_is_the_same_call() -> None:
    assert call_from({**CALL_DOC, "_id": "c1", "rev": 4}) == CALL


def test_a_new_calls_document_has_no_offer_spare_or_outcome_and_an_empty_preference() -> None:
    new = Call("c2", "default", 50, Media.VOICE, CallState.QUEUED, T0, T0)
    doc = call_doc(new)
    assert doc == {
        "group": "default",
        "priority": 50,
        "media": "voice",
        "state": "queued",
        "created_at": T0,
        "enqueued_at": T0,
        "offer": None,
        "operator": None,
        "connected_at": None,
        "ended_at": None,
        "outcome": None,
        "hung_up_by": None,
        "end_reason": None,
        "attempts": 0,
        "preferred": "",
        "preferred_until": None,
        "spare": None,
        "spares_tried": [],
        "next_overflow_at": None,
        "max_wait_at": None,
        "task": None,
        "voicemail_url": None,
        "voicemail_s": None,
        "callback_number": None,
        "callback_attempts": 0,
        "invite_id": None,
        "deadline": None,
        "parties": [],
        "held_since": None,
        "hold_s": 0.0,
    }
    assert call_from({**doc, "_id": "c2"}) == new
    sparse = {k: doc[k] for k in ("group", "priority", "media", "state", "created_at")}
    assert call_from({**sparse, "_id": "c2", "enqueued_at": T0}) == new


def test_an_update_writes_only_the_fields_that_changed() -> None:
    old = {"a": 1, "b": 2, "c": None}
    assert changed_fields(old, {"a": 1, "b": 3, "c": None, "d": 4}) == {"b": 3, "d": 4}
    assert changed_fields(old, dict(old)) == {}


def test_iso_times_for_the_api() -> None:
    assert iso(at(1.5)) == "2026-01-05T09:00:01.500000+00:00"
    assert iso(None) is None


def test_a_supervisors_party_keeps_its_mode_and_other_parties_have_none() -> None:
    from backend.adapters.documents import party_doc, party_from
    from backend.domain.model import (
        CallParty,
        PartyKind,
        PartyRole,
        PartyState,
        SuperviseMode,
        TargetType,
    )

    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    sue = CallParty(
        party_id="s1",
        kind=PartyKind.SUPERVISOR,
        address=Address(TargetType.USER, "sue"),
        state=PartyState.CONNECTED,
        created_at=at,
        login="sue",
        mode=SuperviseMode.WHISPER,
    )
    doc = party_doc(sue)
    assert (doc["kind"], doc["mode"]) == ("supervisor", "whisper")
    assert party_from(doc) == sue
    helper = party_from({**doc, "kind": "operator", "mode": None})
    assert helper.mode is None
    assert "mode" not in party_doc(helper)
    del doc["mode"]
    assert party_from(doc).mode is None
    # A party stored before roles were recorded reads as a helper.
    del doc["role"]
    assert party_from(doc).role is PartyRole.HELP
