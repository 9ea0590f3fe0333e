"""Queued callback: the caller hangs up and keeps their place; when their turn comes and an
operator is reserved for them, a VoxEngine session is started through the Management API's
StartScenarios. That session gets AppEvents.Started and no CallAlerting, reads the callback from
VoxEngine.customData(), dials the caller, then the operator, and bridges them (its events carry
the offer's id, so they apply to the offer under way and to nothing else).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from backend.adapters.voximplant_api import ManagementApi, ManagementApiFailure
from backend.domain import calls as call_rules
from backend.domain.actions import Step
from backend.domain.model import Call
from backend.services.engine import Engine

log = logging.getLogger(__name__)


class Callbacks:
    def __init__(self, engine: Engine, api: ManagementApi | None) -> None:
        self.engine = engine
        self.api = api

    @property
    def enabled(self) -> bool:
        return self.engine.settings.config.callback.enabled and self.api is not None

    def offer(self) -> dict[str, Any] | None:
        """What the scenario needs to offer the callback to a waiting caller, if it is on."""
        if not self.enabled:
            return None
        c = self.engine.settings.config.callback
        return {"key": c.key, "say": c.offer_text}

    async def start(self, call_id: str, offer_id: str) -> None:
        """StartScenarios for the reserved operator's callback; a failure counts an attempt."""
        engine = self.engine
        c = engine.settings.config.callback
        data = json.dumps({"callback": call_id, "offer_id": offer_id}, separators=(",", ":"))
        entry: dict[str, Any] = {
            "at": engine.clock(),
            "kind": "callback_start",
            "offer_id": offer_id,
        }
        try:
            if self.api is None:
                raise ManagementApiFailure("no Management API credentials (VOXIMPLANT_CREDENTIALS)")
            reply = await self.api.start_scenarios(
                rule_id=c.rule_id or None,
                rule_name=None if c.rule_id else c.rule_name,
                script_custom_data=data,
            )
        except (ManagementApiFailure, ValueError) as e:
            log.warning("call %s: the callback session could not be started: %s", call_id, e)
            entry["error"] = str(e)
            policy = engine.settings.policy()

            def not_started(call: Call, now: datetime) -> Step[Call]:
                return call_rules.callback_not_answered(call, offer_id, now, policy)

            await engine.apply_call(call_id, not_started, entry)
            return
        entry["session"] = {
            k: reply.get(k)
            for k in ("media_session_access_url", "call_session_history_id")
            if k in reply
        }
        url = reply.get("media_session_access_secure_url") or reply.get("media_session_access_url")
        # Commands for the call (a hang-up from the desk) now go to the callback's session.
        facts = {"callback_access_url": str(url)} if url else None
        await engine.store.append_call_log(call_id, [entry], facts)
