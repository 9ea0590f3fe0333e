"""The safety net every process runs: due deadlines, absent operators, missed matches."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from backend.adapters.push import PushHub
from backend.domain import operators as op_rules
from backend.services.engine import Contention, Engine
from backend.services.overflow import Overflow

log = logging.getLogger(__name__)
DEADLINE_MARGIN_S = 0.3


class Sweeper:
    def __init__(self, engine: Engine, hub: PushHub) -> None:
        self.engine = engine
        self.hub = hub
        # Held while a sweep runs, so shutdown can let the one in flight finish.
        self.running = asyncio.Lock()

    async def heartbeat(self) -> None:
        """Mark the operators with a live socket here as seen."""
        await self.engine.store.touch_operators(self.hub.logins(), self.engine.clock())

    async def sweep(self) -> None:
        """Finish what a dead process left behind; every handler is idempotent."""
        async with self.running:
            await self._sweep()

    async def _sweep(self) -> None:
        engine, store = self.engine, self.engine.store
        now = engine.clock()
        # Due deadlines come from the read view (it mirrors every process's writes); a small
        # margin leaves each deadline to the timer of the process that set it, if it lives.
        late = now - timedelta(seconds=DEADLINE_MARGIN_S)
        try:
            for login in engine.view.due_operators(late):
                await engine.operator_deadline(login)
            for call_id in engine.view.due_calls(late):
                await engine.call_deadline(call_id)
            grace = timedelta(seconds=engine.settings.config.routing.presence_grace_s)
            for op in await store.absent_ready_operators(now - grace):
                if not self.hub.connected(op.login):
                    await engine.apply_operator(op.login, op_rules.presence_lost)
            await self.rebalance()
            overflow = engine.overflow
            if isinstance(overflow, Overflow):
                await overflow.reconcile()
        except Contention as e:
            log.info("sweep deferred: %s", e)

    async def rebalance(self) -> None:
        """A last guard for "no call waits while a fitting operator is Ready" (from the view)."""
        await self.engine.rebalance()
