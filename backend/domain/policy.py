"""Tunable routing policy, as plain data the core can read without I/O."""

from __future__ import annotations

from dataclasses import dataclass

from backend.domain.model import Strategy


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout_s: int = 25
    # The backend waits this much longer than the scenario's own ring timeout
    # before it declares the offer dead itself (the scenario normally reports first).
    offer_grace_s: int = 5
    no_answer_delay_s: int = 30
    max_no_answer: int = 3
    ban_minutes: float = 5.0
    ban_cap_minutes: float = 120.0
    wrap_up_s: int = 15
    # How long a non-idle activity may go unchecked before the core looks at it again.
    in_call_check_s: int = 600
    queued_check_s: int = 60
    default_handle_time_s: int = 180
    # "Your manager": how long a call waits for its busy manager before going to the group.
    manager_wait_s: int = 30
    # Overflow: a call still waiting this long goes to a spare number (when the group has any);
    # after a round in which no spare took it, the next round waits overflow_retry_s.
    overflow_after_s: int | None = None
    overflow_retry_s: int = 30
    # The longest voicemail a caller may leave.
    voicemail_max_s: int = 120
    # Queued callback: an unanswered attempt is retried after callback_retry_s, at most
    # callback_max_attempts times in all.
    callback_retry_s: int = 300
    callback_max_attempts: int = 3
    # Voice to video: how long an operator who sent an invitation is held in Video Reserved
    # after the voice call (and its wrap-up), and how long a video call waits for them while
    # they are still busy with that voice call.
    video_reserve_s: int = 300
    video_wait_s: int = 60

    def ban_duration_s(self, ban_level: int) -> float:
        """Ban length for the (ban_level+1)-th ban in a row: doubling, capped."""
        minutes = min(self.ban_minutes * (1 << ban_level), self.ban_cap_minutes)
        return minutes * 60.0
