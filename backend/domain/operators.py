"""Operator state transitions. Each takes the state, the event and `now`; each returns a Step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from backend.domain.actions import (
    Action,
    DispatchOperator,
    ManagerAway,
    Refused,
    StatusInterval,
    Step,
)
from backend.domain.manager import ManagerState, manager_state
from backend.domain.model import (
    Absence,
    Activity,
    Address,
    Operator,
    OperatorStats,
    Presence,
    Skill,
)
from backend.domain.policy import RoutingPolicy

DISCONNECTED = "disconnected"
# The reason of an `offered` interval that ended through no fault of the operator, when the
# release gives none of its own.
RELEASED = "released"


def _step(
    old: Operator, new: Operator, now: datetime, *extra: Action, why: str | None = None
) -> Step[Operator]:
    """Close the status intervals that changed, and dispatch when the operator became routable.

    `why` is recorded as the reason of the activity interval that closes (a released offer's).
    """
    actions: list[Action] = []
    if (old.presence, old.reason) != (new.presence, new.reason):
        actions.append(
            StatusInterval(
                old.login, "presence", old.presence.value, old.reason, old.presence_since, now
            )
        )
        new = replace(new, presence_since=now)
    if old.activity is not new.activity:
        actions.append(
            StatusInterval(old.login, "activity", old.activity.value, why, old.activity_since, now)
        )
        new = replace(new, activity_since=now)
    actions.extend(extra)
    if (new.routable and not old.routable) or (new.video_reserved and not old.video_reserved):
        # Routable again, or reserved for a video call that may already be waiting for them.
        actions.append(DispatchOperator(new.login))
    was, now_state = manager_state(old, now), manager_state(new, now)
    if now_state is ManagerState.AWAY and was is not ManagerState.AWAY:
        actions.append(ManagerAway(new.login))
    return Step(new, tuple(actions))


def _to_idle(op: Operator, now: datetime, *, reset_idle: bool = True) -> Operator:
    return replace(
        op,
        activity=Activity.IDLE,
        activity_until=None,
        offer_id=None,
        call_id=None,
        idle_since=now if reset_idle else op.idle_since,
        video_invite=None,
    )


def set_presence(
    op: Operator, presence: Presence, reason: str | None, now: datetime
) -> Step[Operator]:
    """The operator clicked Ready, Not ready (with a reason) or Offline."""
    if presence is not Presence.NOT_READY:
        reason = None
    if presence is Presence.OFFLINE and op.activity in (Activity.OFFERED, Activity.IN_CALL):
        raise Refused("busy", f"cannot go offline while {op.activity.value}: finish the call first")
    if presence is Presence.READY and op.absence is not None and op.absence.active(now):
        raise Refused("absent", f"marked absent ({op.absence.reason.value}): ask a supervisor")
    if (op.presence, op.reason) == (presence, reason):
        return Step(None)
    new = replace(op, presence=presence, reason=reason)
    return _step(op, new, now)


def presence_lost(op: Operator, now: datetime) -> Step[Operator]:
    """The operator's last WebSocket has been gone too long: no call may ring them."""
    if op.presence is not Presence.READY:
        return Step(None)
    return _step(op, replace(op, presence=Presence.NOT_READY, reason=DISCONNECTED), now)


def offer(
    op: Operator,
    call_id: str,
    offer_id: str,
    expires_at: datetime,
    now: datetime,
    invite_id: str | None = None,
) -> Step[Operator]:
    """Ring the operator: routable, or in Video Reserved for this call's invitation."""
    reserved = op.video_reserved and invite_id is not None and invite_id == op.video_invite
    if not (op.routable or reserved):
        raise Refused("not_routable", f"operator {op.login} is not routable")
    new = replace(
        op,
        activity=Activity.OFFERED,
        activity_until=expires_at,
        offer_id=offer_id,
        call_id=call_id,
        stats=replace(op.stats, offers=op.stats.offers + 1),
        video_invite=None,
    )
    return _step(op, new, now, why=VIDEO_CALL_ARRIVED if reserved else None)


def release_offer(
    op: Operator, offer_id: str, now: datetime, reason: str = RELEASED
) -> Step[Operator]:
    """The offer ended through no fault of the operator: back to idle, place kept.

    The `offered` interval records why (the caller left, say), so it is not counted as
    not answered."""
    if op.activity is not Activity.OFFERED or op.offer_id != offer_id:
        return Step(None)
    new = _to_idle(op, now, reset_idle=False)
    new = replace(new, stats=replace(op.stats, offers=max(0, op.stats.offers - 1)))
    return _step(op, new, now, why=reason or RELEASED)


def offer_not_answered(next_activity: str | None, reason: str | None) -> bool:
    """An `offered` interval that counts as not answered: the operator did not take the call,
    and the offer was not released through no fault of theirs (a release names its reason;
    a no-answer, busy or decline leaves none)."""
    return next_activity != Activity.IN_CALL.value and reason is None


def offer_answered(
    op: Operator, offer_id: str, answer_s: float, now: datetime, policy: RoutingPolicy
) -> Step[Operator]:
    if op.activity is not Activity.OFFERED or op.offer_id != offer_id:
        return Step(None)
    stats = op.stats
    new = replace(
        op,
        activity=Activity.IN_CALL,
        activity_until=now + timedelta(seconds=policy.in_call_check_s),
        offer_id=None,
        misses_in_row=0,
        ban_level=0,
        stats=replace(
            stats, answers=stats.answers + 1, answer_s_total=stats.answer_s_total + answer_s
        ),
    )
    return _step(op, new, now)


def offer_missed(
    op: Operator, offer_id: str, now: datetime, policy: RoutingPolicy, *, counted: bool = True
) -> Step[Operator]:
    """No answer, busy, decline or cancel: count the miss, pause, and ban after N in a row.

    An uncounted failure (the operator's address is wrong, say) pauses without a miss.
    """
    if op.activity is not Activity.OFFERED or op.offer_id != offer_id:
        return Step(None)
    stats = replace(op.stats, misses=op.stats.misses + (1 if counted else 0))
    misses = op.misses_in_row + (1 if counted else 0)
    base = replace(op, offer_id=None, call_id=None, stats=stats)
    if misses >= policy.max_no_answer:
        until = now + timedelta(seconds=policy.ban_duration_s(op.ban_level))
        new = replace(
            base,
            activity=Activity.BANNED,
            activity_until=until,
            misses_in_row=0,
            ban_level=op.ban_level + 1,
        )
    elif policy.no_answer_delay_s > 0:
        new = replace(
            base,
            activity=Activity.PAUSED_NO_ANSWER,
            activity_until=now + timedelta(seconds=policy.no_answer_delay_s),
            misses_in_row=misses,
        )
    else:
        new = replace(_to_idle(base, now), misses_in_row=misses)
    return _step(op, new, now)


def call_finished(
    op: Operator, call_id: str, talk_s: float, now: datetime, wrap_up_s: int, reserve_s: int = 0
) -> Step[Operator]:
    """The call this operator handled has ended: wrap-up, then idle by itself (or Video
    Reserved, when they sent the caller a video invitation during the call)."""
    if op.call_id != call_id or op.activity not in (Activity.IN_CALL, Activity.OFFERED):
        return Step(None)
    stats = replace(op.stats, talk_s_total=op.stats.talk_s_total + talk_s)
    if wrap_up_s > 0:
        new = replace(
            op,
            activity=Activity.WRAP_UP,
            activity_until=now + timedelta(seconds=wrap_up_s),
            offer_id=None,
            stats=stats,
        )
    else:
        new = replace(_after_call(op, now, reserve_s), stats=stats)
    return _step(op, new, now)


# Why a Video Reserved interval ended (the status history records it).
VIDEO_CALL_ARRIVED = "video_call"
VIDEO_EXPIRED = "expired"
VIDEO_RELEASED = "released"


def _after_call(op: Operator, now: datetime, reserve_s: int) -> Operator:
    """Idle, or Video Reserved for `reserve_s` when an invitation is pending."""
    if op.video_invite is None or reserve_s <= 0:
        return _to_idle(op, now)
    return replace(
        op,
        activity=Activity.VIDEO_RESERVED,
        activity_until=now + timedelta(seconds=reserve_s),
        offer_id=None,
        call_id=None,
    )


def video_invited(op: Operator, call_id: str, invite_id: str, now: datetime) -> Step[Operator]:
    """The operator sent the caller of their current call a video invitation; the latest
    one counts. They will be held in Video Reserved when this call ends."""
    # Offered still counts: the call is connected a moment before the operator's own write.
    if op.call_id != call_id or op.activity not in (Activity.IN_CALL, Activity.OFFERED):
        raise Refused("not_on_call", f"call {call_id} is not connected to {op.login}")
    return Step(replace(op, video_invite=invite_id))


def release_video(op: Operator, now: datetime) -> Step[Operator]:
    """The operator gives up waiting for the video call (from the desk)."""
    if op.activity is not Activity.VIDEO_RESERVED:
        raise Refused("not_video_reserved", f"nothing to release: you are {op.activity.value}")
    return _step(op, _to_idle(op, now), now, why=VIDEO_RELEASED)


def in_call_checked(op: Operator, now: datetime, policy: RoutingPolicy) -> Step[Operator]:
    """The call is still going: look again later."""
    if op.activity is not Activity.IN_CALL:
        return Step(None)
    until = now + timedelta(seconds=policy.in_call_check_s)
    return Step(replace(op, activity_until=until))


ABSENT = "absent"


def set_absence(op: Operator, absence: Absence | None, now: datetime) -> Step[Operator]:
    """An administrator marks the operator absent (or present again).

    An absent operator takes no calls: if Ready they become Not ready (reason: absent); a
    call in progress is not disturbed.
    """
    if op.absence == absence:
        return Step(None)
    new = replace(op, absence=absence)
    if absence is not None and absence.active(now) and op.presence is Presence.READY:
        new = replace(new, presence=Presence.NOT_READY, reason=ABSENT)
    return _step(op, new, now)


def finish_wrap_up(op: Operator, now: datetime, reserve_s: int = 0) -> Step[Operator]:
    """The operator ends wrap-up early (or the timer does)."""
    if op.activity is not Activity.WRAP_UP:
        return Step(None)
    return _step(op, _after_call(op, now, reserve_s), now)


def deadline_reached(op: Operator, now: datetime, reserve_s: int = 0) -> Step[Operator]:
    """A pause, ban, wrap-up or Video Reserved has run out. Offers and calls are settled
    through the call."""
    if op.activity_until is None or op.activity_until > now:
        return Step(None)
    if op.activity is Activity.WRAP_UP:
        return _step(op, _after_call(op, now, reserve_s), now)
    if op.activity is Activity.VIDEO_RESERVED:
        return _step(op, _to_idle(op, now), now, why=VIDEO_EXPIRED)
    if op.activity in (Activity.PAUSED_NO_ANSWER, Activity.BANNED):
        return _step(op, _to_idle(op, now), now)
    return Step(None)


def new_operator(
    login: str, address: Address, groups: tuple[Skill, ...], now: datetime
) -> Operator:
    return Operator(
        login=login,
        address=address,
        groups=groups,
        presence=Presence.OFFLINE,
        presence_since=now,
        activity=Activity.IDLE,
        activity_since=now,
        idle_since=now,
        stats=OperatorStats(),
    )
