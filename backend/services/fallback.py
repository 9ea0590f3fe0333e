"""No caller left waiting for nobody: the shell around domain/fallback.py.

Decisions read the read view (who of a group is online, the supervisor's closed switch, both
kept current by the change stream in every process); each change of a call is one guarded
write through the engine. The maximum wait is a deadline on the call (`max_wait_at`, part of
its `deadline`), so the process that set it or any other's sweep fires it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backend.clock import new_id
from backend.domain import calls as call_rules
from backend.domain.actions import Step
from backend.domain.fallback import ActionType, GroupRules, Resolution, Why, resolve
from backend.domain.model import Address, Call, SpareAttempt, TargetType
from backend.services.engine import Engine
from backend.settings import Settings


class Fallbacks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rules: dict[str, GroupRules] = {}
        self._rules_of: Settings | None = None

    @property
    def rules(self) -> dict[str, GroupRules]:
        """The groups' rules, built again only when the settings change (an admin's edit)."""
        settings = self.engine.settings
        if self._rules_of is not settings:
            self._rules, self._rules_of = settings.group_rules(), settings
        return self._rules

    # -- deciding ----------------------------------------------------------------------

    def resolve(
        self, group: str, now: datetime, start: tuple[Why, Any] | None = None
    ) -> Resolution:
        view = self.engine.view
        return resolve(
            group,
            now,
            self.rules,
            closed=view.closed_now,
            empty=lambda g: not view.could_take(g, now),
            start=start,
        )

    def max_wait_s(self, group: str) -> int | None:
        g = self.rules.get(group)
        return g.max_wait_s if g is not None and g.max_wait_action is not None else None

    def is_open(self, group: str, now: datetime) -> bool:
        g = self.rules.get(group)
        return g is None or g.open_at(now, self.engine.view.closed_now(group))

    def text(self, why: str | None, action: str) -> str:
        """What the caller hears: why (closed, no agents, waited too long), then what next."""
        m = self.engine.settings.config.messages
        reason = {
            Why.CLOSED.value: m.closed,
            Why.NO_AGENTS.value: m.no_agents,
            Why.MAX_WAIT.value: m.max_wait,
        }.get(why or "", "")
        if why == call_rules.NUMBER_FAILED:
            return m.number_failed
        follow = {
            ActionType.GOODBYE.value: m.goodbye,
            ActionType.GROUP.value: m.to_group,
            ActionType.NUMBER.value: m.to_number,
            ActionType.VOICEMAIL.value: m.voicemail,
            ActionType.CALLBACK.value: m.callback,
        }.get(action, m.goodbye)
        return " ".join(t for t in (reason, follow) if t)

    def announcement(self, kind: str, why: str | None) -> dict[str, Any]:
        """The `action` command's body: what the scenario does and says."""
        out: dict[str, Any] = {"type": kind, "why": why, "say": self.text(why, kind)}
        if kind == ActionType.VOICEMAIL.value:
            out["max_length_s"] = self.engine.settings.config.voicemail.max_length_s
        return out

    def action_doc(self, res: Resolution) -> dict[str, Any] | None:
        """The `action` of the answer to POST /api/v1/calls (and GET) when one applies."""
        if res.action is None and res.why is None:
            return None
        kind = res.action.type.value if res.action is not None else ActionType.GROUP.value
        out: dict[str, Any] = {"type": kind, "why": res.why.value if res.why else None}
        target = res.action.target if res.action is not None else res.group
        if target:
            out["target"] = target
        out["say"] = self.text(out["why"], kind)
        if kind == ActionType.VOICEMAIL.value:
            out["max_length_s"] = self.engine.settings.config.voicemail.max_length_s
        return out

    # -- acting ------------------------------------------------------------------------

    async def max_wait(self, call_id: str) -> bool:
        """The call has waited its group's max_wait_s: its max_wait_action runs (idempotent)."""
        engine = self.engine

        def transition(call: Call, now: datetime) -> Step[Call]:
            if not call_rules.max_wait_due(call, now):
                return Step(None)
            g = self.rules.get(call.group)
            if g is None or g.max_wait_action is None:
                return Step(None)
            res = self.resolve(call.group, now, (Why.MAX_WAIT, g.max_wait_action))
            return call_rules.fallback(
                call,
                res,
                now,
                engine.settings.policy(res.group),
                self.max_wait_s(res.group),
            )

        # Its time is the transition's: the new group's max_wait_at counts from the same moment.
        entry = {"kind": "fallback", "why": Why.MAX_WAIT.value}
        _, changed = await engine.apply_call(call_id, transition, entry, log_ignored=False)
        return changed

    async def dial_number(self, call_id: str, number: str) -> bool:
        """Put the call through to a group's number (the overflow's dialling, no pool slot)."""
        engine = self.engine
        call = await engine.call(call_id)
        if call is None:
            return False
        policy = engine.settings.policy(call.group)
        now = engine.clock()
        expires = now + timedelta(seconds=policy.ring_timeout_s + policy.offer_grace_s)
        attempt = SpareAttempt(new_id(), number, now, expires, fallback=True)
        entry = {
            "at": now,
            "kind": "spare_offer",
            "number": number,
            "offer_id": attempt.offer_id,
            "fallback": True,
        }
        _, changed = await engine.apply_call(
            call_id, lambda c, _now: call_rules.spare_offer(c, attempt), entry
        )
        if changed:
            engine.spawn(
                engine.commands.connect(
                    call_id,
                    attempt.offer_id,
                    Address(TargetType.PSTN, number),
                    video=False,
                    ring_timeout_s=policy.ring_timeout_s,
                    headers={"X-Overflow": "1"},
                )
            )
        return changed
