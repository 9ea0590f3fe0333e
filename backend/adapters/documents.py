"""Mapping between the core's dataclasses and MongoDB documents (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    SuperviseMode,
    TargetType,
)

# Fields of an operator document that belong to the routing core (the rest: name,
# email, password hash, role ... are written only by the admin and auth paths).
Doc = dict[str, Any]


def address_doc(a: Address) -> Doc:
    return {"type": a.type.value, "address": a.address}


def address_from(d: Doc) -> Address:
    return Address(TargetType(d["type"]), d["address"])


def operator_doc(op: Operator) -> Doc:
    s = op.stats
    return {
        "address": address_doc(op.address),
        "groups": [{"name": g.name, "level": g.level} for g in op.groups],
        "group_names": list(op.group_names),
        "presence": op.presence.value,
        "presence_since": op.presence_since,
        "reason": op.reason,
        "activity": op.activity.value,
        "activity_since": op.activity_since,
        "activity_until": op.activity_until,
        "idle_since": op.idle_since,
        "offer_id": op.offer_id,
        "call_id": op.call_id,
        "misses_in_row": op.misses_in_row,
        "ban_level": op.ban_level,
        "stats": {
            "offers": s.offers,
            "answers": s.answers,
            "misses": s.misses,
            "answer_s_total": s.answer_s_total,
            "talk_s_total": s.talk_s_total,
        },
        "score": op.score,
        "absence": (
            {"reason": op.absence.reason.value, "until": op.absence.until} if op.absence else None
        ),
        "video_invite": op.video_invite,
    }


def operator_from(d: Doc) -> Operator:
    st = d.get("stats") or {}
    return Operator(
        login=d["_id"],
        address=address_from(d["address"]),
        groups=tuple(Skill(g["name"], int(g.get("level", 1))) for g in d.get("groups", [])),
        presence=Presence(d["presence"]),
        presence_since=d["presence_since"],
        reason=d.get("reason"),
        activity=Activity(d["activity"]),
        activity_since=d["activity_since"],
        activity_until=d.get("activity_until"),
        idle_since=d["idle_since"],
        offer_id=d.get("offer_id"),
        call_id=d.get("call_id"),
        misses_in_row=int(d.get("misses_in_row", 0)),
        ban_level=int(d.get("ban_level", 0)),
        stats=OperatorStats(
            offers=int(st.get("offers", 0)),
            answers=int(st.get("answers", 0)),
            misses=int(st.get("misses", 0)),
            answer_s_total=float(st.get("answer_s_total", 0.0)),
            talk_s_total=float(st.get("talk_s_total", 0.0)),
        ),
        absence=(
            Absence(AbsenceReason(d["absence"]["reason"]), d["absence"].get("until"))
            if d.get("absence")
            else None
        ),
        video_invite=d.get("video_invite"),
        rev=int(d.get("rev", 0)),
    )


def _spare_doc(a: SpareAttempt | None) -> Doc | None:
    if a is None:
        return None
    return {
        "offer_id": a.offer_id,
        "number": a.number,
        "created_at": a.created_at,
        "expires_at": a.expires_at,
        "sent_at": a.sent_at,
        "fallback": a.fallback,
    }


def _spare_from(d: Doc | None) -> SpareAttempt | None:
    if not d:
        return None
    return SpareAttempt(
        offer_id=d["offer_id"],
        number=d["number"],
        created_at=d["created_at"],
        expires_at=d["expires_at"],
        sent_at=d.get("sent_at"),
        fallback=bool(d.get("fallback", False)),
    )


def _offer_doc(o: Offer | None) -> Doc | None:
    if o is None:
        return None
    return {
        "offer_id": o.offer_id,
        "operator": o.operator,
        "target": address_doc(o.target),
        "created_at": o.created_at,
        "expires_at": o.expires_at,
        "sent_at": o.sent_at,
    }


def _offer_from(d: Doc | None) -> Offer | None:
    if not d:
        return None
    return Offer(
        offer_id=d["offer_id"],
        operator=d["operator"],
        target=address_from(d["target"]),
        created_at=d["created_at"],
        expires_at=d["expires_at"],
        sent_at=d.get("sent_at"),
    )


def party_doc(p: CallParty) -> Doc:
    doc: Doc = {
        "party_id": p.party_id,
        "kind": p.kind.value,
        "address": address_doc(p.address),
        "state": p.state.value,
        "created_at": p.created_at,
        "role": p.role.value,
        "login": p.login,
        "requested_by": p.requested_by,
        "expires_at": p.expires_at,
        "connected_at": p.connected_at,
        "left_at": p.left_at,
        "outcome": p.outcome,
        "code": p.code,
        "reason": p.reason,
    }
    if p.mode is not None:  # a supervisor's party only
        doc["mode"] = p.mode.value
    return doc


def party_from(d: Doc) -> CallParty:
    return CallParty(
        party_id=d["party_id"],
        kind=PartyKind(d["kind"]),
        address=address_from(d["address"]),
        state=PartyState(d["state"]),
        created_at=d["created_at"],
        role=PartyRole(d.get("role", PartyRole.HELP.value)),
        login=d.get("login"),
        requested_by=d.get("requested_by"),
        expires_at=d.get("expires_at"),
        connected_at=d.get("connected_at"),
        left_at=d.get("left_at"),
        outcome=d.get("outcome"),
        code=d.get("code"),
        reason=d.get("reason"),
        mode=SuperviseMode(d["mode"]) if d.get("mode") else None,
    )


def call_doc(c: Call) -> Doc:
    return {
        "group": c.group,
        "priority": c.priority,
        "media": c.media.value,
        "state": c.state.value,
        "created_at": c.created_at,
        "enqueued_at": c.enqueued_at,
        "offer": _offer_doc(c.offer),
        "operator": c.operator,
        "connected_at": c.connected_at,
        "ended_at": c.ended_at,
        "outcome": c.outcome.value if c.outcome else None,
        "hung_up_by": c.hung_up_by.value if c.hung_up_by else None,
        "end_reason": c.end_reason,
        "attempts": c.attempts,
        # "" rather than null: an equality on null is not served from an index everywhere.
        "preferred": c.preferred or "",
        "preferred_until": c.preferred_until,
        "spare": _spare_doc(c.spare),
        "spares_tried": list(c.spares_tried),
        "next_overflow_at": c.next_overflow_at,
        "max_wait_at": c.max_wait_at,
        "task": c.task,
        "voicemail_url": c.voicemail_url,
        "voicemail_s": c.voicemail_s,
        "callback_number": c.callback_number,
        "callback_attempts": c.callback_attempts,
        "invite_id": c.invite_id,
        "deadline": c.deadline,
        "parties": [party_doc(p) for p in c.parties],
        "held_since": c.held_since,
        "hold_s": c.hold_s,
    }


def call_from(d: Doc) -> Call:
    return Call(
        call_id=d["_id"],
        group=d["group"],
        priority=int(d["priority"]),
        media=Media(d["media"]),
        state=CallState(d["state"]),
        created_at=d["created_at"],
        enqueued_at=d["enqueued_at"],
        offer=_offer_from(d.get("offer")),
        operator=d.get("operator"),
        connected_at=d.get("connected_at"),
        ended_at=d.get("ended_at"),
        outcome=Outcome(d["outcome"]) if d.get("outcome") else None,
        hung_up_by=Party(d["hung_up_by"]) if d.get("hung_up_by") else None,
        end_reason=d.get("end_reason"),
        attempts=int(d.get("attempts", 0)),
        preferred=d.get("preferred") or None,
        preferred_until=d.get("preferred_until"),
        spare=_spare_from(d.get("spare")),
        spares_tried=tuple(d.get("spares_tried") or ()),
        next_overflow_at=d.get("next_overflow_at"),
        max_wait_at=d.get("max_wait_at"),
        task=d.get("task"),
        voicemail_url=d.get("voicemail_url"),
        voicemail_s=d.get("voicemail_s"),
        callback_number=d.get("callback_number"),
        callback_attempts=int(d.get("callback_attempts") or 0),
        invite_id=d.get("invite_id"),
        deadline=d.get("deadline"),
        parties=tuple(party_from(p) for p in d.get("parties") or ()),
        held_since=d.get("held_since"),
        hold_s=float(d.get("hold_s", 0.0)),
        rev=int(d.get("rev", 0)),
    )


def changed_fields(old: Doc, new: Doc) -> Doc:
    """The top-level fields that differ: a guarded update writes only those."""
    return {k: v for k, v in new.items() if old.get(k) != v}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
