"""A discrete-event simulation of the REAL routing core: an event heap, a virtual clock, no I/O.

The decision (which operator, which call, the claim's two steps) is backend/domain/routing.py
over the engine's own read view (backend/domain/view.py), the very code the engine calls. It
plays the shell's part the way backend/services/engine.py does: every transition's
actions are applied (OfferAnswered → operators.offer_answered, DispatchCall → choose an
operator and offer, CallFinished → operators.call_finished, ...), deadlines are armed as
timers keyed by document, and the scenario's reports (answered, not answered, hung up)
are events on the heap. The invariants are checked after every event.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain import routing
from backend.domain.actions import (
    Action,
    CallFinished,
    DispatchCall,
    DispatchOperator,
    ManagerAway,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    ReleaseSpare,
    StatusInterval,
    Step,
    TryOverflow,
)
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
from tests.simulation import invariants

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NO_ANSWER_CODE = 408


@dataclass(frozen=True, slots=True)
class CallKind:
    """One stream of calls: its group, its priority and its share of the arrivals."""

    group: str = "default"
    priority: int = 50
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Params:
    arrival_rate: float  # calls per second (Poisson)
    handle_time_s: float  # mean of the exponential talk time
    operators: int | Sequence[tuple[Skill, ...]]  # a count (all in "default") or their skills
    calls: int
    ring_s: float = 0.0  # how long an operator's phone rings before they answer
    no_answer_prob: float = 0.0
    ring_timeout_s: int = 20  # the scenario gives up on an unanswered operator after this
    no_answer_pause_s: int = 30
    max_no_answer: int = 3
    ban_minutes: float = 5.0
    wrap_up_s: int = 0
    strategy: Strategy = Strategy.LONGEST_IDLE
    mix: tuple[CallKind, ...] = (CallKind(),)
    sl_within_s: float = 20.0
    warmup_calls: int = 0
    full_check: bool = False  # also scan the whole state after every event (slow)

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            strategy=self.strategy,
            ring_timeout_s=self.ring_timeout_s,
            no_answer_delay_s=self.no_answer_pause_s,
            max_no_answer=self.max_no_answer,
            ban_minutes=self.ban_minutes,
            ban_cap_minutes=max(self.ban_minutes, 120.0),
            wrap_up_s=self.wrap_up_s,
        )

    def skills(self) -> list[tuple[Skill, ...]]:
        if isinstance(self.operators, int):
            return [(Skill("default"),)] * self.operators
        return list(self.operators)


@dataclass(slots=True)
class CallRecord:
    arrived: datetime
    handle_s: float
    kind: int  # index into Params.mix
    offered: datetime | None = None  # the first offer
    connected: datetime | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One replication: every call in arrival order, the warm-up included, and counters."""

    warmup: int  # the first calls, not counted in the figures
    waits_s: tuple[float, ...]  # enqueue → connected
    waited: tuple[bool, ...]  # found no routable operator on arrival
    arrivals_s: tuple[float, ...]
    handles_s: tuple[float, ...]
    kinds: tuple[int, ...]  # each call's index into Params.mix
    offers: int
    misses: int
    bans: int
    events: int

    @property
    def counted_waits_s(self) -> tuple[float, ...]:
        return self.waits_s[self.warmup :]


class Kind(IntEnum):
    ARRIVAL = 0
    ANSWER = 1
    NO_ANSWER = 2
    HANG_UP = 3
    OPERATOR_TIMER = 4
    CALL_TIMER = 5


# (when, tie-breaking sequence number, kind, call id or login, offer id for reports)
Event = tuple[datetime, int, Kind, str, str]


