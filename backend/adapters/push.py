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
            if doc.get("call_id") and call is None:
                self._waiting_for_call[login] = doc["call_id"]
                return
            self._waiting_for_call.pop(login, None)
            self._queue.put_nowait((login, operator_message(doc, call)))
        elif coll == "calls":
            offer = doc.get("offer") or {}
            for login in {str(x) for x in (doc.get("operator"), offer.get("operator")) if x}:
                if not self.hub.connected(login):
                    continue
                if self._waiting_for_call.get(login) == doc["_id"]:
                    del self._waiting_for_call[login]
                    if (op := self.feed.operator_doc(login)) is not None:
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
    out together in the next: the floor is a whole picture, not a list of events.
    """

    def __init__(
        self,
        changed: asyncio.Event,
        snapshot: Callable[[], dict[str, Any]],
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
