"""No caller left waiting for nobody: business hours, empty groups, maximum wait (pure).

A group may be closed (outside its hours, on a holiday, or closed now by a supervisor), or have
nobody who could take a call later either (no operator online, or all absent or banned). Then
the group's action runs: another group (the call keeps its original enqueue time), a number,
voicemail, callback, or a polite goodbye. The same actions serve a call that has waited the
group's `max_wait_s`. Chains of groups are followed here; loops are refused at start-up
(`find_loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum

from backend.domain.model import Activity, Operator, Presence
from backend.domain.overflow import Hours

DISCONNECTED = "disconnected"  # the reason of an operator whose desk went away


class ActionType(StrEnum):
    GOODBYE = "goodbye"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    GROUP = "group"
    NUMBER = "number"


class Why(StrEnum):
    CLOSED = "closed"
    NO_AGENTS = "no_agents"
    MAX_WAIT = "max_wait"


@dataclass(frozen=True, slots=True)
class FallbackAction:
    type: ActionType
    target: str | None = None  # the group's name, or the E.164 number

    def __str__(self) -> str:
        return f"{self.type.value}:{self.target}" if self.target else self.type.value


def parse_action(text: str) -> FallbackAction:
    """'goodbye' | 'voicemail' | 'callback' | 'group:<name>' | 'number:<E.164>'."""
    kind, sep, target = text.partition(":")
    try:
        action_type = ActionType(kind)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected goodbye, voicemail, callback, group:<name> or number:<E.164>"
        ) from None
    if action_type in (ActionType.GROUP, ActionType.NUMBER):
        if not sep or not target:
            raise ValueError(f"{text!r}: {kind} needs a target ({kind}:<...>)")
        if action_type is ActionType.NUMBER and not _is_e164(target):
            raise ValueError(f"{text!r}: not an E.164 number (like +15550001111)")
        return FallbackAction(action_type, target)
    if sep:
        raise ValueError(f"{text!r}: {kind} takes no target")
    return FallbackAction(action_type)


def _is_e164(number: str) -> bool:
    return number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16


@dataclass(frozen=True, slots=True)
class GroupRules:
    name: str
    hours: tuple[Hours, ...] = ()
    tz: tzinfo | None = None
    holidays: frozenset[date] = frozenset()
    closed_action: FallbackAction | None = None
    no_agents_action: FallbackAction | None = None
    max_wait_s: int | None = None
    max_wait_action: FallbackAction | None = None

    def open_at(self, now: datetime, closed_override: bool = False) -> bool:
        """Open unless closed now, on a holiday (local date) or outside every range of hours."""
        if closed_override:
            return False
        local = now.astimezone(self.tz) if self.tz is not None else now
        if local.date() in self.holidays:
            return False
        return not self.hours or any(h.open_at(local) for h in self.hours)


def online_unbanned(op: Operator) -> bool:
    """Online (Not ready counts, a desk that went away does not) and not banned."""
    if op.presence is Presence.OFFLINE:
        return False
    if op.presence is Presence.NOT_READY and op.reason == DISCONNECTED:
        return False
    return op.activity is not Activity.BANNED


def could_take_later(op: Operator, now: datetime) -> bool:
    """Online (Not ready counts), not marked absent, not banned."""
    return online_unbanned(op) and not (op.absence is not None and op.absence.active(now))


def no_agents(candidates: Iterable[Operator], now: datetime) -> bool:
    """Nobody among these operators of the group could take the call, now or later."""
    return not any(could_take_later(op, now) for op in candidates)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a call ends up: a group to wait in (action None), or a terminal action."""

    group: str
    action: FallbackAction | None
    why: Why | None
    path: tuple[str, ...]  # the groups passed through, the first included


def resolve(
    group: str,
    now: datetime,
    rules: Mapping[str, GroupRules],
    closed: Callable[[str], bool],
    empty: Callable[[str], bool],
    start: tuple[Why, FallbackAction] | None = None,
) -> Resolution:
    """Follow the groups' actions from `group` (or from `start`, e.g. the maximum wait).

    `closed(g)`: the supervisor's switch for g; `empty(g)`: nobody of g could take a call.
    A group action moves on to that group, which is checked in turn; loops never reach here
    (refused at start-up), but a bound guards anyway.
    """
    path = [group]
    why: Why | None = None
    pending = start
    for _ in range(len(rules) + 2):
        if pending is not None:
            why, action = pending
            pending = None
            if action.type is not ActionType.GROUP:
                return Resolution(group, action, why, tuple(path))
            group = str(action.target)
            path.append(group)
        g = rules.get(group)
        if g is None:
            return Resolution(group, None, why, tuple(path))
        if not g.open_at(now, closed(group)):
            # A closed group with no action configured says goodbye: nobody will answer.
            pending = (Why.CLOSED, g.closed_action or FallbackAction(ActionType.GOODBYE))
            continue
        if g.no_agents_action is not None and empty(group):
            pending = (Why.NO_AGENTS, g.no_agents_action)
            continue
        return Resolution(group, None, why, tuple(path))
    return Resolution(group, FallbackAction(ActionType.GOODBYE), why, tuple(path))


def find_loop(actions: Mapping[str, Iterable[FallbackAction | None]]) -> list[str] | None:
    """A cycle of group actions (['a', 'b', 'a']), or None. Edges: every group:<x> action."""
    edges = {
        g: sorted(
            {a.target for a in acts if a is not None and a.type is ActionType.GROUP and a.target}
        )
        for g, acts in actions.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt, [*trail, nxt])) is not None:
                return found
        state[node] = 2
        return None

    for g in sorted(edges):
        if state.get(g) is None and (found := visit(g, [g])) is not None:
            return found
    return None