class Simulation:
    def __init__(self, params: Params, seed: int) -> None:
        self.p = params
        self.policy = params.policy()
        # Separate streams, so a change in one option does not shift the others' draws.
        self.arrival_rng = random.Random(f"{seed}/arrivals")
        self.handle_rng = random.Random(f"{seed}/handles")
        self.answer_rng = random.Random(f"{seed}/answers")
        self.kind_rng = random.Random(f"{seed}/kinds")
        self.now = T0
        self.heap: list[Event] = []
        self.seq = itertools.count()
        self.ops: dict[str, Operator] = {}
        self.live: dict[str, Call] = {}
        # The engine's own read view: the same orderings, the same proposals.
        self.view = ReadView(lambda group: params.strategy)
        self.op_timer: dict[str, datetime] = {}
        self.call_timer: dict[str, datetime] = {}
        self.records: list[CallRecord] = []
        self.offers = self.misses = self.bans = self.events = 0
        self.monitor = invariants.Monitor()
        for i, skills in enumerate(params.skills()):
            login = f"op{i:03d}"
            op = op_rules.new_operator(login, Address(TargetType.USER, login), skills, T0)
            self.ops[login] = op
            self.monitor.operator_saved(op)
            self.apply_operator(login, lambda o: op_rules.set_presence(o, Presence.READY, None, T0))

    # -- the event loop ------------------------------------------------------------------

    def run(self) -> Run:
        self.schedule(self.now, Kind.ARRIVAL, "0")
        while self.heap:
            at, _, kind, key, token = heapq.heappop(self.heap)
            self.now = at
            if self.handle(kind, key, token):
                self.events += 1
                self.monitor.check()
                if self.p.full_check:
                    invariants.check(self.ops.values(), self.live.values())
        # Belt and braces: the full scan agrees with the incremental checks at the end.
        invariants.check(self.ops.values(), self.live.values())
        return self.result()

    def schedule(self, at: datetime, kind: Kind, key: str, token: str = "") -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, key, token))

    def handle(self, kind: Kind, key: str, token: str) -> bool:
        """Apply one event; False for a timer that was re-armed or disarmed since."""
        now = self.now
        match kind:
            case Kind.ARRIVAL:
                self.arrive(int(key))
            case Kind.ANSWER:
                changed = self.apply_call(
                    key, lambda c: call_rules.offer_connected(c, token, now, self.policy)
                )
                if changed:
                    handle = timedelta(seconds=self.records[int(key[1:])].handle_s)
                    self.schedule(now + handle, Kind.HANG_UP, key)
            case Kind.NO_ANSWER:
                self.apply_call(
                    key,
                    lambda c: call_rules.offer_failed(c, token, NO_ANSWER_CODE, now, self.policy),
                )
            case Kind.HANG_UP:
                self.apply_call(key, lambda c: call_rules.caller_hung_up(c, now))
            case Kind.OPERATOR_TIMER:
                if self.op_timer.get(key) != now:
                    return False
                self.operator_deadline(key)
            case Kind.CALL_TIMER:
                if self.call_timer.get(key) != now:
                    return False
                self.apply_call(key, lambda c: call_rules.deadline_reached(c, now, self.policy))
        return True

    def arrive(self, index: int) -> None:
        p = self.p
        index_of_kind = 0 if len(p.mix) == 1 else self.pick_kind()
        kind = p.mix[index_of_kind]
        handle_s = self.handle_rng.expovariate(1.0 / p.handle_time_s)
        self.records.append(CallRecord(self.now, handle_s, index_of_kind))
        step = call_rules.new_call(
            f"c{index}", kind.group, kind.priority, Media.VOICE, self.now, self.policy
        )
        self.save_call(step)
        if index + 1 < p.calls:
            gap = timedelta(seconds=self.arrival_rng.expovariate(p.arrival_rate))
            self.schedule(self.now + gap, Kind.ARRIVAL, str(index + 1))

    def pick_kind(self) -> int:
        weights = [k.weight for k in self.p.mix]
        return self.kind_rng.choices(range(len(self.p.mix)), weights)[0]

    def operator_deadline(self, login: str) -> None:
        """As engine.operator_deadline: offers and calls are settled through the call."""
        op = self.ops[login]
        if op.activity is Activity.OFFERED:
            return
        if op.activity is Activity.IN_CALL:
            self.apply_operator(login, lambda o: op_rules.in_call_checked(o, self.now, self.policy))
            return
        self.apply_operator(login, lambda o: op_rules.deadline_reached(o, self.now))

    # -- guarded state changes (in memory: no races to lose) ------------------------------

    def apply_operator(self, login: str, transition: Callable[[Operator], Step[Operator]]) -> None:
        self.save_operator(transition(self.ops[login]))

    def save_operator(self, step: Step[Operator]) -> None:
        new = step.state
        if new is None:
            return
        old = self.ops[new.login]
        self.ops[new.login] = new
        self.monitor.operator_saved(new)
        self.view.put_operator(new)
        if new.activity is Activity.BANNED and old.activity is not Activity.BANNED:
            self.bans += 1
        # Timers are keyed by document and replaced when re-armed, as in the shell.
        if new.activity_until is None:
            self.op_timer.pop(new.login, None)
        elif new.activity_until != old.activity_until:
            self.op_timer[new.login] = new.activity_until
            self.schedule(new.activity_until, Kind.OPERATOR_TIMER, new.login)
        self.execute(step.actions)

    def apply_call(self, call_id: str, transition: Callable[[Call], Step[Call]]) -> bool:
        call = self.live.get(call_id)
        if call is None:
            return False
        step = transition(call)
        self.save_call(step)
        return step.changed

    def save_call(self, step: Step[Call]) -> None:
        new = step.state
        if new is None:
            return
        cid = new.call_id
        self.monitor.call_saved(new)
        self.view.put_call(new)
        if new.state is CallState.ENDED:
            self.live.pop(cid, None)
            self.call_timer.pop(cid, None)
        else:
            self.live[cid] = new
            if new.deadline is None:
                self.call_timer.pop(cid, None)
            elif self.call_timer.get(cid) != new.deadline:
                self.call_timer[cid] = new.deadline
                self.schedule(new.deadline, Kind.CALL_TIMER, cid)
        record = self.records[int(cid[1:])]
        if new.state is CallState.OFFERING and record.offered is None:
            record.offered = self.now
        if new.state is CallState.CONNECTED and record.connected is None:
            record.connected = new.connected_at
        self.execute(step.actions)

    # -- actions, as engine.run applies them ------------------------------------------------

    def execute(self, actions: Sequence[Action]) -> None:
        now, policy, ops = self.now, self.policy, self.ops
        for action in actions:
            match action:
                case StatusInterval():
                    pass
                case DispatchCall(call_id):
                    self.dispatch_call(call_id)
                case DispatchOperator(login):
                    self.dispatch_operator(login)
                case OfferAnswered(login, offer_id, _, answer_s):
                    op = ops[login]
                    self.save_operator(op_rules.offer_answered(op, offer_id, answer_s, now, policy))
                case OfferMissed(login, offer_id, code):
                    counted = code in call_rules.OPERATOR_FAULT_CODES
                    self.misses += counted
                    step = op_rules.offer_missed(ops[login], offer_id, now, policy, counted=counted)
                    self.save_operator(step)
                case OfferReleased(login, offer_id):
                    self.save_operator(op_rules.release_offer(ops[login], offer_id, now))
                case CallFinished(login, call_id, talk_s, _):
                    wrap_up_s = policy.wrap_up_s
                    step = op_rules.call_finished(ops[login], call_id, talk_s, now, wrap_up_s)
                    self.save_operator(step)
                case TryOverflow() | ReleaseSpare():
                    raise AssertionError(f"{action}: the simulated groups have no spare numbers")
                case ManagerAway():
                    pass  # no simulated call waits for a manager by name
                case _:
                    # SendCancel/SendHangup/CheckSession are I/O: nothing to do
                    # here, and a cancelled offer's late report is stale by its offer id.
                    pass

    # -- the decision: backend/domain/routing.py, exactly as the engine calls it --------------

    def dispatch_call(self, call_id: str) -> None:
        call = self.live.get(call_id)
        if call is None:
            return
        op = routing.propose_operator(self.view, call, self.policy.strategy, self.now)
        if op is not None:
            self.claim(call, op)

    def dispatch_operator(self, login: str) -> None:
        call = routing.propose_call(self.view, self.ops[login], self.now)
        if call is not None:
            self.claim(call, self.ops[login])

    def claim(self, call: Call, op: Operator) -> None:
        """As engine._claim: reserve the operator, then the call; then 'send' connect."""
        now, policy = self.now, self.policy
        offer_id = f"{call.call_id}/{call.attempts + 1}"
        decided = routing.claim(call, op, offer_id, now, policy)
        op_step, call_step = decided.operator, decided.call
        assert call_step.changed, f"{call.call_id} could not be offered"
        self.offers += 1
        # Both saved before any action runs, as the shell saves both documents first.
        self.save_operator(Step(op_step.state))
        self.save_call(call_step)
        self.execute(op_step.actions)
        # The scenario acknowledged connect; later it reports the operator's answer or not.
        self.apply_call(call.call_id, lambda c: call_rules.offer_sent(c, offer_id, now))
        if self.p.no_answer_prob and self.answer_rng.random() < self.p.no_answer_prob:
            at, kind = now + timedelta(seconds=self.p.ring_timeout_s), Kind.NO_ANSWER
        else:
            at, kind = now + timedelta(seconds=self.p.ring_s), Kind.ANSWER
        self.schedule(at, kind, call.call_id, offer_id)

    # -- results ---------------------------------------------------------------------------

    def result(self) -> Run:
        waits, waited, arrivals, handles = [], [], [], []
        for r in self.records:
            assert r.connected is not None and r.offered is not None, "a call was never answered"
            waits.append((r.connected - r.arrived).total_seconds())
            waited.append(r.offered > r.arrived)
            arrivals.append((r.arrived - T0).total_seconds())
            handles.append(r.handle_s)
        return Run(
            self.p.warmup_calls,
            tuple(waits),
            tuple(waited),
            tuple(arrivals),
            tuple(handles),
            tuple(r.kind for r in self.records),
            self.offers,
            self.misses,
            self.bans,
            self.events,
        )
