"""The routing shell: guarded state changes, dispatch, deadlines and commands to the scenario."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from pymongo.errors import DuplicateKeyError

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.documents import Doc
from backend.adapters.documents import call_from as call_from_doc
from backend.adapters.invite_store import InviteStore
from backend.adapters.mongo import Store
from backend.adapters.platform import (
    PlatformClient,
)
from backend.adapters.scheduler import Timers
from backend.auth import InviteSigner
from backend.cancelling import cancel_and_wait
from backend.clock import new_id, utcnow
from backend.domain import calls as call_rules
from backend.domain import operators as op_rules
from backend.domain import parties as party_rules
from backend.domain import routing
from backend.domain.actions import (
    Action,
    Announce,
    CallFinished,
    CheckSession,
    DialNumber,
    DispatchCall,
    DispatchOperator,
    ManagerAway,
    OfferAnswered,
    OfferMissed,
    OfferReleased,
    Refused,
    ReleaseSpare,
    SendAddParty,
    SendCancel,
    SendHangup,
    SendHold,
    SendPartyMode,
    SendRemoveParty,
    StatusInterval,
    Step,
    TryOverflow,
)
from backend.domain.model import (
    Activity,
    Call,
    CallState,
    Media,
    Offer,
    Operator,
    PartyState,
    Strategy,
)
from backend.domain.policy import RoutingPolicy
from backend.domain.view import ReadView
from backend.services.commands import ScenarioCommands
from backend.services.rollup import Rollup
from backend.services.status_history import StatusHistory
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.services.callback import Callbacks
    from backend.services.fallback import Fallbacks

log = logging.getLogger(__name__)

# A change made by another process is matched here only if that process has not done so
# within this time (it died, or the two writes crossed): the backstop, not the first try.
REBALANCE_DELAY_S = 0.15
# How often a guarded write is retried after losing a race before giving up for now
# (the sweep and the next event pick the work up again).
MAX_RACES = 12

OperatorTransition = Callable[[Operator, datetime], Step[Operator]]
CallTransition = Callable[[Call, datetime], Step[Call]]


class ClaimResult(Enum):
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
        feed: ChangeFeed,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        # The read view proposes (who is routable, which call is next); the guarded writes
        # decide. Every write this process makes is folded into it at once.
        self.feed = feed
        self.view: ReadView = feed.view
        feed.listeners.append(self._changed)
        self._rebalance_due: asyncio.TimerHandle | None = None
        self.lost_races = 0
        self.platform = platform
        self.timers = timers
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rollup = Rollup(settings, feed)
        self.history = StatusHistory(store, rollup=self.rollup)
        # Set by the app when any group has spare numbers (services/overflow.py).
        self.overflow: OverflowPort | None = None
        # Set by the app (services/fallback.py): closed groups, empty groups, maximum wait.
        self.fallbacks: Fallbacks | None = None
        # Set by the app (services/callback.py): starts the session of a queued callback.
        self.callbacks: Callbacks | None = None
        # Set by the app: called with (login, call_id) before the wrap-up timer frees an
        # operator (services/desk.py records a required disposition nobody chose).
        self.wrap_up_ending: Callable[[str, str], Awaitable[None]] | None = None
        # Claims in this process run one at a time: concurrent arrivals would otherwise all
        # race for the same longest-idle operator (measured: most guarded writes then lose and
        # the database does the work several times). Across processes the guarded writes decide.
        self._dispatch_lock = asyncio.Lock()
        self.commands = ScenarioCommands(self)
        # Video invitations: their documents, and (set by the app, which knows the secret key)
        # the signer of their links.
        self.invites = InviteStore(store.db)
        self.invite_signer: InviteSigner | None = None

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
        await cancel_and_wait(list(self._tasks))
        await self.history.close()

    # -- reading: the view first, the database when the view has nothing or lost a race --

    async def operator(self, login: str, *, fresh: bool = False) -> Operator | None:
        op = None if fresh else self.view.operator(login)
        return op if op is not None else await self.feed.refresh_operator(login)

    async def call(self, call_id: str, *, fresh: bool = False) -> Call | None:
        call = None if fresh else self.view.call(call_id)
        if call is None and not fresh and (doc := self.feed.call_doc(call_id)) is not None:
            call = call_from_doc(doc)
        return call if call is not None else await self.feed.refresh_call(call_id)

    def call_doc(self, call_id: str) -> Doc | None:
        """The call as this process knows it (calls in progress and recently ended)."""
        return self.feed.call_doc(call_id)

    async def seen(self, login: str) -> None:
        """The operator was seen now: in this process's view at once, then in the database."""
        now = self.clock()
        self.feed.local_seen([login], now)
        await self.store.touch_operators([login], now)

    # -- guarded state changes -------------------------------------------------------

    async def apply_operator(self, login: str, transition: OperatorTransition) -> Operator | None:
        """Decide from the view, write guarded by rev; on a lost race read, decide again.

        Refused propagates. Returns the operator as it now stands (None if there is none).
        """
        fresh = False
        for _ in range(MAX_RACES):
            cached = None if fresh else self.view.operator(login)
            op = cached or await self.feed.refresh_operator(login)
            if op is None:
                return None
            now = self.clock()
            try:
                step = transition(op, now)
            except Refused:
                if cached is not None:
                    fresh = True  # the view may be behind: refuse only what the database says
                    continue
                raise
            if step.state is None:
                if cached is not None:
                    # "Nothing to do" read from the view may be a change it has not seen yet
                    # (another process's offer): confirm with the database before ignoring.
                    fresh = True
                    continue
                return op
            saved = await self.store.save_operator(op, step.state, now)
            if saved is not None:
                self.feed.local_operator(saved)
                self._arm_operator(saved)
                await self.run(step.actions)
                return saved
            self.lost_races += 1
            fresh = True
        raise Contention(f"operator {login} kept changing")

    async def apply_call(
        self,
        call_id: str,
        transition: CallTransition,
        log_entry: Doc | None = None,
        *,
        log_ignored: bool = True,
        also_set: Doc | None = None,
    ) -> tuple[Call | None, bool]:
        """Like apply_operator, for calls; also says whether the transition changed anything.

        An ignored transition still logs what happened outside (a command sent, a report
        received) unless log_ignored is False: a refused request writes nothing. `also_set`
        rides on the transition's guarded write (written only with it). A log entry without
        `at` gets the time the transition was decided at."""
        fresh = False
        for _ in range(MAX_RACES):
            cached = None if fresh else self.view.call(call_id)
            ended = None if fresh or cached else self.feed.ended.get(call_id)
            if ended is not None:
                # An ended call never changes state again: what this process saw is final.
                stored: Call | None = call_from_doc(ended)
            else:
                stored = cached or await self.call(call_id, fresh=True)
            if stored is None:
                return None, False
            now = self.clock()
            # Facts this process knows but has not written (the connect was delivered) ride
            # along with the next write instead of costing one of their own.
            call = self.commands.with_facts(stored)
            try:
                step = transition(call, now)
            except Refused:
                if cached is not None:
                    fresh = True
                    continue
                raise
            if step.state is None:
                if cached is not None:
                    fresh = True  # confirm "stale" with the database, as for operators
                    continue
                if log_entry and log_ignored:
                    await self.store.append_call_log(call_id, [{**log_entry, "ignored": True}])
                return stored, False
            pending = self.commands.pending_log(call_id)
            # An entry without its own time is stamped with the transition's.
            entries = [*pending, *([{"at": now, **log_entry}] if log_entry else [])]
            if step.state.state is not stored.state:
                # The state history is what audits ("how long was it queued?") are built from.
                entries.append(
                    {
                        "at": now,
                        "kind": "state",
                        "from": stored.state.value,
                        "to": step.state.state.value,
                    }
                )
            saved = await self.store.save_call(stored, step.state, now, entries, also_set)
            if saved is not None:
                self.commands.logged(call_id, len(pending))
                saved_doc = self.feed.local_call(saved, also_set)
                if saved.ended and not stored.ended:
                    self.history.call_ended(saved_doc)
                self._arm_call(saved)
                await self.run(step.actions)
                return saved, True
            self.lost_races += 1
            fresh = True
        raise Contention(f"call {call_id} kept changing")

    # -- actions ---------------------------------------------------------------------

    async def run(self, actions: tuple[Action, ...] | list[Action]) -> None:
        """Carry out a transition's actions (the dispatch of an operator reads the view)."""
        self.history.add([a for a in actions if isinstance(a, StatusInterval)])
        for action in actions:
            match action:
                case StatusInterval():
                    pass
                case DispatchCall(call_id):
                    await self.dispatch_call(call_id)
                case DispatchOperator(login):
                    await self.dispatch_operator(login)
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
                case OfferReleased(login, offer_id, reason):
                    await self.apply_operator(
                        login, partial(_released, offer_id=offer_id, reason=reason)
                    )
                case CallFinished(login, call_id, talk_s, group):
                    policy = self.settings.policy(group)
                    await self.apply_operator(
                        login,
                        partial(
                            _finished,
                            call_id=call_id,
                            talk_s=talk_s,
                            wrap_up_s=policy.wrap_up_s,
                            reserve_s=policy.video_reserve_s,
                        ),
                    )
                case SendCancel(call_id, offer_id):
                    # Awaited, not spawned: the dead leg must be gone before the next connect
                    # of this call can reach the scenario.
                    await self.commands.send(call_id, {"command": "cancel", "offer_id": offer_id})
                case SendRemoveParty(call_id, party_id):
                    # Awaited like a cancel: the leg is gone before anything else is dialled.
                    await self.commands.send(
                        call_id, {"command": "remove_party", "party_id": party_id}
                    )
                case SendAddParty(call_id, party_id, target, ring_timeout_s, mode):
                    self.spawn(
                        self.commands.add_party(
                            call_id, party_id, target, ring_timeout_s, mode=mode
                        )
                    )
                case SendPartyMode(call_id, party_id, mode):
                    await self.commands.send(
                        call_id,
                        {"command": "party_mode", "party_id": party_id, "mode": mode.value},
                    )
                case SendHold(call_id, held):
                    await self.commands.send(call_id, {"command": "hold" if held else "unhold"})
                case SendHangup(call_id, reason, say):
                    command: Doc = {"command": "hangup", "reason": reason}
                    if say and self.fallbacks is not None:
                        # Said first, then the scenario hangs up (a goodbye, not a cut).
                        command["say"] = self.fallbacks.text(reason, "goodbye")
                    self.spawn(self.commands.send(call_id, command))
                case Announce(call_id, kind, why):
                    if self.fallbacks is not None:
                        said = self.fallbacks.announcement(kind, why)
                        self.spawn(
                            self.commands.send(call_id, {"command": "action", "action": said})
                        )
                case DialNumber(call_id, number):
                    if self.fallbacks is not None:
                        await self.fallbacks.dial_number(call_id, number)
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

    async def arrive(self, call: Call, extra: Doc) -> tuple[Doc, bool]:
        """A new call: inserted already offered when an operator can be reserved, else queued.

        Returns the call's document and whether it was created (False: the scenario repeated
        a session this process or another already has).
        """
        async with self._dispatch_lock:
            lost: set[str] = set()
            while op := routing.propose_operator(
                self.view, call, self._strategy(call), self.clock(), exclude=lost
            ):
                result = await self._claim(call, op, insert=extra)
                if result is ClaimResult.WON:
                    doc = self.feed.call_doc(call.call_id)
                    assert doc is not None
                    return doc, True
                if result is ClaimResult.CALL_LOST:
                    return await self._existing(extra), False
                lost.add(op.login)
            now = self.clock()
            try:
                await self.store.insert_call(call, extra, now)
            except DuplicateKeyError:
                return await self._existing(extra), False
            doc = self.feed.local_call(call, {k: v for k, v in extra.items() if k != "log"})
            self._arm_call(call)
        # Written first, then matched: an operator who went Ready meanwhile is either in the
        # view now or will see this call when the change reaches their process.
        await self.dispatch_call(call.call_id)
        return self.feed.call_doc(call.call_id) or doc, True

    async def insert_final(self, call: Call, extra: Doc, now: datetime) -> tuple[Doc, bool]:
        """Insert a call without matching it (refused at once, or going to a number).

        `now` is the time the call was decided at: a call ended at once was updated then."""
        try:
            await self.store.insert_call(call, extra, now)
        except DuplicateKeyError:
            return await self._existing(extra), False
        doc = self.feed.local_call(call, {k: v for k, v in extra.items() if k != "log"})
        self._arm_call(call)
        return doc, True

    async def _existing(self, extra: Doc) -> Doc:
        doc = await self.store.call_doc_by_session(str(extra["session_id"]))
        assert doc is not None
        return doc

    def _strategy(self, call: Call) -> Strategy:
        return self.settings.policy(call.group).strategy

    async def dispatch_call(self, call_id: str) -> bool:
        """Offer a waiting call to the best routable operator of its group, if there is one."""
        async with self._dispatch_lock:
            fresh = False
            for _ in range(MAX_RACES):
                call = await self.call(call_id, fresh=fresh)
                if call is None or not call.waiting:
                    return False
                lost: set[str] = set()
                strategy = self._strategy(call)
                while op := routing.propose_operator(
                    self.view, call, strategy, self.clock(), exclude=lost
                ):
                    result = await self._claim(call, op)
                    if result is ClaimResult.WON:
                        return True
                    if result is ClaimResult.CALL_LOST:
                        break  # read the call again
                    lost.add(op.login)  # another process took them; the view now knows
                else:
                    return False  # nobody fitting is routable: the call waits
                fresh = True
            return False

    async def dispatch_operator(self, login: str) -> bool:
        """A newly routable operator takes the most urgent waiting call of their groups."""
        async with self._dispatch_lock:
            fresh = False
            for _ in range(MAX_RACES):
                op = await self.operator(login, fresh=fresh)
                if op is None or not (op.routable or op.video_reserved):
                    return False
                lost: set[str] = set()
                while call := routing.propose_call(self.view, op, self.clock(), exclude=lost):
                    result = await self._claim(call, op)
                    if result is ClaimResult.WON:
                        return True
                    if result is ClaimResult.OPERATOR_LOST:
                        break  # read the operator again
                    lost.add(call.call_id)  # another process took it; the view now knows
                else:
                    return False  # nothing waiting for this operator
                fresh = True
            return False

    async def _claim(self, call: Call, op: Operator, insert: Doc | None = None) -> ClaimResult:
        """Reserve the operator, then claim the call (or insert it already offered).

        Two guarded writes and no read. A lost write refreshes that document in the view.
        """
        policy = self.settings.policy(call.group)
        now = self.clock()
        offer_id = new_id()
        decided = routing.claim(call, op, offer_id, now, policy)
        op_step, call_step, the_offer = decided.operator, decided.call, decided.offer
        assert op_step.state is not None and call_step.state is not None
        reserved = await self.store.save_operator(op, op_step.state, now)
        if reserved is None:
            self.lost_races += 1
            await self.feed.refresh_operator(op.login)
            return ClaimResult.OPERATOR_LOST
        self.feed.local_operator(reserved)
        entries = [
            _entry(now, "offer", the_offer),
            {"at": now, "kind": "state", "from": "queued", "to": "offering"},
        ]
        claimed: Call | None
        if insert is not None:
            extra = {**insert, "log": [*insert.get("log", []), *entries]}
            try:
                await self.store.insert_call(call_step.state, extra, now)
                claimed = call_step.state
                self.feed.local_call(claimed, {k: v for k, v in insert.items() if k != "log"})
            except DuplicateKeyError:
                claimed = None
        else:
            claimed = await self.store.save_call(call, call_step.state, now, entries)
            if claimed is None:
                self.lost_races += 1
                await self.feed.refresh_call(call.call_id)
            else:
                self.feed.local_call(claimed)
        if claimed is None:
            # Another process took the call first: give the operator back, place kept.
            released = op_rules.release_offer(reserved, offer_id, now)
            back = (
                await self.store.save_operator(reserved, released.state, now)
                if released.state is not None
                else None
            )
            if back is not None:
                self.feed.local_operator(back)
            else:
                self.spawn(self.apply_operator(op.login, partial(_released, offer_id=offer_id)))
            return ClaimResult.CALL_LOST
        self._arm_operator(reserved)
        self._arm_call(claimed)
        self.history.add([a for a in op_step.actions if isinstance(a, StatusInterval)])
        if claimed.task == call_rules.CALLBACK and claimed.offer is not None:
            if self.callbacks is not None:
                self.spawn(self.callbacks.start(claimed.call_id, claimed.offer.offer_id))
            return ClaimResult.WON
        if claimed.task is not None:
            return ClaimResult.WON  # the desk shows it (the operator's push): nothing to dial
        self.commands.remember_access_url_of(claimed.call_id, self.feed.call_doc(claimed.call_id))
        self.spawn(
            self.commands.connect(
                call.call_id,
                offer_id,
                op.address,
                video=call.media is Media.VIDEO,
                ring_timeout_s=policy.ring_timeout_s,
            )
        )
        # Let the connect go out before anything else this request does (building its reply):
        # the operator's phone should start ringing first.
        await asyncio.sleep(0)
        return ClaimResult.WON

    # -- foreign changes: the backstop for "no call waits while a fitting operator is Ready"

    def _changed(self, coll: str, doc: Doc, foreign: bool) -> None:
        """A change reached the view. If it could make a match, look a moment later.

        The process that made the change matches at once; the others wait a little so they
        only step in when that process did not (it died, or the two writes crossed).
        """
        if (
            coll == "rebuild"
            or (
                coll == "operators"
                and doc.get("presence") == "ready"
                and doc.get("activity") == "idle"
            )
            or (coll == "operators" and doc.get("activity") == "video_reserved")
            or (coll == "calls" and doc.get("state") == "queued")
        ):
            self.schedule_rebalance(REBALANCE_DELAY_S)

    def schedule_rebalance(self, delay_s: float) -> None:
        if self._rebalance_due is not None:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._rebalance_due = None
            self.spawn(self.rebalance())

        self._rebalance_due = loop.call_later(delay_s, fire)

    async def rebalance(self) -> int:
        """Match what the view says could be matched; no database read unless it can."""
        made = 0
        for item in self.view.matchable():
            kind, _, name = item.partition(":")
            if kind == "operator":
                made += int(await self.dispatch_operator(name))
                continue
            while (oldest := self.view.oldest_free(name)) is not None:
                if not await self.dispatch_call(oldest.call_id):
                    break
                made += 1
        return made

    async def stop_waiting_for(self, login: str) -> None:
        """The manager went away: their callers go to their groups at once."""
        for call in self.view.waiting_for(login, 1000):
            policy = self.settings.policy(call.group)
            await self.apply_call(
                call.call_id, partial(_drop_preference, login=login, policy=policy)
            )

    # -- deadlines -------------------------------------------------------------------

    def _arm_operator(self, op: Operator) -> None:
        if self.timers is not None and op.activity_until is not None:
            self.timers.at(f"op:{op.login}", op.activity_until, self.operator_deadline, op.login)

    def arm_operator(self, op: Operator) -> None:
        self._arm_operator(op)

    def arm_call(self, call: Call) -> None:
        self._arm_call(call)

    def _arm_call(self, call: Call) -> None:
        if self.timers is not None and call.deadline is not None:
            self.timers.at(f"call:{call.call_id}", call.deadline, self.call_deadline, call.call_id)

    async def operator_deadline(self, login: str) -> None:
        """Idempotent: acts only if the operator is still in the state that armed the deadline."""
        op = await self.operator(login)
        now = self.clock()
        if op is None or op.activity_until is None or op.activity_until > now:
            return
        if op.activity in (Activity.OFFERED, Activity.IN_CALL) and op.call_id:
            await self._settle_from_call(op)
            return
        if op.activity is Activity.WRAP_UP and op.call_id and self.wrap_up_ending is not None:
            await self.wrap_up_ending(login, op.call_id)
        reserve_s = self.settings.policy().video_reserve_s
        await self.apply_operator(
            login, lambda o, now: op_rules.deadline_reached(o, now, reserve_s)
        )

    async def _settle_from_call(self, op: Operator) -> None:
        """The call is the record of truth for an offer or a conversation: the operator follows."""
        assert op.call_id is not None
        call = await self.call(op.call_id)
        policy = self.settings.policy(call.group if call else None)
        if op.activity is Activity.OFFERED:
            offer_id = op.offer_id or ""
            party = call.party(offer_id) if call is not None else None
            if call is not None and party is not None:
                # A help (or transfer) offer: the party on the call is its record.
                if party.state is PartyState.DIALING:
                    # Expired with the call's own deadline (the same moment): the operator
                    # follows the call's decision (a miss), whichever process makes it.
                    await self.apply_call(
                        call.call_id,
                        lambda c, now: party_rules.party_expired(c, offer_id, now, policy),
                    )
                    return
                elif party.on_line:
                    await self.apply_operator(
                        op.login,
                        lambda o, now: op_rules.offer_answered(o, offer_id, 0.0, now, policy),
                    )
                    return
                elif party.code is not None and party.outcome in (
                    party_rules.NO_ANSWER,
                    party_rules.FAILED,
                ):
                    # Already recorded as not answered (another process, or the call's own
                    # deadline, got there first and its OfferMissed is still on its way): the
                    # same miss. A release here won the race and lost the miss and the pause.
                    await self.run((OfferMissed(op.login, offer_id, party.code),))
                    return
                else:
                    await self.apply_operator(
                        op.login, lambda o, now: op_rules.release_offer(o, offer_id, now)
                    )
                    return
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
        if call is None or not party_rules.on_call(call, op.login):
            talk = 0.0
            if call and call.connected_at and call.ended_at:
                talk = (call.ended_at - call.connected_at).total_seconds()
            cid = op.call_id
            await self.apply_operator(
                op.login,
                lambda o, now: op_rules.call_finished(
                    o, cid, talk, now, policy.wrap_up_s, policy.video_reserve_s
                ),
            )
        else:
            await self.apply_operator(
                op.login, lambda o, now: op_rules.in_call_checked(o, now, policy)
            )

    async def call_deadline(self, call_id: str) -> None:
        call = await self.call(call_id)
        if call is None or call.deadline is None or call.deadline > self.clock():
            return
        if self.fallbacks is not None and call_rules.max_wait_due(call, self.clock()):
            await self.fallbacks.max_wait(call_id)
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


def _released(
    op: Operator, now: datetime, *, offer_id: str, reason: str = op_rules.RELEASED
) -> Step[Operator]:
    return op_rules.release_offer(op, offer_id, now, reason)


def _finished(
    op: Operator, now: datetime, *, call_id: str, talk_s: float, wrap_up_s: int, reserve_s: int
) -> Step[Operator]:
    return op_rules.call_finished(op, call_id, talk_s, now, wrap_up_s, reserve_s)


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
