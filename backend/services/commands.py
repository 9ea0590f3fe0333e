"""Commands to a call's VoxEngine session through its access URL, recorded on the call."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from backend.adapters.documents import Doc
from backend.adapters.platform import CommandRejected, PlatformUnavailable, Reply, SessionGone
from backend.domain import calls as call_rules
from backend.domain import parties as party_rules
from backend.domain.actions import Step
from backend.domain.model import Address, Call, SuperviseMode

if TYPE_CHECKING:
    from backend.services.engine import Engine

# Offers this process delivered (offer_id -> when), kept a while for the next write of the call.
SENT_KEEP = 20_000


class ScenarioCommands:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._access_urls: dict[str, str] = {}
        self._sent: OrderedDict[str, datetime] = OrderedDict()
        self._pending: dict[str, list[Doc]] = {}

    # -- what a delivered connect leaves behind, written with the call's next transition --

    def with_facts(self, call: Call) -> Call:
        """The call with the delivery times of its offers that this process knows of."""
        offer, spare = call.offer, call.spare
        if offer is not None and offer.sent_at is None and offer.offer_id in self._sent:
            at = self._sent[offer.offer_id]
            call = call_rules.offer_sent(call, offer.offer_id, at).state or call
        if spare is not None and spare.sent_at is None and spare.offer_id in self._sent:
            at = self._sent[spare.offer_id]
            call = call_rules.spare_sent(call, spare.offer_id, at).state or call
        return call

    def pending_log(self, call_id: str) -> list[Doc]:
        return list(self._pending.get(call_id, ()))

    def logged(self, call_id: str, count: int) -> None:
        if count and (entries := self._pending.get(call_id)) is not None:
            del entries[:count]
            if not entries:
                del self._pending[call_id]

    def remember_access_url_of(self, call_id: str, doc: Doc | None) -> None:
        if doc is not None and (url := doc.get("access_secure_url") or doc.get("access_url")):
            self.remember_access_url(call_id, str(url))

    def remember_access_url(self, call_id: str, url: str) -> None:
        # An access URL never changes for a call: keep it instead of reading it per command.
        if len(self._access_urls) > 50_000:
            self._access_urls.clear()
        self._access_urls[call_id] = url

    async def access_url(self, call_id: str) -> str | None:
        known = self.engine.call_doc(call_id)
        if known is not None and known.get("callback_access_url"):
            # A queued callback's own session (StartScenarios): its URL replaces the caller's.
            return str(known["callback_access_url"])
        if url := self._access_urls.get(call_id):
            return url
        doc = known or await self.engine.store.calls.find_one(
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
        headers: dict[str, str] | None = None,
    ) -> None:
        """Dial the target. That it rings is written with the call's next transition."""
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
        if refused:
            # A refusal by the scenario itself would repeat on every retry: the call ends.
            await self.engine.apply_call(call_id, partial(_gone, reason="connect_refused"), entry)
            return
        sent_at = entry["at"]
        self._sent[offer_id] = sent_at
        while len(self._sent) > SENT_KEEP:
            self._sent.popitem(last=False)
        call = self.engine.view.call(call_id)
        current = {a.offer_id for a in (call.offer, call.spare) if a} if call else set()
        if offer_id in current:
            # Rides along with the call's next write (answered, failed, expired, ended).
            self._pending.setdefault(call_id, []).append(entry)
        else:
            # The call has moved on already (a fast 486 came before this reply).
            await self.engine.store.append_call_log(call_id, [entry])

    async def add_party(
        self,
        call_id: str,
        party_id: str,
        target: Address,
        ring_timeout_s: int,
        *,
        mode: SuperviseMode | None = None,
    ) -> None:
        """Dial one more leg into the call. A leg the scenario would not place is taken back
        without anyone's fault (the party leaves the call as cancelled)."""
        headers = {"X-Call-Id": call_id, "X-Offer-Id": party_id, "X-Party-Id": party_id}
        command: dict[str, Any] = {
            "command": "add_party",
            "call_id": call_id,
            "party_id": party_id,
            "target": {"type": target.type.value, "address": target.address},
            "ring_timeout_s": ring_timeout_s,
            # X-Offer-Id too: for an operator the party is their offer (the desk matches it).
            "headers": headers,
        }
        if mode is not None:
            # A supervisor's leg: the scenario routes its media by the mode; the supervisor's
            # page answers the leg named by X-Supervise (its own request) by itself.
            command["mode"] = mode.value
            headers["X-Supervise"] = mode.value
        outcome = await self.deliver(call_id, command)
        if outcome is not None:
            reply, entry = outcome
            refused = isinstance(reply.body, dict) and reply.body.get("ok") is False
            call = self.engine.view.call(call_id)
            party = call.party(party_id) if call is not None else None
            if not refused and party is not None and party.state.value == "dialing":
                # Rides along with the call's next write (the party answers, fails, expires).
                self._pending.setdefault(call_id, []).append(entry)
                return
            await self.engine.store.append_call_log(call_id, [entry])
            if not refused:
                return
        policy = self.engine.settings.policy
        await self.engine.apply_call(
            call_id,
            lambda c, now: party_rules.party_left(
                c, party_id, now, policy(c.group), requested=False
            ),
        )

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
