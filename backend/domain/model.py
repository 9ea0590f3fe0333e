"""The state the routing core reasons about: operators, calls and offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Presence(StrEnum):
    """What the operator chose."""

    OFFLINE = "offline"
    READY = "ready"
    NOT_READY = "not_ready"


class Activity(StrEnum):
    """What the system is doing with the operator."""

    IDLE = "idle"
    OFFERED = "offered"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    VIDEO_RESERVED = "video_reserved"
    PAUSED_NO_ANSWER = "paused_no_answer"
    BANNED = "banned"


class CallState(StrEnum):
    QUEUED = "queued"
    OFFERING = "offering"
    CONNECTED = "connected"
    OVERFLOW_OFFERING = "overflow_offering"
    OVERFLOW_CONNECTED = "overflow_connected"
    # The caller is leaving a voicemail (a group's action); then the call waits as a task.
    VOICEMAIL = "voicemail"
    # A callback the caller did not answer: the next attempt waits until the deadline.
    CALLBACK_WAIT = "callback_wait"
    ENDED = "ended"


class Outcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    FAILED = "failed"
    REJECTED = "rejected"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


class Party(StrEnum):
    """Who ended a call."""

    CALLER = "caller"
    OPERATOR = "operator"
    SYSTEM = "system"


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    BEST_SCORE = "best_score"


class Media(StrEnum):
    VOICE = "voice"
    VIDEO = "video"


class TargetType(StrEnum):
    USER = "user"
    SIP = "sip"
    PSTN = "pstn"


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    level: int = 1


@dataclass(frozen=True, slots=True)
class Address:
    type: TargetType
    address: str


@dataclass(frozen=True, slots=True)
class OperatorStats:
    """Lifetime counters; the score and the fewest_calls strategy read them."""

    offers: int = 0
    answers: int = 0
    misses: int = 0
    answer_s_total: float = 0.0
    talk_s_total: float = 0.0

    @property
    def avg_answer_s(self) -> float:
        return self.answer_s_total / self.answers if self.answers else 0.0

    @property
    def answer_rate(self) -> float:
        # Laplace-smoothed so a new operator starts at 0.5 rather than 0 or 1.
        return (self.answers + 1) / (self.offers + 2)


class AbsenceReason(StrEnum):
    VACATION = "vacation"
    SICK_LEAVE = "sick_leave"
    DISMISSED = "dismissed"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Absence:
    """Marked by an administrator: the operator is away (vacation, sick leave, dismissed)."""

    reason: AbsenceReason
    until: datetime | None = None  # None: until the mark is removed

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now


@dataclass(frozen=True, slots=True)
class Operator:
    login: str
    address: Address
    groups: tuple[Skill, ...]
    presence: Presence
    presence_since: datetime
    activity: Activity
    activity_since: datetime
    idle_since: datetime
    reason: str | None = None
    # When the current activity must be looked at again (pause end, ban end,
    # wrap-up end, offer expiry, in-call health check). None only when idle.
    activity_until: datetime | None = None
    offer_id: str | None = None
    call_id: str | None = None
    misses_in_row: int = 0
    ban_level: int = 0
    stats: OperatorStats = field(default_factory=OperatorStats)
    absence: Absence | None = None
    # The video invitation this operator sent during their current call (and is then held in
    # Video Reserved for): its id, carried by the link's token and by the video call.
    video_invite: str | None = None
    rev: int = 0

    @property
    def routable(self) -> bool:
        return self.presence is Presence.READY and self.activity is Activity.IDLE

    @property
    def video_reserved(self) -> bool:
        """Held for the video call of their invitation: routable for that call only."""
        return self.presence is Presence.READY and self.activity is Activity.VIDEO_RESERVED

    def takes(self, call: Call) -> bool:
        """May be offered this call now: routable, or reserved for exactly this call's invite."""
        if self.routable:
            return True
        return (
            self.video_reserved
            and call.invite_id is not None
            and (call.invite_id == self.video_invite)
        )

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.groups)

    def level_in(self, group: str) -> int:
        for skill in self.groups:
            if skill.name == group:
                return skill.level
        return 0

    @property
    def score(self) -> float:
        return score_of(self.stats)


def score_of(stats: OperatorStats) -> float:
    """0..100: answer rate in percent, less a point per two seconds of average answer time."""
    penalty = min(stats.avg_answer_s, 60.0) / 2.0
    return round(max(0.0, 100.0 * stats.answer_rate - penalty), 2)


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    operator: str
    target: Address
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpareAttempt:
    """The call is being (or was) put through to a spare number."""

    offer_id: str
    number: str
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None = None
    # A group's number:<E.164> action (not a spare of the overflow pool): no slot, no cap.
    fallback: bool = False


