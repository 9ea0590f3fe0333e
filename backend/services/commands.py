"""Commands to a call's VoxEngine session through its access URL, recorded on the call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from backend.adapters.documents import Doc
from backend.adapters.platform import CommandRejected, PlatformUnavailable, Reply, SessionGone
from backend.domain import calls as call_rules
from backend.domain.actions import Step
from backend.domain.model import Address, Call

if TYPE_CHECKING:
    from backend.services.engine import Engine

# offer_sent or spare_sent: what "the phone now rings" means for this kind of offer.
SentTransition = Callable[[Call, str, datetime], Step[Call]]


class ScenarioCommands:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._access_urls: dict[str, str] = {}

    def remember_access_url(self, call_id: str, url: str) -> None:
        # An access URL never changes for a call: keep it instead of reading it per command.
        if len(self._access_urls) > 50_000:
            self._access_urls.clear()
        self._access_urls[call_id] = url

    async def access_url(self, call_id: str) -> str | None:
        if url := self._access_urls.get(call_id):
            return url
        doc = await self.engine.store.calls.find_one(
            {"_id": call_id}, {"access_url": 1, "access_secure_url": 1}
        )
        if doc is None:
            return None
        url = str(doc.get("access_secure_url") or doc["access_url"])
        self.remember_access_url(call_id, url)
        return url

    async def connect(
        self,
        call_id: str,
        offer_id: str,
        target: Address,
        *,
        video: bool,
        ring_timeout_s: int,
        on_sent: SentTransition,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Dial the target; record the command and that it rings in one write."""
        command = {
            "command": "connect",
            "call_id": call_id,
            "offer_id": offer_id,
            "target": {"type": target.type.value, "address": target.address},
            "video": video,
            "ring_timeout_s": ring_timeout_s,
            "headers": {"X-Call-Id": call_id, "X-Offer-Id": offer_id, **(headers or {})},
        }
        outcome = await self.deliver(call_id, command)
        if outcome is None:
            return
        reply, entry = outcome
        refused = isinstance(reply.body, dict) and reply.body.get("ok") is False
        # A refusal by the scenario itself would repeat on every retry: the call ends instead.
        transition = (
            partial(_gone, reason="connect_refused")
            if refused
            else partial(_sent, offer_id=offer_id, on_sent=on_sent)
        )
        await self.engine.apply_call(call_id, transition, entry)

    async def send(self, call_id: str, command: dict[str, Any]) -> Reply | None:
        """Send one command and record it with its reply; a gone session ends the call."""
        outcome = await self.deliver(call_id, command)
        if outcome is None:
            return None
        reply, entry = outcome
        await self.engine.store.append_call_log(call_id, [entry])
        return reply

    async def deliver(self, call_id: str, command: dict[str, Any]) -> tuple[Reply, Doc] | None:
        """POST to the access URL. Failures are recorded and settled here; None then."""
        engine = self.engine
        url = await self.access_url(call_id)
        if url is None:
            return None
        entry: Doc = {"at": engine.clock(), "kind": "command", "command": command}
        try:
            reply = await engine.platform.send(url, command)
        except SessionGone as e:
            entry.update(error=str(e), replied_at=engine.clock())
            await engine.apply_call(call_id, partial(_gone, reason="session_gone"), entry)
            return None
        except (PlatformUnavailable, CommandRejected) as e:
            entry.update(error=str(e), replied_at=engine.clock())
            if command["command"] in ("connect", "status"):
                # Unreachable after every retry: the session is as good as gone. Ending the
                # call (rather than requeueing) avoids ringing loops against a dead URL.
                await engine.apply_call(
                    call_id, partial(_gone, reason="platform_unreachable"), entry
                )
            else:
                await engine.store.append_call_log(call_id, [entry])
            return None
        entry.update(
            replied_at=engine.clock(),
            status=reply.status,
            reply=reply.body,
            attempts=reply.attempts,
        )
        return reply, entry


def _gone(call: Call, now: datetime, *, reason: str) -> Step[Call]:
    return call_rules.session_gone(call, now, reason)


def _sent(call: Call, now: datetime, *, offer_id: str, on_sent: SentTransition) -> Step[Call]:
    return on_sent(call, offer_id, now)
