"""WebSocket push: each process keeps its own sockets and learns of changes from its change feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.documents import Doc
from backend.presenters import call_view, operator_view

log = logging.getLogger(__name__)


class PushHub:
    """Sockets per operator login, in this process only."""

    def __init__(self) -> None:
        self._sockets: dict[str, weakref.WeakSet[web.WebSocketResponse]] = defaultdict(
            weakref.WeakSet
        )
        # Whether a socket's session still holds, given the operator's document.
        self._valid: weakref.WeakKeyDictionary[web.WebSocketResponse, Callable[[Doc], bool]] = (
            weakref.WeakKeyDictionary()
        )

    def add(
        self, login: str, ws: web.WebSocketResponse, valid: Callable[[Doc], bool] | None = None
    ) -> None:
        self._sockets[login].add(ws)
        if valid is not None:
            self._valid[ws] = valid

    async def close_revoked(self, doc: Doc) -> None:
        """Close the operator's sockets whose session ended (log-out, new password or role,
        dismissal): a revoked session receives nothing more."""
        for ws in list(self._sockets.get(doc["_id"], ())):
            valid = self._valid.get(ws)
            if valid is not None and not valid(doc) and not ws.closed:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")

    def remove(self, login: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(login)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[login]

    def logins(self) -> list[str]:
        return [login for login, socks in self._sockets.items() if socks]

    def connected(self, login: str) -> bool:
        return bool(self._sockets.get(login))

    async def send(self, login: str, message: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(login, ())):
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(message)

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def operator_message(doc: Doc, call: Doc | None) -> dict[str, Any]:
    """The operator's state, with the call card of the call they are offered or on."""
    message: dict[str, Any] = {"type": "state", "operator": operator_view(doc)}
    message["call"] = call_view(call) if doc.get("call_id") and call else None
    return message


REVOKE_CHECK = "_revoke_check"  # internal: never sent to a socket


def _names_offer(call: Doc | None, op: Doc) -> bool:
    """Whether the call as the feed holds it can go out with the operator's state: it exists,
    and when the operator is offered, it already names that offer (the customer's offer, or a
    party asked in). A reservation is written before the call, so the call the feed has may
    not show it yet; the desk would open the card without knowing what it is offered."""
    if call is None:
        return False
    offer_id = op.get("offer_id")
    if op.get("activity") != "offered" or not offer_id:
        return True
    if (call.get("offer") or {}).get("offer_id") == offer_id:
        return True
    return any(p.get("party_id") == offer_id for p in call.get("parties") or ())


def _concerned(call: Doc, operator_doc: Callable[[str], Doc | None]) -> set[str]:
    """The operators a change of the call is pushed to: its owner, the operator it is offered
    to, and every operator party whose desk still shows it (ringing, on the line, or in
    wrap-up after it: their document names the call)."""
    offer = call.get("offer") or {}
    logins = {str(x) for x in (call.get("operator"), offer.get("operator")) if x}
    for p in call.get("parties") or ():
        login = p.get("login")
        if not login or login in logins:
            continue
        if p.get("state") != "left" or (operator_doc(login) or {}).get("call_id") == call["_id"]:
            logins.add(str(login))
    return logins


class PushRelay:
    """Pushes each change the process's change feed folds in to the local sockets concerned.

    No read per change: the feed holds the operator and the call as they now stand. One queue
    keeps the messages of a socket in the order the changes happened.
    """

    def __init__(self, feed: ChangeFeed, hub: PushHub) -> None:
        self.feed = feed
        self.hub = hub
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        # Operators whose state names a call the feed has not seen yet (a claim reserves the
        # operator before it writes the call): their state goes out with the call.
        self._waiting_for_call: dict[str, str] = {}
        feed.listeners.append(self._changed)

    def _changed(self, coll: str, doc: Doc, foreign: bool) -> None:
        if coll == "operators":
            login = doc["_id"]
            if not self.hub.connected(login):
                return
            # A logout, a new password or a dismissal elsewhere ends this operator's sockets.
            self._queue.put_nowait((login, {"type": REVOKE_CHECK, "operator": doc}))
            call = self.feed.call_doc(doc["call_id"]) if doc.get("call_id") else None
            if doc.get("call_id") and not _names_offer(call, doc):
                self._waiting_for_call[login] = doc["call_id"]
                return
            self._waiting_for_call.pop(login, None)
            self._queue.put_nowait((login, operator_message(doc, call)))
        elif coll == "calls":
            for login in _concerned(doc, self.feed.operator_doc):
                if not self.hub.connected(login):
                    continue
                if self._waiting_for_call.get(login) == doc["_id"]:
                    op = self.feed.operator_doc(login)
                    if op is not None and not _names_offer(doc, op):
                        continue  # an older state of the call: the offer is not in it yet
                    del self._waiting_for_call[login]
                    if op is not None:
                        self._queue.put_nowait((login, operator_message(op, doc)))
                self._queue.put_nowait((login, {"type": "call", "call": call_view(doc)}))

    async def run(self) -> None:
        while True:
            login, message = await self._queue.get()
            try:
                if message.get("type") == REVOKE_CHECK:
                    await self.hub.close_revoked(message["operator"])
                    continue
                await self.hub.send(login, message)
            except Exception:
                log.exception("push to %s failed", login)


class FloorRelay:
    """Pushes the live floor to supervisors' sockets after each change the feed brings.

    Changes that come while a push is being sent, or within `interval_s` of the last one, go
    out together in the next: the floor is a whole picture, not a list of events. The desks'
    Add party picker uses it too, with a `snapshot` of what changed (None: nothing).
    """

    def __init__(
        self,
        changed: asyncio.Event,
        snapshot: Callable[[], dict[str, Any] | None],  # None: nothing to send
        interval_s: float,
    ) -> None:
        self.changed = changed
        self.snapshot = snapshot
        self.interval_s = interval_s
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.pushes = 0

    def add(self, ws: web.WebSocketResponse) -> None:
        self.sockets.add(ws)

    def remove(self, ws: web.WebSocketResponse) -> None:
        self.sockets.discard(ws)

    async def run(self) -> None:
        while True:
            await self.changed.wait()
            self.changed.clear()
            sockets = [ws for ws in self.sockets if not ws.closed]
            if sockets:
                message: dict[str, Any] | None
                try:
                    message = self.snapshot()
                except Exception:
                    log.exception("could not build the live floor")
                    message = None
                if message is not None:
                    self.pushes += 1
                    for ws in sockets:
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            await ws.send_json(message)
            await asyncio.sleep(self.interval_s)
