"""Voice to video in the core: the invitation on the operator, Video Reserved after the voice
call (and wrap-up), routable for the invited call only, and its three ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain import routing
from backend.domain.actions import DispatchOperator, Refused, StatusInterval
from backend.domain.model import (
    Activity,
    Address,
    Call,
    CallState,
    Media,
    Operator,
    Presence,
    Skill,
    Strategy,
    TargetType,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.view import ReadView

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(video_reserve_s=300, video_wait_s=60)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def operator(login: str, activity: Activity = Activity.IDLE, idle_s: float = 0) -> Operator:
    return Operator(
        login=login,
        address=Address(TargetType.USER, login),
        groups=(Skill("default", 1),),
        presence=Presence.READY,
        presence_since=T0,
        activity=activity,
        activity_since=T0,
        idle_since=at(idle_s),
    )


def in_call(login: str = "ann", call_id: str = "voice") -> Operator:
    return replace(operator(login, Activity.IN_CALL), call_id=call_id, activity_until=at(600))


def invited(login: str = "ann") -> Operator:
    step = op_rules.video_invited(in_call(login), "voice", "inv1", at(10))
    assert step.state is not None
    return step.state


def video_call(invite_id: str | None = "inv1", preferred: str | None = "ann") -> Call:
    step = call_rules.new_call(
        "video", "default", 50, Media.VIDEO, at(100), POLICY, preferred, invite_id
    )
    assert step.state is not None
    return step.state


def reserved(login: str = "ann") -> Operator:
    step = op_rules.call_finished(invited(login), "voice", 60.0, at(70), 0, 300)
    assert step.state is not None
    return step.state


def test_the_invitation_is_kept_on_the_operator_on_the_call_and_the_latest_counts() -> None:
    op = invited()
    assert op.video_invite == "inv1" and op.activity is Activity.IN_CALL
    again = op_rules.video_invited(op, "voice", "inv2", at(20)).state
    assert again is not None and again.video_invite == "inv2"


def test_only_the_operator_on_that_call_may_invite() -> None:
    with pytest.raises(Refused) as e:
        op_rules.video_invited(in_call(call_id="other"), "voice", "inv1", at(10))
    assert e.value.code == "not_on_call"
    with pytest.raises(Refused):
        op_rules.video_invited(operator("ann"), "voice", "inv1", at(10))
    # Offered on that call: the call is connected a moment before the operator's own write.
    ringing = replace(operator("ann", Activity.OFFERED), call_id="voice", offer_id="o1")
    step = op_rules.video_invited(ringing, "voice", "inv1", at(10))
    assert step.state is not None
    answered = op_rules.offer_answered(step.state, "o1", 2.0, at(11), POLICY).state
    assert answered is not None and answered.video_invite == "inv1"


def test_the_voice_call_ends_into_video_reserved_with_a_deadline() -> None:
    step = op_rules.call_finished(invited(), "voice", 60.0, at(70), 0, 300)
    op = step.state
    assert op is not None
    assert op.activity is Activity.VIDEO_RESERVED and op.activity_until == at(370)
    assert op.video_invite == "inv1" and op.call_id is None
    assert not op.routable and op.video_reserved
    assert DispatchOperator("ann") in step.actions  # a video call may already wait for them
    [interval] = [a for a in step.actions if isinstance(a, StatusInterval)]
    assert (interval.field, interval.value) == ("activity", "in_call")


def test_without_an_invitation_the_call_ends_idle_as_before() -> None:
    op = op_rules.call_finished(in_call(), "voice", 60.0, at(70), 0, 300).state
    assert op is not None and op.activity is Activity.IDLE


def test_wrap_up_first_then_video_reserved() -> None:
    wrap = op_rules.call_finished(invited(), "voice", 60.0, at(70), 30, 300).state
    assert wrap is not None and wrap.activity is Activity.WRAP_UP and wrap.video_invite == "inv1"
    by_timer = op_rules.deadline_reached(wrap, at(100), 300).state
    assert by_timer is not None and by_timer.activity is Activity.VIDEO_RESERVED
    assert by_timer.activity_until == at(400)
    by_hand = op_rules.finish_wrap_up(wrap, at(80), 300).state
    assert by_hand is not None and by_hand.activity is Activity.VIDEO_RESERVED
    assert by_hand.activity_until == at(380)


def test_the_reservation_runs_out_into_idle() -> None:
    op = reserved()
    assert op_rules.deadline_reached(op, at(369), 300).state is None
    step = op_rules.deadline_reached(op, at(370), 300)
    assert step.state is not None and step.state.routable and step.state.video_invite is None
    [interval] = [a for a in step.actions if isinstance(a, StatusInterval)]
    assert (interval.value, interval.reason) == ("video_reserved", op_rules.VIDEO_EXPIRED)
    assert (interval.start, interval.end) == (at(70), at(370))


def test_the_operator_releases_it_from_the_desk() -> None:
    step = op_rules.release_video(reserved(), at(90))
    assert step.state is not None and step.state.routable
    assert DispatchOperator("ann") in step.actions
    with pytest.raises(Refused) as e:
        op_rules.release_video(operator("ann"), at(90))
    assert e.value.code == "not_video_reserved"


def test_a_reserved_operator_takes_only_the_call_of_their_invitation() -> None:
    op = reserved()
    assert op.takes(video_call("inv1"))
    assert not op.takes(video_call("inv0"))  # an older invitation of the same call
    assert not op.takes(video_call(None, None))
    with pytest.raises(Refused):
        op_rules.offer(op, "other", "o1", at(130), at(100))
    step = op_rules.offer(op, "video", "o1", at(130), at(100), "inv1")
    assert step.state is not None and step.state.activity is Activity.OFFERED
    assert step.state.video_invite is None
    [interval] = [a for a in step.actions if isinstance(a, StatusInterval)]
    assert (interval.value, interval.reason) == ("video_reserved", op_rules.VIDEO_CALL_ARRIVED)


def test_a_reserved_operator_who_went_not_ready_takes_nothing() -> None:
    op = replace(reserved(), presence=Presence.NOT_READY, reason="break")
    assert not op.takes(video_call("inv1"))


def test_routing_the_video_call_goes_to_the_reserved_operator_over_a_longer_idle_one() -> None:
    view = ReadView(lambda group: Strategy.LONGEST_IDLE)
    bob = operator("bob", idle_s=-3600)  # idle for an hour
    view.put_operator(bob)
    view.put_operator(reserved())
    call = video_call()
    assert [o.login for o in view.routable("default", 8)] == ["bob"]  # ann is not routable
    chosen = routing.propose_operator(view, call, Strategy.LONGEST_IDLE, at(100))
    assert chosen is not None and chosen.login == "ann"
    # An ordinary call is not offered to her.
    plain = call_rules.new_call("c2", "default", 50, Media.VOICE, at(100), POLICY).state
    assert plain is not None
    chosen = routing.propose_operator(view, plain, Strategy.LONGEST_IDLE, at(100))
    assert chosen is not None and chosen.login == "bob"


def test_a_video_call_already_waiting_is_taken_when_the_reservation_starts() -> None:
    view = ReadView(lambda group: Strategy.LONGEST_IDLE)
    call = video_call()
    assert call.state is CallState.QUEUED and call.preferred_until == at(160)
    view.put_call(call)
    plain = call_rules.new_call("c2", "default", 90, Media.VOICE, at(50), POLICY).state
    assert plain is not None
    view.put_call(plain)
    ann = reserved()
    view.put_operator(ann)
    assert "operator:ann" in view.matchable()
    chosen = routing.propose_call(view, ann, at(110))
    assert chosen is not None and chosen.call_id == "video"
    claim = routing.claim(chosen, ann, "o1", at(110), POLICY)
    assert claim.operator.state is not None and claim.call.state is not None
    # Not the other waiting call, even with a higher priority.
    view.drop_call("video")
    assert routing.propose_call(view, ann, at(110)) is None


def test_the_reservation_needs_a_positive_duration_and_clears_a_ringing_offer() -> None:
    assert reserved().activity is Activity.VIDEO_RESERVED
    one = op_rules.call_finished(invited(), "voice", 1.0, at(70), 0, 1).state
    assert one is not None and one.activity is Activity.VIDEO_RESERVED
    assert one.activity_until == at(71)
    none = op_rules.call_finished(invited(), "voice", 1.0, at(70), 0, 0).state
    assert none is not None and none.activity is Activity.IDLE
    # Without a duration given, as before the feature: idle.
    default = op_rules.call_finished(invited(), "voice", 1.0, at(70), 0).state
    assert default is not None and default.activity is Activity.IDLE
    wrap = op_rules.call_finished(invited(), "voice", 1.0, at(70), 30).state
    assert wrap is not None
    finished = op_rules.finish_wrap_up(wrap, at(80)).state
    assert finished is not None and finished.activity is Activity.IDLE
    timed = op_rules.deadline_reached(wrap, at(100)).state
    assert timed is not None and timed.activity is Activity.IDLE
    # The call ended while its offer still rang: no offer is left on her.
    ringing = replace(invited(), activity=Activity.OFFERED, offer_id="o9")
    held = op_rules.call_finished(ringing, "voice", 0.0, at(70), 0, 300).state
    assert held is not None and held.activity is Activity.VIDEO_RESERVED and held.offer_id is None


def test_released_and_expired_reservations_restart_the_idle_clock_and_say_why() -> None:
    step = op_rules.release_video(reserved(), at(90))
    assert step.state is not None and step.state.idle_since == at(90)
    [interval] = [a for a in step.actions if isinstance(a, StatusInterval)]
    assert (interval.reason, interval.end) == (op_rules.VIDEO_RELEASED, at(90))
    assert step.state.activity_since == at(90)
    expired = op_rules.deadline_reached(reserved(), at(400), 300).state
    assert expired is not None and expired.idle_since == at(400)


def test_refusals_say_what_is_wrong() -> None:
    with pytest.raises(Refused) as e:
        op_rules.video_invited(in_call(call_id="other"), "voice", "inv1", at(10))
    assert e.value.message == "call voice is not connected to ann"
    with pytest.raises(Refused) as e:
        op_rules.release_video(operator("ann"), at(10))
    assert e.value.message == "nothing to release: you are idle"
