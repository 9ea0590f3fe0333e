"""WebSocket push: each process keeps its own sockets and learns of changes from change streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web
from pymongo.errors import PyMongoError

from backend.adapters.documents import Doc
from backend.adapters.mongo import Store
from backend.presenters import call_view, operator_view

log = logging.getLogger(__name__)


class PushHub:
    """Sockets per operator login, in this process only."""

    def __init__(self) -> None:
        self._sockets: dict[str, weakref.WeakSet[web.WebSocketResponse]] = defaultdict(
            weakref.WeakSet
        )
        # Set on the first socket: a process with no operators connected does not follow
        # the change streams (each change costs the server a document lookup).
        self.wanted = asyncio.Event()
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
        self.wanted.set()

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


async def operator_message(store: Store, doc: Doc) -> dict[str, Any]:
    """The operator's state, with the call card of the call they are offered or on."""
    message: dict[str, Any] = {"type": "state", "operator": operator_view(doc)}
    if call_id := doc.get("call_id"):
        call = await store.call_doc(call_id)
        message["call"] = call_view(call) if call else None
    else:
        message["call"] = None
    return message


class ChangeFeed:
    """Follows the operators and calls collections and pushes to the local sockets concerned."""

    def __init__(self, store: Store, hub: PushHub) -> None:
        self.store = store
        self.hub = hub
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await self.hub.wanted.wait()
        await asyncio.gather(self._follow("operators"), self._follow("calls"))

    async def _follow(self, collection: str) -> None:
        delay = 0.5
        pipeline = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        while True:
            try:
                coll = self.store.db[collection]
                async with await coll.watch(pipeline, full_document="updateLookup") as stream:
                    self.ready.set()
                    delay = 0.5
                    async for change in stream:
                        doc = change.get("fullDocument")
                        if doc:
                            await self._deliver(collection, doc)
            except asyncio.CancelledError:
                raise
            except PyMongoError as e:
                log.warning("change stream on %s broke (%s); reopening", collection, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _deliver(self, collection: str, doc: Doc) -> None:
        if collection == "operators":
            await self.hub.close_revoked(doc)
            if self.hub.connected(doc["_id"]):
                await self.hub.send(doc["_id"], await operator_message(self.store, doc))
            return
        offer = doc.get("offer") or {}
        logins = {str(x) for x in (doc.get("operator"), offer.get("operator")) if x}
        for login in logins:
            if self.hub.connected(login):
                await self.hub.send(login, {"type": "call", "call": call_view(doc)})
