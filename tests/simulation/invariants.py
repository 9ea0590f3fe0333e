"""The routing invariants (architecture §4.7), checked on the core's own state."""

from __future__ import annotations

from collections.abc import Iterable

from backend.domain.model import Activity, Call, CallState, Operator


class InvariantBroken(AssertionError):
    pass


def check(operators: Iterable[Operator], live_calls: Iterable[Call]) -> None:
    """Raise InvariantBroken unless the state is one the router may ever be in.

    - no call is queued while a routable operator of its group exists;
    - an operator holds at most one offer or call, and the call agrees;
    - a call rings at most one operator.
    """
    free_groups: set[str] = set()
    # call_id -> (the operator offered it or talking in it, that operator's offer id)
    holder_of: dict[str, tuple[str, str | None]] = {}
    for op in operators:
        if op.routable:
            free_groups.update(op.group_names)
        if op.activity in (Activity.OFFERED, Activity.IN_CALL):
            if op.call_id is None:
                raise InvariantBroken(f"{op.login} is {op.activity.value} without a call")
            if op.call_id in holder_of:
                raise InvariantBroken(
                    f"call {op.call_id} held by {holder_of[op.call_id][0]} and {op.login}"
                )
            holder_of[op.call_id] = (op.login, op.offer_id)
    held = 0
    for call in live_calls:
        if call.state is CallState.QUEUED:
            if call.group in free_groups:
                raise InvariantBroken(
                    f"call {call.call_id} waits while {call.group} has a free operator"
                )
            continue
        if call.state is CallState.OFFERING and call.offer is not None:
            expected: tuple[str, str | None] = (call.offer.operator, call.offer.offer_id)
        else:
            expected = (call.operator or "", None)
        if holder_of.get(call.call_id) != expected:
            raise InvariantBroken(
                f"call {call.call_id} is {call.state.value} with {expected}, "
                f"but the operators say {holder_of.get(call.call_id)}"
            )
        held += 1
    if held != len(holder_of):
        raise InvariantBroken(f"{len(holder_of) - held} operators hold calls that are not live")


class Monitor:
    """The same invariants, checked incrementally: after each event, only what it touched.

    It keeps its own view of every saved operator and call (not the simulation's dispatch
    indexes), so a bookkeeping slip in the simulation cannot hide a broken invariant.
    """

    def __init__(self) -> None:
        self.ops: dict[str, Operator] = {}
        self.calls: dict[str, Call] = {}
        self.free: dict[str, int] = {}  # group -> routable operators
        self.waiting: dict[str, int] = {}  # group -> queued calls
        self.holders: dict[str, set[str]] = {}  # call_id -> operators offered it or in it
        self.touched_ops: set[str] = set()
        self.touched_calls: set[str] = set()

    def operator_saved(self, op: Operator) -> None:
        old = self.ops.get(op.login)
        if old is not None:
            self._count_operator(old, -1)
        self._count_operator(op, +1)
        self.ops[op.login] = op
        self.touched_ops.add(op.login)

    def _count_operator(self, op: Operator, sign: int) -> None:
        if op.routable:
            for group in op.group_names:
                self.free[group] = self.free.get(group, 0) + sign
        if op.activity in (Activity.OFFERED, Activity.IN_CALL) and op.call_id is not None:
            holders = self.holders.setdefault(op.call_id, set())
            if sign < 0:
                holders.discard(op.login)
                if not holders:
                    del self.holders[op.call_id]
            else:
                holders.add(op.login)

    def call_saved(self, call: Call) -> None:
        old = self.calls.get(call.call_id)
        if old is not None and old.state is CallState.QUEUED:
            self.waiting[old.group] -= 1
        if call.state is CallState.QUEUED:
            self.waiting[call.group] = self.waiting.get(call.group, 0) + 1
        if call.state is CallState.ENDED:
            self.calls.pop(call.call_id, None)
        else:
            self.calls[call.call_id] = call
        self.touched_calls.add(call.call_id)

    def check(self) -> None:
        groups: set[str] = set()
        for login in self.touched_ops:
            op = self.ops[login]
            groups.update(op.group_names)
            if op.activity in (Activity.OFFERED, Activity.IN_CALL):
                if op.call_id is None or op.call_id not in self.calls:
                    raise InvariantBroken(f"{login} is {op.activity.value} without a live call")
                self.touched_calls.add(op.call_id)
        for call_id in self.touched_calls:
            call = self.calls.get(call_id)
            holders = self.holders.get(call_id, set())
            if len(holders) > 1:
                raise InvariantBroken(f"call {call_id} rings or talks to {sorted(holders)}")
            if call is None or call.state is CallState.QUEUED:
                if holders:
                    raise InvariantBroken(f"{holders} hold {call_id}, which is not offered")
                if call is not None:
                    groups.add(call.group)
                continue
            self._check_holder(call)
        for group in groups:
            if self.waiting.get(group, 0) and self.free.get(group, 0):
                raise InvariantBroken(f"a call waits while {group} has a free operator")
        self.touched_ops.clear()
        self.touched_calls.clear()

    def _check_holder(self, call: Call) -> None:
        if call.state is CallState.OFFERING and call.offer is not None:
            who, offer_id, activity = call.offer.operator, call.offer.offer_id, Activity.OFFERED
        else:
            who, offer_id, activity = call.operator or "", None, Activity.IN_CALL
        op = self.ops.get(who)
        if op is None or (op.activity, op.call_id, op.offer_id) != (
            activity,
            call.call_id,
            offer_id,
        ):
            raise InvariantBroken(
                f"call {call.call_id} is {call.state.value} with {who}, "
                f"whose state says {op and (op.activity.value, op.call_id, op.offer_id)}"
            )
