"""Overflow: a call that has waited past its group's threshold goes to a spare number.

A spare's line that comes free (a call on it ended, an attempt failed, the sweep freed a slot
a dead process held) goes at once to the first call in line for it: the highest-priority,
longest-waiting call that may overflow to that number, exactly as a freed operator takes the
head of the queue. A call whose own round finds a line free leaves it to such a call if one
waits ahead of it, so a newer call never takes a freed line (or the day's last call) first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from functools import partial

from backend.adapters.spares_store import SpareCounters
from backend.clock import new_id
from backend.domain import calls as call_rules
from backend.domain.actions import Step
from backend.domain.model import Address, Call, SpareAttempt, TargetType
from backend.domain.overflow import Spare, choose_spare, first_in_line, waits_for_a_line
from backend.domain.policy import RoutingPolicy
from backend.services.engine import Engine

# How many waiting calls of the groups sharing a number are looked at for a freed line
# (queue order; the calls past their threshold are at the head of it).
LINE_CANDIDATES = 200
# How many calls one freed line is offered to before giving up (each one an operator took
# or that moved on meanwhile); the sweep and the next round pick up the rest.
LINE_TRIES = 8


class Result(Enum):
    PUT_THROUGH = "put_through"  # the call is now ringing a spare
    PASSED = "passed"  # the call is not (or no longer) waiting for a spare
    NO_LINE = "no_line"  # no spare (or not the one offered) could take it


class Overflow:
    def __init__(self, engine: Engine, counters: SpareCounters) -> None:
        self.engine = engine
        self.counters = counters

    async def attempt(self, call_id: str) -> None:
        """Put the call through to the least used spare that may take it, if it is still due."""
        await self._attempt(call_id)

    async def release(self, number: str, call_id: str) -> None:
        """The call's line is free again: the first call in line for the number takes it."""
        await self.counters.give_back(number, call_id)
        await self.offer_line(number)

    async def offer_line(self, number: str) -> None:
        """Offer a free line of `number` to the calls waiting for one, first in line first."""
        spare = self._spare(number)
        if spare is None:
            return
        passed: set[str] = set()
        for _ in range(LINE_TRIES):
            head = self._first_in_line(number, passed)
            if head is None:
                return
            result = await self._attempt(head.call_id, line=spare)
            if result is not Result.PASSED:
                return  # put through, or the line is not to be had (cap, hours, taken)
            passed.add(head.call_id)

    async def reconcile(self) -> int:
        """Free slots a dead process left held (after the longest an attempt can take)."""
        r = self.engine.settings.config.routing
        freed = await self.counters.reconcile(
            self.engine.clock(), r.ring_timeout_s + r.offer_grace_s + 10
        )
        for number in dict.fromkeys(freed):
            await self.offer_line(number)
        return len(freed)

    # -- internals -------------------------------------------------------------------

    def _spare(self, number: str) -> Spare | None:
        for s in self.engine.settings.config.spare_numbers:
            if s.number == number:
                return s.to_spare()
        return None

    def _first_in_line(self, number: str, passed: Iterable[str] = ()) -> Call | None:
        """From the read view, in queue order: the first call that may take a line of `number`."""
        engine = self.engine
        groups = [g.name for g in engine.settings.config.groups if number in g.spares]
        queued = engine.view.queued(groups, LINE_CANDIDATES)
        return first_in_line(queued, number, engine.clock(), engine.settings.policy, passed)

    async def _attempt(self, call_id: str, line: Spare | None = None) -> Result:
        """One overflow attempt: any fitting spare, or only `line` (a line that just came free)."""
        engine = self.engine
        skip: set[str] = set()
        handed_on: set[str] = set()
        try:
            for i in range(8):
                call = await engine.call(call_id, fresh=i > 0)
                now = engine.clock()
                if call is None:
                    return Result.PASSED
                policy = engine.settings.policy(call.group)
                if line is None:
                    due = call_rules.overflow_due(call, now, policy)
                else:
                    due = waits_for_a_line(call, line.number, now, policy)
                if not due:
                    return Result.PASSED
                # An operator who is free now takes the call before any spare.
                if await engine.dispatch_call(call_id):
                    return Result.PASSED
                spares = engine.settings.spares_of(call.group) if line is None else (line,)
                usage = await self.counters.usage(spares, now)
                spare = choose_spare(spares, usage, now, exclude={*call.spares_tried, *skip})
                if spare is None:
                    if line is None:
                        await engine.apply_call(call_id, partial(_no_spare, policy=policy))
                    return Result.NO_LINE
                if line is None:
                    head = self._first_in_line(spare.number)
                    if head is not None and head.call_id != call_id:
                        # A call ahead of this one waits for a line of this number: it is theirs.
                        skip.add(spare.number)
                        handed_on.add(spare.number)
                        continue
                if not await self.counters.take(spare, call_id, now):
                    skip.add(spare.number)  # another process took its last slot or call
                    continue
                if await self._put_through(call_id, spare, policy, now):
                    return Result.PUT_THROUGH
                if line is None:
                    handed_on.add(spare.number)  # the slot was given back: someone may wait
                return Result.PASSED
            return Result.NO_LINE
        finally:
            for number in handed_on:
                engine.spawn(self.offer_line(number))

    async def _put_through(
        self, call_id: str, spare: Spare, policy: RoutingPolicy, now: datetime
    ) -> bool:
        """The slot is taken: move the call onto the spare and dial it; False: undone."""
        engine = self.engine
        expires = now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
        attempt = SpareAttempt(new_id(), spare.number, now, expires)
        entry = {
            "at": now,
            "kind": "spare_offer",
            "number": spare.number,
            "offer_id": attempt.offer_id,
        }
        _, changed = await engine.apply_call(call_id, partial(_offer, attempt=attempt), entry)
        if not changed:
            # The call moved on (an operator took it, the caller left): undo the slot.
            await self.counters.give_back(spare.number, call_id)
            await self.counters.uncount(spare, now)
            return False
        engine.spawn(
            engine.commands.connect(
                call_id,
                attempt.offer_id,
                Address(TargetType.PSTN, attempt.number),
                video=False,
                ring_timeout_s=policy.ring_timeout_s,
                headers={"X-Overflow": "1"},
            )
        )
        return True


def _no_spare(call: Call, now: datetime, *, policy: RoutingPolicy) -> Step[Call]:
    return call_rules.no_spare(call, now, policy)


def _offer(call: Call, now: datetime, *, attempt: SpareAttempt) -> Step[Call]:
    return call_rules.spare_offer(call, attempt)
