"""The routing shell: guarded state changes, dispatch, deadlines and commands to the scenario."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import Any, Protocol

from backend.adapters.documents import Doc
from backend.adapters.mongo import Store
from backend.adapters.platform import (
    PlatformClient,
)
from backend.adapters.scheduler import Timers
from backend.clock import new_id, utcnow
from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain.actions import (
    Action,
    CallFinished,
    CheckSession,
    DispatchCall,
    DispatchOperator,
    ManagerAway,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    ReleaseSpare,
    SendCancel,
    SendHangup,
    StatusInterval,
    Step,
    TryOverflow,
)
from backend.domain.model import Activity, Call, CallState, Media, Offer, Operator
from backend.domain.policy import RoutingPolicy
from backend.domain.selection import choose_call, choose_operator
from backend.services.commands import ScenarioCommands
from backend.services.status_history import StatusHistory
from backend.settings import Settings

log = logging.getLogger(__name__)

# How many candidates one query brings back: enough to survive a few lost races.
CANDIDATES = 8
# How often a guarded write is retried after losing a race before giving up for now
# (the sweep and the next event pick the work up again).
MAX_RACES = 12

OperatorTransition = Callable[[Operator, datetime], Step[Operator]]
CallTransition = Callable[[Call, datetime], Step[Call]]


class Claim(Enum):
    WON = "won"
    OPERATOR_LOST = "operator_lost"
    CALL_LOST = "call_lost"


class OverflowPort(Protocol):
    async def attempt(self, call_id: str) -> None: ...

    async def release(self, number: str, call_id: str) -> None: ...


class Contention(Exception):
    """A document kept changing under us; the caller may answer 503 and the sweep repairs."""


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        platform: PlatformClient,
        timers: Timers | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.platform = platform
        self.timers = timers
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self.history = StatusHistory(store)
        # Set by the app when any group has spare numbers (services/overflow.py).
        self.overflow: OverflowPort | None = None
        # Set by the app: called with (login, call_id) before the wrap-up timer frees an
        # operator (services/desk.py records a required disposition nobody chose).
        self.wrap_up_ending: Callable[[str, str], Awaitable[None]] | None = None
        # Claims in this process run one at a time: concurrent arrivals would otherwise all
        # race for the same longest-idle operator (measured: most guarded writes then lose and
        # the database does the work several times). Across processes the guarded writes decide.
        self._dispatch_lock = asyncio.Lock()
        self.commands = ScenarioCommands(self)

    # -- background work -------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task failed", exc_info=exc)

    def run_later(self, *actions: Action) -> None:
        self.spawn(self.run(actions))

    async def drain(self) -> None:
        """Wait for the commands in flight and write the history (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.history.flush()

    def start(self) -> None:
        self.history.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.history.close()

    # -- guarded state changes -------------------------------------------------------

    async def apply_operator(self, login: str, transition: OperatorTransition) -> Operator | None:
        """Load, decide, write guarded by rev; on a lost race decide again. Refused propagates.

        Returns the operator as it now stands (None if there is no such operator).
        """
        for _ in range(MAX_RACES):
            op = await self.store.operator(login)
            if op is None:
                return None
            now = self.clock()
            step = transition(op, now)
            if step.state is None:
                return op
            saved = await self.store.save_operator(op, step.state, now)
            if saved is not None:
                self._arm_operator(saved)
                await self.run(step.actions, saved)
                return saved
        raise Contention(f"operator {login} kept changing")

    async def apply_call(
        self,
        call_id: str,
        transition: CallTransition,
        log_entry: Doc | None = None,
        *,
        log_ignored: bool = True,
    ) -> tuple[Call | None, bool]:
        """Like apply_operator, for calls; also says whether the transition changed anything.

        An ignored transition still logs what happened outside (a command sent, a report
        received) unless log_ignored is False: a refused request writes nothing."""
        for _ in range(MAX_RACES):
            call = await self.store.call(call_id)
            if call is None:
                return None, False
            now = self.clock()
            step = transition(call, now)
            if step.state is None:
                if log_entry and log_ignored:
                    await self.store.append_call_log(call_id, [{**log_entry, "ignored": True}])
                return call, False
            entries = [log_entry] if log_entry else []
            if step.state.state is not call.state:
                # The state history is what audits ("how long was it queued?") are built from.
                entries.append(
                    {
                        "at": now,
                        "kind": "state",
                        "from": call.state.value,
                        "to": step.state.state.value,
                    }
                )
            saved = await self.store.save_call(call, step.state, now, entries)
            if saved is not None:
                self._arm_call(saved)
                await self.run(step.actions)
                return saved, True
        raise Contention(f"call {call_id} kept changing")

    # -- actions ---------------------------------------------------------------------

    async def run(
        self, actions: tuple[Action, ...] | list[Action], operator: Operator | None = None
    ) -> None:
        """Carry out a transition's actions. `operator` is the state just saved, if any."""
        self.history.add([a for a in actions if isinstance(a, StatusInterval)])
        for action in actions:
            match action:
                case StatusInterval():
                    pass
                case DispatchCall(call_id):
                    await self.dispatch_call(call_id)
                case DispatchOperator(login):
                    known = operator if operator and operator.login == login else None
                    await self.dispatch_operator(login, known)
                case OfferAnswered(login, offer_id, _, answer_s):
                    policy = self.settings.policy()
                    await self.apply_operator(
                        login,
                        partial(_answered, offer_id=offer_id, answer_s=answer_s, policy=policy),
                    )
                case OfferMissed(login, offer_id, code):
                    counted = code in call_rules.OPERATOR_FAULT_CODES
                    await self.apply_operator(
                        login,
                        partial(
                            _missed,
                            offer_id=offer_id,
                            policy=self.settings.policy(),
                            counted=counted,
                        ),
                    )
                case OfferReleased(login, offer_id):
                    await self.apply_operator(login, partial(_released, offer_id=offer_id))
                case CallFinished(login, call_id, talk_s, group):
                    wrap_up_s = self.settings.policy(group).wrap_up_s
                    await self.apply_operator(
                        login,
                        partial(_finished, call_id=call_id, talk_s=talk_s, wrap_up_s=wrap_up_s),
                    )
                case SendCancel(call_id, offer_id):
                    # Awaited, not spawned: the dead leg must be gone before the next connect
                    # of this call can reach the scenario.
                    await self.commands.send(call_id, {"command": "cancel", "offer_id": offer_id})
                case SendHangup(call_id, reason):
                    self.spawn(self.commands.send(call_id, {"command": "hangup", "reason": reason}))
                case TryOverflow(call_id):
                    if self.overflow is not None:
                        await self.overflow.attempt(call_id)
                case ReleaseSpare(number, call_id):
                    if self.overflow is not None:
                        await self.overflow.release(number, call_id)
                case ManagerAway(login):
                    await self.stop_waiting_for(login)
                case CheckSession(call_id):
                    self.spawn(self.commands.send(call_id, {"command": "status"}))

    # -- dispatch --------------------------------------------------------------------

    async def dispatch_call(self, call_id: str, known: Call | None = None) -> bool:
        """Offer a waiting call to the best routable operator of its group, if there is one."""
        # A call held from before a wait for the lock may be stale (an operator who freed
        # up meanwhile may have taken it): read it again rather than lose a claim on it.
        if self._dispatch_lock.locked():
            known = None
        async with self._dispatch_lock:
            for attempt in range(MAX_RACES):
                call = known if attempt == 0 and known else await self.store.call(call_id)
                if call is None or not call.waiting:
                    return False
                strategy = self.settings.policy(call.group).strategy
                now = self.clock()
                if (manager := call.waits_for(now)) is not None:
                    # Waiting for its manager: nobody else may take it until the limit.
                    found = await self.store.operator(manager)
                    candidates = [found] if found else []
                else:
                    candidates = await self.store.routable_operators(
                        call.group, strategy, CANDIDATES
                    )
                if not candidates:
                    return False  # nobody fitting is routable: the call waits
                while (op := choose_operator(call, candidates, strategy, now=now)) is not None:
                    result = await self._claim(call, op)
                    if result is Claim.WON:
                        return True
                    if result is Claim.CALL_LOST:
                        break
                    # Another process took that operator: the next candidate, no new query.
                    candidates = [c for c in candidates if c.login != op.login]
            return False

    async def dispatch_operator(self, login: str, known: Operator | None = None) -> bool:
        """A newly routable operator takes the most urgent waiting call of their groups."""
        if self._dispatch_lock.locked():
            known = None
        async with self._dispatch_lock:
            for attempt in range(MAX_RACES):
                op = known if attempt == 0 and known else await self.store.operator(login)
                if op is None or not op.routable:
                    return False
                # Calls waiting for this operator by name first, then their groups' calls.
                mine = await self.store.calls_waiting_for(login, CANDIDATES)
                queued = mine + await self.store.queued_calls(op.group_names, CANDIDATES)
                if not queued:
                    return False  # nothing waiting for this operator
                now = self.clock()
                while (call := choose_call(op, queued, now)) is not None:
                    result = await self._claim(call, op)
                    if result is Claim.WON:
                        return True
                    if result is Claim.OPERATOR_LOST:
                        break
                    # Another process took that call: the next one, no new query.
                    queued = [c for c in queued if c.call_id != call.call_id]
            return False

    async def _claim(self, call: Call, op: Operator) -> Claim:
        """Reserve the operator, then the call; undo the reservation if the call was taken."""
        policy = self.settings.policy(call.group)
        now = self.clock()
        offer_id = new_id()
        expires = now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
        op_step = op_rules.offer(op, call.call_id, offer_id, expires, now)
        assert op_step.state is not None
        reserved = await self.store.save_operator(op, op_step.state, now)
        if reserved is None:
            return Claim.OPERATOR_LOST
        the_offer = Offer(offer_id, op.login, op.address, now, expires)
        call_step = call_rules.offer(call, the_offer)
        claimed = (
            await self.store.save_call(
                call,
                call_step.state,
                now,
                [
                    _entry(now, "offer", the_offer),
                    {"at": now, "kind": "state", "from": "queued", "to": "offering"},
                ],
            )
            if call_step.state is not None
            else None
        )
        if claimed is None:
            # Another process took the call first: give the operator back, place kept.
            released = op_rules.release_offer(reserved, offer_id, now)
            if (
                released.state is None
                or await self.store.save_operator(reserved, released.state, now) is None
            ):
                self.spawn(self.apply_operator(op.login, partial(_released, offer_id=offer_id)))
            return Claim.CALL_LOST
        self._arm_operator(reserved)
        self._arm_call(claimed)
        self.history.add([a for a in op_step.actions if isinstance(a, StatusInterval)])
        self.spawn(
            self.commands.connect(
                call.call_id,
                offer_id,
                op.address,
                video=call.media is Media.VIDEO,
                ring_timeout_s=policy.ring_timeout_s,
                on_sent=call_rules.offer_sent,
            )
        )
        return Claim.WON

    async def stop_waiting_for(self, login: str) -> None:
        """The manager went away: their callers go to their groups at once."""
        for call in await self.store.calls_waiting_for(login, 1000):
            policy = self.settings.policy(call.group)
            await self.apply_call(
                call.call_id, partial(_drop_preference, login=login, policy=policy)
            )

    # -- deadlines -------------------------------------------------------------------

    def _arm_operator(self, op: Operator) -> None:
        if self.timers is not None and op.activity_until is not None:
            self.timers.at(f"op:{op.login}", op.activity_until, self.operator_deadline, op.login)

    def _arm_call(self, call: Call) -> None:
        if self.timers is not None and call.deadline is not None:
            self.timers.at(f"call:{call.call_id}", call.deadline, self.call_deadline, call.call_id)

    async def operator_deadline(self, login: str) -> None:
        """Idempotent: acts only if the operator is still in the state that armed the deadline."""
        op = await self.store.operator(login)
        now = self.clock()
        if op is None or op.activity_until is None or op.activity_until > now:
            return
        if op.activity in (Activity.OFFERED, Activity.IN_CALL) and op.call_id:
            await self._settle_from_call(op)
            return
        if op.activity is Activity.WRAP_UP and op.call_id and self.wrap_up_ending is not None:
            await self.wrap_up_ending(login, op.call_id)
        await self.apply_operator(login, op_rules.deadline_reached)

    async def _settle_from_call(self, op: Operator) -> None:
        """The call is the record of truth for an offer or a conversation: the operator follows."""
        assert op.call_id is not None
        call = await self.store.call(op.call_id)
        policy = self.settings.policy(call.group if call else None)
        if op.activity is Activity.OFFERED:
            offer_id = op.offer_id or ""
            if (
                call
                and call.state is CallState.OFFERING
                and call.offer
                and (call.offer.offer_id == offer_id)
            ):
                await self.apply_call(
                    call.call_id, lambda c, now: call_rules.offer_expired(c, offer_id, now, policy)
                )
                return
            if call and call.state is CallState.CONNECTED and call.operator == op.login:
                await self.apply_operator(
                    op.login,
                    lambda o, now: op_rules.offer_answered(o, offer_id, 0.0, now, policy),
                )
                return
            await self.apply_operator(
                op.login, lambda o, now: op_rules.release_offer(o, offer_id, now)
            )
            return
        # In a call: is the call still going?
        if call is None or call.ended or call.operator != op.login:
            talk = 0.0
            if call and call.connected_at and call.ended_at:
                talk = (call.ended_at - call.connected_at).total_seconds()
            cid = op.call_id
            await self.apply_operator(
                op.login,
                lambda o, now: op_rules.call_finished(o, cid, talk, now, policy.wrap_up_s),
            )
        else:
            await self.apply_operator(
                op.login, lambda o, now: op_rules.in_call_checked(o, now, policy)
            )

    async def call_deadline(self, call_id: str) -> None:
        call = await self.store.call(call_id)
        if call is None or call.deadline is None or call.deadline > self.clock():
            return
        policy = self.settings.policy(call.group)
        await self.apply_call(call_id, lambda c, now: call_rules.deadline_reached(c, now, policy))


def _answered(
    op: Operator, now: datetime, *, offer_id: str, answer_s: float, policy: RoutingPolicy
) -> Step[Operator]:
    return op_rules.offer_answered(op, offer_id, answer_s, now, policy)


def _missed(
    op: Operator, now: datetime, *, offer_id: str, policy: RoutingPolicy, counted: bool
) -> Step[Operator]:
    return op_rules.offer_missed(op, offer_id, now, policy, counted=counted)


def _released(op: Operator, now: datetime, *, offer_id: str) -> Step[Operator]:
    return op_rules.release_offer(op, offer_id, now)


def _finished(
    op: Operator, now: datetime, *, call_id: str, talk_s: float, wrap_up_s: int
) -> Step[Operator]:
    return op_rules.call_finished(op, call_id, talk_s, now, wrap_up_s)


def _drop_preference(call: Call, now: datetime, *, login: str, policy: RoutingPolicy) -> Step[Call]:
    return call_rules.preference_dropped(call, login, now, policy)


def _entry(at: datetime, kind: str, offer: Offer) -> Doc:
    return {
        "at": at,
        "kind": kind,
        "offer_id": offer.offer_id,
        "operator": offer.operator,
        "target": {"type": offer.target.type.value, "address": offer.target.address},
    }
