"""What the core asks the shell to do. The shell executes; the core never does I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from backend.domain.model import Address, SuperviseMode

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StatusInterval:
    """A finished stretch of one operator status field, for time-in-status reports."""

    operator: str
    field: str  # "presence" or "activity"
    value: str
    reason: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SendCancel:
    """Stop ringing the operator of a dead offer so the call never rings two targets."""

    call_id: str
    offer_id: str


@dataclass(frozen=True, slots=True)
class SendAddParty:
    """Dial one more leg into the call (an operator's help offer, or an external number)."""

    call_id: str
    party_id: str
    target: Address
    ring_timeout_s: int
    # A supervisor's leg: who hears it (the scenario routes its media by this).
    mode: SuperviseMode | None = None


@dataclass(frozen=True, slots=True)
class SendPartyMode:
    """A supervisor's leg changes mode: listen, whisper to the operators, or barge in."""

    call_id: str
    party_id: str
    mode: SuperviseMode


@dataclass(frozen=True, slots=True)
class SendRemoveParty:
    """Hang up one leg of the call (ringing or talking); the others stay connected."""

    call_id: str
    party_id: str


@dataclass(frozen=True, slots=True)
class SendHold:
    """The caller hears music and nobody hears the caller (held), or everyone again."""

    call_id: str
    held: bool


@dataclass(frozen=True, slots=True)
class SendHangup:
    call_id: str
    reason: str
    # Spoken to the caller before the hang-up (the shell picks the text for `reason`).
    say: bool = False


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the caller what happens now (a fallback: another group, a number ...)."""

    call_id: str
    action: str  # "group" | "number" | ...
    why: str


@dataclass(frozen=True, slots=True)
class DialNumber:
    """A group's number:<E.164> action: put the call through to that number."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class DispatchCall:
    call_id: str


@dataclass(frozen=True, slots=True)
class DispatchOperator:
    login: str


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    operator: str
    offer_id: str
    call_id: str
    answer_s: float


@dataclass(frozen=True, slots=True)
class OfferMissed:
    operator: str
    offer_id: str
    code: int


@dataclass(frozen=True, slots=True)
class OfferReleased:
    """The offer ended through no fault of the operator: no penalty. `reason` says why
    (domain/calls.py: the caller left, the call ended, the connect was not delivered)."""

    operator: str
    offer_id: str
    reason: str = "released"


@dataclass(frozen=True, slots=True)
class CallFinished:
    operator: str
    call_id: str
    talk_s: float
    group: str


@dataclass(frozen=True, slots=True)
class CheckSession:
    """Ask the scenario whether the session is still alive (a stuck call is repaired)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class TryOverflow:
    """The call has waited past its group's threshold: try a spare number."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ReleaseSpare:
    """A spare number's call slot is free again."""

    number: str
    call_id: str


@dataclass(frozen=True, slots=True)
class ManagerAway:
    """Calls waiting for this operator by name must stop waiting."""

    operator: str


Action = (
    StatusInterval
    | SendCancel
    | SendHangup
    | SendAddParty
    | SendRemoveParty
    | SendPartyMode
    | SendHold
    | DispatchCall
    | DispatchOperator
    | OfferAnswered
    | OfferMissed
    | OfferReleased
    | CallFinished
    | CheckSession
    | TryOverflow
    | ReleaseSpare
    | ManagerAway
    | Announce
    | DialNumber
)


@dataclass(frozen=True, slots=True)
class Step(Generic[T]):
    """A transition's result: the new state (None when nothing changes) and the actions."""

    state: T | None
    actions: tuple[Action, ...] = ()

    @property
    def changed(self) -> bool:
        return self.state is not None


class Refused(Exception):
    """A requested change that is not allowed now (the API answers 409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
