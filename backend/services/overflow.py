"""Overflow: a call that has waited past its group's threshold goes to a spare number."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from backend.adapters.spares_store import SpareCounters
from backend.clock import new_id
from backend.domain import calls as call_rules
from backend.domain.actions import Step
from backend.domain.model import Address, Call, SpareAttempt, TargetType
from backend.domain.overflow import choose_spare
from backend.domain.policy import RoutingPolicy
from backend.services.engine import Engine


class Overflow:
    def __init__(self, engine: Engine, counters: SpareCounters) -> None:
        self.engine = engine
        self.counters = counters

    async def attempt(self, call_id: str) -> None:
        """Put the call through to the least used spare that may take it, if it is still due."""
        engine = self.engine
        skip: set[str] = set()
        for _ in range(8):
            call = await engine.call(call_id, fresh=_ > 0)
            now = engine.clock()
            if call is None:
                return
            policy = engine.settings.policy(call.group)
            if not call_rules.overflow_due(call, now, policy):
                return
            # An operator who is free now takes the call before any spare.
            if await engine.dispatch_call(call_id):
                return
            spares = engine.settings.spares_of(call.group)
            usage = await self.counters.usage(spares, now)
            spare = choose_spare(spares, usage, now, exclude={*call.spares_tried, *skip})
            if spare is None:
                await engine.apply_call(call_id, partial(_no_spare, policy=policy))
                return
            if not await self.counters.take(spare, call_id, now):
                skip.add(spare.number)  # another process took its last slot or call
                continue
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
                return
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
            return

    async def release(self, number: str, call_id: str) -> None:
        await self.counters.give_back(number, call_id)

    async def reconcile(self) -> int:
        """Free slots a dead process left held (after the longest an attempt can take)."""
        r = self.engine.settings.config.routing
        return await self.counters.reconcile(
            self.engine.clock(), r.ring_timeout_s + r.offer_grace_s + 10
        )


def _no_spare(call: Call, now: datetime, *, policy: RoutingPolicy) -> Step[Call]:
    return call_rules.no_spare(call, now, policy)


def _offer(call: Call, now: datetime, *, attempt: SpareAttempt) -> Step[Call]:
    return call_rules.spare_offer(call, attempt)
