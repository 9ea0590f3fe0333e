"""The calls the party unit tests start from: one connected call, built with the core itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.domain import calls, parties
from backend.domain.actions import Step
from backend.domain.model import Address, Call, CallParty, Media, Offer, PartyKind, TargetType
from backend.domain.policy import RoutingPolicy

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RoutingPolicy(ring_timeout_s=20, offer_grace_s=5, in_call_check_s=600, queued_check_s=60)
ANN = Address(TargetType.USER, "ann")
NUMBER = Address(TargetType.PSTN, "+15550001234")


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def moved(step: Step[Call]) -> Call:
    assert step.state is not None
    return step.state


def connected() -> Call:
    """Call c1 of the default group, answered by ann (offer o1) 2 s after it came in."""
    call = moved(calls.new_call("c1", "default", 50, Media.VOICE, T0, POLICY))
    call = moved(calls.offer(call, Offer("o1", "ann", ANN, at(1), at(31))))
    return moved(calls.offer_connected(call, "o1", at(2), POLICY))


def joined(call: Call, party: CallParty, t: float = 12) -> Call:
    """The party added at t - 2 s and on the line at t."""
    call = moved(parties.add(call, party, at(t - 2), POLICY, 6))
    return moved(parties.party_connected(call, party.party_id, at(t), POLICY))


def external(party_id: str, t: float = 10) -> CallParty:
    """An outside number as a party, its number made from the party id."""
    address = Address(TargetType.PSTN, "+1555000" + party_id[-4:].rjust(4, "0"))
    return parties.new_party(party_id, PartyKind.EXTERNAL, address, at(t), POLICY)