class PartyKind(StrEnum):
    CALLER = "caller"
    OPERATOR = "operator"
    EXTERNAL = "external"
    SUPERVISOR = "supervisor"  # listens, whispers to the operator, or barges in


class SuperviseMode(StrEnum):
    """Who hears a supervisor's leg (the supervisor always hears the whole call)."""

    LISTEN = "listen"  # nobody
    WHISPER = "whisper"  # the operators only, never the caller
    BARGE = "barge"  # everyone


class PartyState(StrEnum):
    DIALING = "dialing"
    CONNECTED = "connected"
    HELD = "held"
    LEFT = "left"


class PartyRole(StrEnum):
    OWNER = "owner"  # the operator who answered the call (or took it over)
    HELP = "help"  # asked in to help (three-party help, conference)
    TRANSFER = "transfer"  # the target of a transfer


@dataclass(frozen=True, slots=True)
class CallParty:
    """One leg of a call besides the caller's: an operator or an external number.

    An operator's party is an offer like any other while it rings: its `party_id` is the
    offer id the operator document holds (`Operator.offer_id`), so the operator's guarded
    reservation and the call's party point at each other. `outcome` says how it ended.
    """

    party_id: str
    kind: PartyKind
    address: Address
    state: PartyState
    created_at: datetime
    role: PartyRole = PartyRole.HELP
    login: str | None = None
    requested_by: str | None = None
    expires_at: datetime | None = None  # ring deadline while dialing
    connected_at: datetime | None = None
    left_at: datetime | None = None
    outcome: str | None = None
    code: int | None = None
    reason: str | None = None  # why they were asked in (shown on their offer)
    mode: SuperviseMode | None = None  # a supervisor's party only

    @property
    def supervisor(self) -> bool:
        return self.kind is PartyKind.SUPERVISOR

    @property
    def active(self) -> bool:
        return self.state is not PartyState.LEFT

    @property
    def on_line(self) -> bool:
        return self.state in (PartyState.CONNECTED, PartyState.HELD)


@dataclass(frozen=True, slots=True)
class Call:
    call_id: str
    group: str
    priority: int
    media: Media
    state: CallState
    created_at: datetime
    enqueued_at: datetime
    offer: Offer | None = None
    operator: str | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    hung_up_by: Party | None = None
    end_reason: str | None = None
    attempts: int = 0
    # "Your manager": the operator this call waits for, and until when.
    preferred: str | None = None
    preferred_until: datetime | None = None
    # Overflow: the attempt under way (or that connected), the spares tried in this round,
    # and when the next round may start.
    spare: SpareAttempt | None = None
    spares_tried: tuple[str, ...] = ()
    next_overflow_at: datetime | None = None
    # The group's max_wait_s runs out at this moment (its max_wait_action then runs).
    max_wait_at: datetime | None = None
    # A task for an operator rather than a caller on the line: "voicemail" (the message at
    # voicemail_url is offered like a call, and closed with a disposition).
    task: str | None = None
    voicemail_url: str | None = None
    voicemail_s: float | None = None
    # "callback": the caller asked to be called back at this number (the call keeps its
    # place); "callback_failed" once max_attempts went unanswered (a task like a voicemail).
    callback_number: str | None = None
    callback_attempts: int = 0
    # A video call started from an invitation link: the invitation's id (valid when set).
    invite_id: str | None = None
    # When the call must be looked at again: offer expiry, or a periodic
    # liveness check while it waits or talks.
    deadline: datetime | None = None
    # Calls with more than two parties: every leg besides the caller's (the owner's included
    # once it answered), and the caller's hold (since when, and the time held before).
    parties: tuple[CallParty, ...] = ()
    held_since: datetime | None = None
    hold_s: float = 0.0
    rev: int = 0

    def party(self, party_id: str) -> CallParty | None:
        for p in self.parties:
            if p.party_id == party_id:
                return p
        return None

    @property
    def waiting(self) -> bool:
        return self.state is CallState.QUEUED

    def waits_for(self, now: datetime) -> str | None:
        """The operator this call is reserved for right now, if any."""
        if self.preferred and self.preferred_until and self.preferred_until > now:
            return self.preferred
        return None

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED
