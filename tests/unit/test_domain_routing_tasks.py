"""Routing's special cases pinned: a video-reserved operator takes only their own video call,
and tasks are offered as delivered (a callback rings the caller first: a longer offer)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from backend.domain import routing
from backend.domain.model import Activity, Address, Offer, TargetType
from tests.unit.test_domain_routing import POLICY, at, call, op, view_of


def test_a_video_reserved_operator_takes_only_the_call_that_waits_for_them() -> None:
    ann = replace(op("ann"), activity=Activity.VIDEO_RESERVED, video_invite="inv-1")
    view = view_of(call("free", 0))
    assert routing.propose_call(view, ann, at(5)) is None
    video = replace(call("video", 3, preferred="ann"), invite_id="inv-1")
    other = replace(call("other", 1, preferred="ann"), invite_id="inv-2")
    view = view_of(call("free", 0), other, video)
    assert routing.propose_call(view, ann, at(5)) == view.call("video")


def test_a_task_is_offered_as_delivered_and_a_callback_for_longer() -> None:
    ann = op("ann")
    addr = Address(TargetType.USER, "ann")
    ring = POLICY.ring_timeout_s + POLICY.offer_grace_s
    voicemail = routing.claim(replace(call("c1"), task="voicemail"), ann, "o1", at(60), POLICY)
    assert voicemail.offer == Offer("o1", "ann", addr, at(60), at(60 + ring), sent_at=at(60))
    callback = routing.claim(replace(call("c2"), task="callback"), ann, "o2", at(60), POLICY)
    longer = at(60 + ring) + timedelta(seconds=POLICY.ring_timeout_s + routing.CALLBACK_SETUP_S)
    assert callback.offer == Offer("o2", "ann", addr, at(60), longer, sent_at=at(60))
    assert callback.call.state is not None and callback.call.state.deadline == longer
