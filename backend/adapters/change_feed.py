"""One change stream per process: keeps the read view and the raw documents behind it current.

The stream is opened before the snapshot is read, so no change can fall between them; a change
already in the snapshot is recognised by its `rev` and skipped. On any stream error the feed
resumes from its last resume token; when that is impossible (history lost, token refused) it
rebuilds the whole view from the database. Listeners (the desk push, the dispatcher) hear of every
change as it is folded in, with no read of their own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError

from backend.adapters.documents import (
    Doc,
    call_doc,
    call_from,
    operator_doc,
    operator_from,
)
from backend.adapters.mongo import ACTIVE_CALL_STATES, Store
from backend.cancelling import cancel_and_wait
from backend.domain.model import Call, Operator
from backend.domain.view import ReadView

log = logging.getLogger(__name__)

COLLECTIONS = ("operators", "calls", "contacts", "meta", "groups", "routing_settings")
SYNC_PREFIX = "sync:"
# Ended calls kept for the desk (wrap-up card, late notes) before they are forgotten.
ENDED_KEEP = 5_000

# The call log can be long and is never needed by the view. (Heartbeats go to one document per
# process in `processes`, which is not followed: they cost no event per operator.)
PIPELINE: list[Doc] = [
    {"$match": {"ns.coll": {"$in": list(COLLECTIONS)}}},
    {
        "$project": {
            "updateDescription.updatedFields.log": 0,
            "fullDocument.log": 0,
        }
    },
]

# (collection, the document as it now stands, whether the change came from elsewhere: the
# stream or a read, rather than this process's own write).
Listener = Callable[[str, Doc, bool], None]
# Told the stored groups and rules (the routing_settings document) whenever they change.
SettingsListener = Callable[[Doc], None]


def _set_path(doc: Doc, path: str, value: Any) -> None:
    # The embedded documents on the way are copied: `doc` is a shallow copy of one that
    # other holders (the ended calls, a listener) may still have.
    parts = path.split(".")
    target = doc
    for part in parts[:-1]:
        nxt = target.get(part)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        target[part] = nxt
        target = nxt
    target[parts[-1]] = value


def _unset_path(doc: Doc, path: str) -> None:
    parts = path.split(".")
    target: Any = doc
    for part in parts[:-1]:
        target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return
    if isinstance(target, dict):
        target.pop(parts[-1], None)


class ChangeFeed:
    def __init__(self, store: Store, view: ReadView, batch_window_s: float = 0.05) -> None:
        self.store = store
        self.view = view
        self.batch_window_s = batch_window_s
        self.operator_docs: dict[str, Doc] = {}
        self.call_docs: dict[str, Doc] = {}  # calls that have not ended
        self.ended: OrderedDict[str, Doc] = OrderedDict()
        self.sessions: dict[str, str] = {}  # session_id -> call_id, calls not ended
        self.listeners: list[Listener] = []
        self.routing_settings: Doc | None = None
        self.settings_listeners: list[SettingsListener] = []
        self.ready = asyncio.Event()  # the first snapshot is loaded and the stream is open
        self.rebuilds = 0
        self.resumes = 0
        self.changes_seen = 0  # every change the stream brought, echoes included
        self._token: Doc | None = None
        self._stream: Any = None
        self._rebuild_next = False
        self._syncs: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        # Cleared to hold folding (changes wait in the stream): lets a test make the view
        # stale on purpose, as a slow stream would.
        self.flowing = asyncio.Event()
        self.flowing.set()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        waiter = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            waiter.cancel()
            await self._task  # raises what stopped it

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def restart_stream(self) -> None:
        """Close the stream as a network failure would (tests): the feed must resume."""
        if self._stream is not None:
            await self._stream.close()

    async def sync(self, timeout_s: float = 5.0) -> None:
        """Return once every change committed before this call is in the view.

        Writes a marker and waits for it to come through the stream, which delivers changes
        in commit order. For tests and for callers that must read what another process wrote.
        """
        key = SYNC_PREFIX + uuid.uuid4().hex
        done = self._syncs[key] = asyncio.Event()
        try:
            await self.store.meta.insert_one({"_id": key})
            await asyncio.wait_for(done.wait(), timeout_s)
        finally:
            self._syncs.pop(key, None)
            await self.store.meta.delete_one({"_id": key})

    def matches_database(self, docs: dict[str, list[Doc]]) -> list[str]:
        """Where the view differs from these documents (tests): ids whose rev disagrees."""
        out = [
            f"operator {d['_id']}: view rev {self.operator_docs.get(d['_id'], {}).get('rev')}"
            f" != {d.get('rev')}"
            for d in docs.get("operators", [])
            if self.operator_docs.get(d["_id"], {}).get("rev") != d.get("rev")
        ]
        for d in docs.get("calls", []):
            mine = self.call_doc(d["_id"])
            if d.get("state") != "ended" and (mine is None or mine.get("rev") != d.get("rev")):
                out.append(f"call {d['_id']}: view {mine and mine.get('rev')} != {d.get('rev')}")
        return out

    def forget_resume_token(self) -> None:
        """As if the server's history had moved past us (tests): the next reopen rebuilds."""
        self._rebuild_next = True

    async def _run(self) -> None:
        delay = 0.2
        while True:
            if self._rebuild_next:
                self._token, self._rebuild_next = None, False
            resuming = self._token is not None
            options: Doc = {"max_await_time_ms": 500}
            if resuming:
                options["resume_after"] = self._token
            try:
                stream = await self.store.db.watch(PIPELINE, **options)
            except PyMongoError as e:
                if not self.ready.is_set():
                    raise
                # A token the server no longer knows (history lost): rebuild instead.
                log.warning("change stream cannot reopen (%s); rebuilding the view", e)
                self._token = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                async with stream:
                    self._stream = stream
                    if resuming:
                        self.resumes += 1
                    else:
                        await self.rebuild()
                    self.ready.set()
                    delay = 0.2
                    while stream.alive:
                        change = await stream.try_next()
                        if change is not None:
                            await self.flowing.wait()
                            try:
                                await self._fold(change)
                            except Exception:
                                # The view must never stop following: start it afresh.
                                log.exception("could not fold a change; rebuilding the view")
                                self._rebuild_next = True
                                break
                        if stream.resume_token is not None:
                            self._token = dict(stream.resume_token)
                        if self.batch_window_s and not self._batched(stream):
                            # The batch is done: let changes gather a moment, so that one
                            # getMore brings several (this process's own writes are in the
                            # view already; only other processes' and the push wait). After
                            # an empty batch too: the embedded server wakes a getMore on any
                            # write, also to collections the stream does not follow (the
                            # history's and the report buckets' batches, written in parts),
                            # and each would otherwise cost a getMore of its own.
                            await asyncio.sleep(self.batch_window_s)
            except asyncio.CancelledError:
                raise
            except PyMongoError as e:
                if not self.ready.is_set():
                    raise
                log.warning("change stream broke (%s); resuming", e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                if not self.ready.is_set():
                    raise
                log.exception("change feed failed; rebuilding the view")
                self._rebuild_next = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._stream = None

    @staticmethod
    def _batched(stream: Any) -> bool:
        """Whether the stream still holds changes it has already fetched.

        PyMongo has no public way to ask; where its cursor does not look as expected the
        answer is "yes", which only turns the gathering window off.
        """
        data = getattr(getattr(stream, "_cursor", None), "_data", None)
        return data is None or len(data) > 0

    async def rebuild(self) -> None:
        """Everything the view holds, read again from the database."""
        store = self.store
        # With the password hash: a socket's session is checked against it (a new password
        # ends earlier sessions); it never leaves the process.
        ops = await store.operators.find({}).to_list(None)
        calls = await store.calls.find(
            {"state": {"$in": list(ACTIVE_CALL_STATES)}}, {"log": 0}
        ).to_list(None)
        contacts = await store.contacts.find(
            {"manager": {"$type": "string"}}, {"manager": 1}
        ).to_list(None)
        groups = await store.groups.find({}, {"closed": 1}).to_list(None)
        routing_settings = await store.routing_settings.find_one({})
        self.view.reset()
        if routing_settings is not None:
            # Before the operators: they are filed in their groups' strategy order.
            self._put_routing_settings(routing_settings)
        for doc in groups:
            self.view.closed[doc["_id"]] = bool(doc.get("closed"))
        self.operator_docs.clear()
        self.call_docs.clear()
        self.sessions.clear()
        for doc in ops:
            self._put_operator_doc(doc)
        for doc in calls:
            self._put_call_doc(doc)
        for doc in contacts:
            self.view.put_manager(doc["_id"], doc.get("manager"))
        self.rebuilds += 1
        self._notify("rebuild", {}, True)
        log.info("read view built: %d operators, %d active calls", len(ops), len(calls))

    # -- raw documents and the view --------------------------------------------------

    def _put_operator_doc(self, doc: Doc) -> None:
        self.operator_docs[doc["_id"]] = doc
        self.view.put_operator(operator_from(doc))

    def _put_call_doc(self, doc: Doc) -> None:
        call_id = doc["_id"]
        call = call_from(doc)
        self.view.put_call(call)
        if call.ended:
            old = self.call_docs.pop(call_id, None)
            if old is not None and old.get("session_id"):
                self.sessions.pop(old["session_id"], None)
            self.ended[call_id] = doc
            self.ended.move_to_end(call_id)
            while len(self.ended) > ENDED_KEEP:
                self.ended.popitem(last=False)
        else:
            self.call_docs[call_id] = doc
            if doc.get("session_id"):
                self.sessions[doc["session_id"]] = call_id

    def operator_doc(self, login: str) -> Doc | None:
        return self.operator_docs.get(login)

    def call_doc(self, call_id: str) -> Doc | None:
        return self.call_docs.get(call_id) or self.ended.get(call_id)

    def known_session(self, session_id: str) -> Doc | None:
        call_id = self.sessions.get(session_id)
        return self.call_docs.get(call_id) if call_id else None

    def local_operator(self, op: Operator, extra: Doc | None = None) -> Doc:
        """A write this process just made (the stream's echo of it will be skipped)."""
        doc = self.operator_docs.get(op.login) or {"_id": op.login}
        doc = {**doc, **operator_doc(op), **(extra or {}), "rev": op.rev}
        self._put_operator_doc(doc)
        self._notify("operators", doc, False)
        return doc

    def local_seen(self, logins: Sequence[str], now: datetime) -> None:
        """Operators seen now by this process (Ready clicked, a socket opened or closed).

        The sweep judges absence from these documents: they must not wait for the stream's
        echo of the write, or a sweep in between finds the old `last_seen` (none at all after a
        first Ready) and makes an operator absent who was seen a moment ago."""
        for login in logins:
            if (doc := self.operator_docs.get(login)) is not None:
                self.operator_docs[login] = {**doc, "last_seen": now}

    def local_call(self, call: Call, extra: Doc | None = None) -> Doc:
        """A write this process just made; `extra` may hold dotted paths ("desk.x"), as set."""
        extra = extra or {}
        doc = self.call_doc(call.call_id) or {"_id": call.call_id}
        plain = {k: v for k, v in extra.items() if "." not in k}
        doc = {**doc, **call_doc(call), **plain, "rev": call.rev}
        for path, value in extra.items():
            if "." in path:
                _set_path(doc, path, value)
        doc.pop("log", None)
        self._put_call_doc(doc)
        self._notify("calls", doc, False)
        return doc

    async def refresh_operator(self, login: str) -> Operator | None:
        """Read one operator again (a guarded write lost: the view was stale)."""
        doc = await self.store.operators.find_one({"_id": login})
        if doc is None:
            self.operator_docs.pop(login, None)
            self.view.drop_operator(login)
            return None
        self._put_operator_doc(doc)
        self._notify("operators", doc, True)
        return operator_from(doc)

    async def refresh_call(self, call_id: str) -> Call | None:
        doc = await self.store.calls.find_one({"_id": call_id}, {"log": 0})
        if doc is None:
            return None
        self._put_call_doc(doc)
        self._notify("calls", doc, True)
        return call_from(doc)

    # -- folding changes -------------------------------------------------------------

    async def _fold(self, change: Doc) -> None:
        self.changes_seen += 1
        coll = change["ns"]["coll"]
        kind = change["operationType"]
        key = change.get("documentKey", {}).get("_id")
        if key is None:
            return
        if coll == "contacts":
            self._fold_contact(key, change)
            return
        if coll == "groups":
            self._fold_group(key, change)
            return
        if coll == "routing_settings":
            if kind in ("insert", "replace") and change.get("fullDocument") is not None:
                self._put_routing_settings(change["fullDocument"])
            elif kind == "update":  # never written so, but then the document is the truth
                stored = await self.store.routing_settings.find_one({"_id": key})
                if stored is not None:
                    self._put_routing_settings(stored)
            return
        if coll == "meta":
            if isinstance(key, str) and (waiter := self._syncs.pop(key, None)) is not None:
                waiter.set()
            return
        docs = self.operator_docs if coll == "operators" else None
        current = docs.get(key) if docs is not None else self.call_doc(key)
        doc: Doc | None
        if kind in ("insert", "replace"):
            full: Doc | None = change.get("fullDocument")
            if full is None:
                return
            if current is not None and int(current.get("rev", 0)) >= int(full.get("rev", 0)):
                doc = current  # the view holds this state or a newer one (a local write)
            else:
                doc = full
        elif kind == "update":
            doc = await self._apply_update(coll, key, current, change.get("updateDescription", {}))
        elif kind == "delete":
            if coll == "operators":
                self.operator_docs.pop(key, None)
                self.view.drop_operator(key)
            return
        else:
            if kind == "invalidate":
                self._token = None
            return
        if doc is None or doc is current:
            return  # an echo of what this process wrote (or read) already: told then
        if coll == "operators":
            self._put_operator_doc(doc)
        else:
            self._put_call_doc(doc)
        self._notify(coll, doc, True)

    def _notify(self, coll: str, doc: Doc, foreign: bool) -> None:
        """Every listener hears of every state once, in the order this process learnt it."""
        for listener in self.listeners:
            try:
                listener(coll, doc, foreign)
            except Exception:
                log.exception("change listener failed")

    async def _apply_update(
        self, coll: str, key: str, current: Doc | None, desc: Doc
    ) -> Doc | None:
        fields: Doc = {
            k: v for k, v in desc.get("updatedFields", {}).items() if not k.startswith("log")
        }
        removed = [k for k in desc.get("removedFields", []) if not k.startswith("log")]
        if current is None:
            if not fields and not removed:
                return None
            # Not in the view (an old ended call, an operator created before us): read it.
            if coll == "operators":
                await self.refresh_operator(key)
            else:
                await self.refresh_call(key)
            return current  # the read told the listeners
        if "rev" in fields:
            have, new = int(current.get("rev", 0)), int(fields["rev"])
            if new <= have:
                return current  # already applied (our own write, or the snapshot had it)
            if new > have + 1:
                # A change went missing (a gap): the document itself is the truth.
                if coll == "operators":
                    await self.refresh_operator(key)
                else:
                    await self.refresh_call(key)
                return current  # the read told the listeners
        if not fields and not removed:
            return current
        doc = dict(current)
        for path, value in fields.items():
            if "." in path:
                _set_path(doc, path, value)
            else:
                doc[path] = value
        for path in removed:
            _unset_path(doc, path)
        return doc

    def _fold_group(self, key: str, change: Doc) -> None:
        """A supervisor closed or reopened a group (PUT /api/v1/groups/{name}/closed)."""
        kind = change["operationType"]
        if kind in ("insert", "replace"):
            self.view.closed[key] = bool((change.get("fullDocument") or {}).get("closed"))
        elif kind == "update":
            fields = change["updateDescription"].get("updatedFields", {})
            if "closed" in fields:
                self.view.closed[key] = bool(fields["closed"])
        elif kind == "delete":
            self.view.closed.pop(key, None)

    def _put_routing_settings(self, doc: Doc) -> None:
        held = self.routing_settings
        if held is not None and int(held.get("rev", 0)) >= int(doc.get("rev", 0)):
            return  # this process's own write, or an older state
        for listener in self.settings_listeners:
            listener(doc)  # a document that cannot be used stops here, and is not kept
        self.routing_settings = doc

    def local_routing_settings(self, doc: Doc) -> None:
        """This process just wrote the groups and rules (the stream's echo will be skipped)."""
        self._put_routing_settings(doc)

    def local_group(self, name: str, closed: bool) -> None:
        self.view.closed[name] = closed

    def _fold_contact(self, key: str, change: Doc) -> None:
        kind = change["operationType"]
        if kind in ("insert", "replace"):
            full = change.get("fullDocument") or {}
            manager = full.get("manager")
            self.view.put_manager(key, manager if isinstance(manager, str) else None)
        elif kind == "update":
            desc = change["updateDescription"]
            if "manager" in desc.get("updatedFields", {}):
                manager = desc["updatedFields"]["manager"]
                self.view.put_manager(key, manager if isinstance(manager, str) else None)
            elif "manager" in desc.get("removedFields", []):
                self.view.put_manager(key, None)
        elif kind == "delete":
            self.view.put_manager(key, None)
