"""The read view: what one process knows of operators, calls and contacts, in routing order.

Pure and in memory. It proposes (who is routable, which call is next, a queue position); the
database decides through guarded writes. Every lookup the hot path makes costs O(log n) or
O(limit), never a pass over all operators or all waiting calls: each ordering is a sorted list
kept up to date as documents change (bisect on a Python list: the memmove of an insert is
microseconds even at 10,000 entries).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from heapq import merge
from itertools import islice
from typing import Any

from backend.domain.fallback import could_take_later, online_unbanned
from backend.domain.model import Call, CallState, Operator, Presence, Strategy
from backend.domain.selection import call_order, operator_order

Key = tuple[Any, ...]


class _Sorted:
    """A sorted list of (key, id) with removal by the key it was inserted with."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[Key, str]] = []

    def add(self, key: Key, ident: str) -> None:
        insort(self.items, (key, ident))

    def remove(self, key: Key, ident: str) -> None:
        i = bisect_left(self.items, (key, ident))
        if i < len(self.items) and self.items[i] == (key, ident):
            del self.items[i]

    def rank(self, key: Key, ident: str) -> int:
        """How many entries sort before this one."""
        return bisect_left(self.items, (key, ident))

    def due(self, now: datetime, limit: int) -> list[str]:
        """Ids whose key (a deadline first) is not after `now`, earliest first."""
        out: list[str] = []
        for key, ident in self.items:
            if key[0] > now or len(out) >= limit:
                break
            out.append(ident)
        return out

    def ids(self) -> Iterator[str]:
        return (ident for _, ident in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


class ReadView:
    """Operators (all), calls that have not ended, and contacts that name a manager."""

    def __init__(self, strategy_of: Callable[[str], Strategy]) -> None:
        self.strategy_of = strategy_of
        self.reset()

    def reset(self) -> None:
        """Forget everything (before a rebuild from the database)."""
        self.operators: dict[str, Operator] = {}
        self.calls: dict[str, Call] = {}
        self.managers: dict[str, str] = {}  # contact key -> manager login
        # Orderings, each with the keys its entries were filed under (to remove them again).
        self._routable: dict[str, _Sorted] = {}
        self._op_keys: dict[str, dict[str, Key]] = {}
        self._ready: dict[str, set[str]] = {}  # group -> logins with presence Ready
        self._members: dict[str, set[str]] = {}  # group -> logins
        self._online: dict[str, set[str]] = {}  # group -> logins online and not banned
        self.closed: dict[str, bool] = {}  # group -> closed now by a supervisor
        self._queued: dict[str, _Sorted] = {}  # group -> every waiting call (positions)
        self._free: dict[str, _Sorted] = {}  # group -> waiting calls for nobody in particular
        self._waiting_for: dict[str, _Sorted] = {}  # login -> calls waiting for them by name
        self._call_keys: dict[str, Key] = {}
        self._op_due = _Sorted()
        self._call_due = _Sorted()

    # -- operators -------------------------------------------------------------------

    def put_operator(self, op: Operator) -> None:
        self.drop_operator(op.login)
        self.operators[op.login] = op
        for g in op.group_names:
            self._members.setdefault(g, set()).add(op.login)
            if op.presence is Presence.READY:
                self._ready.setdefault(g, set()).add(op.login)
            if online_unbanned(op):
                self._online.setdefault(g, set()).add(op.login)
        if op.routable:
            keys = {}
            for g in op.group_names:
                key = operator_order(self.strategy_of(g), g)(op)
                self._routable.setdefault(g, _Sorted()).add(key, op.login)
                keys[g] = key
            self._op_keys[op.login] = keys
        if op.activity_until is not None:
            self._op_due.add((op.activity_until,), op.login)

    def drop_operator(self, login: str) -> None:
        old = self.operators.pop(login, None)
        if old is None:
            return
        for g in old.group_names:
            self._ready.get(g, set()).discard(login)
            self._members.get(g, set()).discard(login)
            self._online.get(g, set()).discard(login)
        for g, key in self._op_keys.pop(login, {}).items():
            self._routable[g].remove(key, login)
        if old.activity_until is not None:
            self._op_due.remove((old.activity_until,), login)

    def operator(self, login: str) -> Operator | None:
        return self.operators.get(login)

    def routable(self, group: str, limit: int) -> list[Operator]:
        """The group's routable operators in the order of its strategy, best first."""
        ordered = self._routable.get(group)
        if not ordered:
            return []
        return [self.operators[login] for login in islice(ordered.ids(), limit)]

    def routable_count(self, group: str) -> int:
        return len(self._routable.get(group, ()))

    def has_routable(self, group: str) -> bool:
        return bool(self._routable.get(group))

    def ready_count(self, group: str) -> int:
        """Operators of the group whose presence is Ready, whatever they are doing."""
        return len(self._ready.get(group, ()))

    def ready_logins(self) -> list[str]:
        """Every operator whose presence is Ready (for the sweep's absence check)."""
        return [login for login, op in self.operators.items() if op.presence is Presence.READY]

    def could_take(self, group: str, now: datetime) -> bool:
        """Someone of the group could take a call now or later: online (Not ready counts),
        not absent, not banned. Stops at the first such operator (absence is checked here,
        as it ends by the clock)."""
        for login in self._online.get(group, ()):
            if could_take_later(self.operators[login], now):
                return True
        return False

    def closed_now(self, group: str) -> bool:
        return self.closed.get(group, False)

    def members(self, group: str) -> list[Operator]:
        return [self.operators[login] for login in self._members.get(group, ())]

    def due_operators(self, now: datetime) -> list[str]:
        return self._op_due.due(now, 500)

    # -- calls -----------------------------------------------------------------------

    def put_call(self, call: Call) -> None:
        self.drop_call(call.call_id)
        if call.state is CallState.ENDED:
            return
        self.calls[call.call_id] = call
        if call.waiting:
            key = call_order(call)
            self._call_keys[call.call_id] = key
            self._queued.setdefault(call.group, _Sorted()).add(key, call.call_id)
            if call.preferred:
                self._waiting_for.setdefault(call.preferred, _Sorted()).add(key, call.call_id)
            else:
                self._free.setdefault(call.group, _Sorted()).add(key, call.call_id)
        if call.deadline is not None:
            self._call_due.add((call.deadline,), call.call_id)

    def drop_call(self, call_id: str) -> None:
        old = self.calls.pop(call_id, None)
        if old is None:
            return
        key = self._call_keys.pop(call_id, None)
        if key is not None:
            self._queued[old.group].remove(key, call_id)
            if old.preferred:
                self._waiting_for[old.preferred].remove(key, call_id)
            else:
                self._free[old.group].remove(key, call_id)
        if old.deadline is not None:
            self._call_due.remove((old.deadline,), call_id)

    def call(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def queued(self, groups: Iterable[str], limit: int) -> list[Call]:
        """Waiting calls of these groups that wait for nobody in particular, most urgent first."""
        lists = [self._free[g].items for g in groups if self._free.get(g)]
        return [self.calls[cid] for _, cid in islice(merge(*lists), limit)]

    def waiting_for(self, login: str, limit: int) -> list[Call]:
        ordered = self._waiting_for.get(login)
        if not ordered:
            return []
        return [self.calls[cid] for cid in islice(ordered.ids(), limit)]

    def oldest_free(self, group: str) -> Call | None:
        ordered = self._free.get(group)
        return self.calls[ordered.items[0][1]] if ordered else None

    def position(self, call: Call) -> int:
        """1 = next: the waiting calls of the group served before this one, plus one."""
        ordered = self._queued.get(call.group)
        if not ordered:
            return 1
        return ordered.rank(call_order(call), call.call_id) + 1

    def waiting_count(self, group: str) -> int:
        return len(self._queued.get(group, ()))

    def oldest_enqueued(self, group: str) -> datetime | None:
        ordered = self._queued.get(group)
        if not ordered:
            return None
        return min(self.calls[cid].enqueued_at for cid in ordered.ids())

    def due_calls(self, now: datetime) -> list[str]:
        return self._call_due.due(now, 500)

    # -- what could be matched now ----------------------------------------------------

    def matchable(self) -> list[str]:
        """Groups with a call waiting for anybody while someone of the group is routable,
        and operators who are routable while a call waits for them by name."""
        out = [f"group:{g}" for g, calls in self._free.items() if calls and self.has_routable(g)]
        for login, calls in self._waiting_for.items():
            op = self.operators.get(login)
            if calls and op is not None and (op.routable or op.video_reserved):
                out.append(f"operator:{login}")
        return out

    # -- contacts --------------------------------------------------------------------

    def put_manager(self, key: str, login: str | None) -> None:
        if login:
            self.managers[key] = login
        else:
            self.managers.pop(key, None)

    def release_manager(self, login: str) -> None:
        """A dismissed operator manages nobody any more."""
        for key in [k for k, v in self.managers.items() if v == login]:
            del self.managers[key]

    def manager_of(self, keys: Iterable[str]) -> tuple[str, str] | None:
        """(contact key, manager login) of the most specific contact that has a manager."""
        for key in keys:
            if (login := self.managers.get(key)) is not None:
                return key, login
        return None
