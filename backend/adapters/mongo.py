"""MongoDB storage on PyMongo's async API: guarded (compare-and-set) updates, indexed queries."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from backend.adapters.documents import (
    Doc,
    call_doc,
    call_from,
    changed_fields,
    operator_doc,
    operator_from,
)
from backend.domain import rollup
from backend.domain.actions import StatusInterval
from backend.domain.model import Call, Operator

# Calls that have not ended: the read view holds every one of them.
ACTIVE_CALL_STATES = (
    "queued",
    "offering",
    "connected",
    "overflow_offering",
    "overflow_connected",
    "voicemail",
    "callback_wait",
)

# Routing reads come from the read view (change_feed.py), not from queries: what is left here
# serves the view's rebuild, the absent-operator check, the card and the reports.
INDEXES: dict[str, list[IndexModel]] = {
    "operators": [],
    "processes": [IndexModel([("seen", ASCENDING)], name="seen")],
    "calls": [
        IndexModel([("session_id", ASCENDING)], unique=True, name="session"),
        IndexModel([("state", ASCENDING)], name="state"),
        IndexModel([("caller", ASCENDING), ("created_at", DESCENDING)], name="contact_history"),
        IndexModel([("group", ASCENDING), ("created_at", DESCENDING)], name="group_day"),
        # Which connected call a supervisor is on (a few calls per login, whatever history).
        IndexModel([("parties.login", ASCENDING), ("state", ASCENDING)], name="party_login"),
    ],
    "contacts": [
        IndexModel([("manager", ASCENDING)], name="manager"),
        IndexModel([("phone", ASCENDING)], name="phone"),
        IndexModel([("customer_id", ASCENDING)], name="customer"),
    ],
    "video_invites": [
        # "The earlier invitations of this voice call" (the latest one counts).
        IndexModel([("voice_call_id", ASCENDING), ("superseded", ASCENDING)], name="voice_call"),
        # Reports: the invitations sent in a period.
        IndexModel([("sent_at", ASCENDING)], name="sent_at"),
    ],
    "status_log": [
        # "This operator's intervals that end after X": both fields in the index.
        IndexModel([("operator", ASCENDING), ("end", ASCENDING)], name="operator_end"),
        IndexModel([("end", ASCENDING)], name="end"),
        # Reports of one status (Video Reserved) over a period.
        IndexModel([("value", ASCENDING), ("end", ASCENDING)], name="value_end"),
    ],
    # Report counters per interval (domain/rollup.py): a range of one resolution, for every
    # key or for some.
    "report_buckets": [
        IndexModel(
            [("kind", ASCENDING), ("res", ASCENDING), ("start", ASCENDING)], name="kind_start"
        ),
        IndexModel(
            [("kind", ASCENDING), ("res", ASCENDING), ("key", ASCENDING), ("start", ASCENDING)],
            name="kind_key_start",
        ),
    ],
    # Administration's audit log, newest first.
    "audit": [IndexModel([("at", DESCENDING)], name="at")],
    # Log-in throttling keeps a document per login and per client address; the server drops
    # each once it is forgotten (services/login.py sets `expire_at`), so they do not pile up.
    "login_attempts": [IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire")],
}


DUPLICATE_KEY = 11000


class Store:
    """Every read and write the services make. Writes to routing state are guarded by `rev`."""

    def __init__(self, client: AsyncMongoClient[Doc], db_name: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[db_name]
        self.operators = self.db["operators"]
        self.calls = self.db["calls"]
        self.status_log = self.db["status_log"]
        self.contacts = self.db["contacts"]
        self.meta = self.db["meta"]
        self.processes = self.db["processes"]
        self.report_buckets = self.db["report_buckets"]
        self.audit = self.db["audit"]
        # One document per group a supervisor closed or reopened: {_id: name, closed, by, at}.
        self.groups = self.db["groups"]
        # Groups' settings and the context rules: one document, seeded once from the config
        # (services/group_settings.py).
        self.routing_settings = self.db["routing_settings"]
        # Since when the center's report buckets are complete (see `mark_center_buckets`).
        self.center_since: datetime | None = None

    async def ensure_indexes(self) -> None:
        for name, models in INDEXES.items():
            await self.db[name].create_indexes(models)

    # -- secrets for development mode -------------------------------------------------

    async def dev_secrets(self) -> dict[str, str]:
        """Generated once per database; every process sharing it reads the same values."""
        generated = {
            "secret_key": secrets.token_urlsafe(32),
            "platform_token": "pt_" + secrets.token_urlsafe(24),
            "admin_token": "at_" + secrets.token_urlsafe(24),
        }
        await self.meta.update_one({"_id": "dev_secrets"}, {"$setOnInsert": generated}, upsert=True)
        doc = await self.meta.find_one({"_id": "dev_secrets"})
        assert doc is not None
        return {k: str(doc[k]) for k in generated}

    # -- operators -------------------------------------------------------------------

    async def operator_doc(self, login: str) -> Doc | None:
        return await self.operators.find_one({"_id": login})

    async def operator(self, login: str) -> Operator | None:
        doc = await self.operators.find_one({"_id": login})
        return operator_from(doc) if doc else None

    async def save_operator(self, old: Operator, new: Operator, now: datetime) -> Operator | None:
        """Write `new` only if the stored operator is still at `old.rev`; None when it is not."""
        changes = changed_fields(operator_doc(old), operator_doc(new))
        changes.update(rev=old.rev + 1, updated_at=now)
        result = await self.operators.update_one(
            {"_id": old.login, "rev": old.rev}, {"$set": changes}
        )
        return replace(new, rev=old.rev + 1) if result.modified_count == 1 else None

    async def insert_operator(self, op: Operator, profile: Doc, now: datetime) -> bool:
        doc = {"_id": op.login, **operator_doc(op), **profile, "rev": 0, "created_at": now}
        doc["updated_at"] = now
        try:
            await self.operators.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def update_operator_profile(
        self, old: Operator, new: Operator, profile: Doc, now: datetime
    ) -> bool:
        changes = changed_fields(operator_doc(old), operator_doc(new))
        changes.update(profile, rev=old.rev + 1, updated_at=now)
        result = await self.operators.update_one(
            {"_id": old.login, "rev": old.rev}, {"$set": changes}
        )
        return result.modified_count == 1

    async def list_operator_docs(self) -> list[Doc]:
        return await self.operators.find({}, {"password_hash": 0}).sort("_id", 1).to_list(None)

    async def touch_operators(self, logins: Sequence[str], now: datetime) -> None:
        if len(logins) == 1:
            await self.operators.update_one({"_id": logins[0]}, {"$set": {"last_seen": now}})
        elif logins:
            await self.operators.update_many(
                {"_id": {"$in": list(logins)}}, {"$set": {"last_seen": now}}
            )

    async def heartbeat(self, process_id: str, logins: Sequence[str], now: datetime) -> None:
        """One document per process: the operators with a socket open there, and when."""
        await self.processes.update_one(
            {"_id": process_id}, {"$set": {"logins": sorted(logins), "seen": now}}, upsert=True
        )

    async def live_logins(self, seen_since: datetime) -> set[str]:
        """Operators with a socket open in a process that has said so since then."""
        docs = await self.processes.find({"seen": {"$gte": seen_since}}, {"logins": 1}).to_list(
            None
        )
        return {login for d in docs for login in d.get("logins", [])}

    # -- calls -----------------------------------------------------------------------

    async def insert_call(self, call: Call, extra: Doc, now: datetime) -> None:
        """Raises DuplicateKeyError when this session_id already has a call (a retry)."""
        doc = {"_id": call.call_id, **call_doc(call), **extra, "rev": 0, "updated_at": now}
        await self.calls.insert_one(doc)

    async def set_group_closed(self, name: str, closed: bool, by: str, now: datetime) -> None:
        await self.groups.replace_one(
            {"_id": name}, {"closed": closed, "by": by, "at": now}, upsert=True
        )

    async def call_doc(self, call_id: str) -> Doc | None:
        return await self.calls.find_one({"_id": call_id})

    async def call_doc_by_session(self, session_id: str) -> Doc | None:
        return await self.calls.find_one({"session_id": session_id})

    async def call(self, call_id: str) -> Call | None:
        doc = await self.calls.find_one({"_id": call_id})
        return call_from(doc) if doc else None

    async def save_call(
        self,
        old: Call,
        new: Call,
        now: datetime,
        log: Iterable[Doc] = (),
        also_set: Doc | None = None,
    ) -> Call | None:
        """`also_set`: fields outside the call's model (the desk's) written by the same
        guarded update, so that they are kept only if the transition is."""
        changes = {**(also_set or {}), **changed_fields(call_doc(old), call_doc(new))}
        changes.update(rev=old.rev + 1, updated_at=now)
        update: Doc = {"$set": changes}
        entries = list(log)
        if entries:
            # Never sliced: the call's log is its audit trail, kept whole.
            update["$push"] = {"log": {"$each": entries}}
        result = await self.calls.update_one({"_id": old.call_id, "rev": old.rev}, update)
        return replace(new, rev=old.rev + 1) if result.modified_count == 1 else None

    async def append_call_log(
        self, call_id: str, entries: Sequence[Doc], extra: Doc | None = None
    ) -> bool:
        """Unguarded: the log and facts such as the recording URL never conflict with routing."""
        update: Doc = {"$push": {"log": {"$each": list(entries)}}}
        if extra:
            update["$set"] = extra
        result = await self.calls.update_one({"_id": call_id}, update)
        return result.matched_count == 1

    # -- contacts: "your manager" ---------------------------------------------------------

    async def set_contact_manager(
        self, key: str, login: str | None, now: datetime, *, only_if_unset: bool = False
    ) -> bool:
        query: Doc = {"_id": key}
        if only_if_unset:
            query["manager"] = {"$not": {"$type": "string"}}
        try:
            result = await self.contacts.update_one(
                query,
                {"$set": {"manager": login, "manager_since": now, "updated_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # only_if_unset and someone set one meanwhile
        return result.modified_count == 1 or result.upserted_id is not None

    async def release_contacts(self, login: str, now: datetime) -> int:
        result = await self.contacts.update_many(
            {"manager": login}, {"$set": {"manager": None, "updated_at": now}}
        )
        return result.modified_count

    async def group_day_figures(self, group: str, since: datetime) -> list[Doc]:
        cursor = self.calls.find(
            {"group": group, "created_at": {"$gte": since}},
            {
                "state": 1,
                "outcome": 1,
                "enqueued_at": 1,
                "connected_at": 1,
                "ended_at": 1,
                "created_at": 1,
                "task": 1,
                "voicemail_url": 1,
                "callback_number": 1,
                "end_reason": 1,
            },
        )
        return await cursor.to_list(None)

    # -- status history --------------------------------------------------------------

    async def log_status(self, intervals: Sequence[StatusInterval]) -> None:
        if intervals:
            await self.status_log.insert_many(
                [
                    {
                        "operator": i.operator,
                        "field": i.field,
                        "value": i.value,
                        "reason": i.reason,
                        "start": i.start,
                        "end": i.end,
                        "seconds": (i.end - i.start).total_seconds(),
                    }
                    for i in intervals
                ],
                ordered=False,
            )

    async def status_history(self, login: str, since: datetime) -> list[Doc]:
        cursor = self.status_log.find({"operator": login, "end": {"$gte": since}}, {"_id": 0}).sort(
            "start", ASCENDING
        )
        return await cursor.to_list(None)

    # -- audit log -------------------------------------------------------------------

    async def record_audit(self, entry: Doc) -> None:
        await self.audit.insert_one(entry)

    async def audit_entries(self, before: datetime, limit: int) -> list[Doc]:
        cursor = self.audit.find({"at": {"$lte": before}}, {"_id": 0}).sort("at", DESCENDING)
        return await cursor.limit(limit).to_list(None)

    # -- report buckets --------------------------------------------------------------

    async def add_report_counters(self, incs: rollup.Increments) -> None:
        """One upsert with $inc per bucket touched. Two processes creating the same bucket at
        once (MongoDB may let both upserts try to insert): the one that loses on the unique
        `_id` is sent again, an update now."""
        ops = [
            UpdateOne(
                {"_id": rollup.bucket_id(key)},
                {
                    "$inc": {f"c.{k}": v for k, v in counters.items()},
                    "$setOnInsert": {
                        "kind": key[0],
                        "res": key[1],
                        "key": key[2],
                        "start": key[3],
                    },
                },
                upsert=True,
            )
            for key, counters in incs.items()
        ]
        for _ in range(3):
            if not ops:
                return
            try:
                await self.report_buckets.bulk_write(ops, ordered=False)
                return
            except BulkWriteError as e:
                errors = e.details.get("writeErrors", [])
                if any(err.get("code") != DUPLICATE_KEY for err in errors):
                    raise
                ops = [ops[err["index"]] for err in errors]
        raise RuntimeError("report buckets: upserts kept colliding")

    async def mark_center_buckets(self, now: datetime) -> datetime:
        """Buckets of kind `center` are written from the first start of a version that writes
        them; earlier history has none, and a report falls back to the operators' buckets
        there. The first process to start records when; every later one reads it."""
        await self.meta.update_one(
            {"_id": "report_center"}, {"$setOnInsert": {"since": now}}, upsert=True
        )
        doc = await self.meta.find_one({"_id": "report_center"})
        assert doc is not None
        since: datetime = doc["since"]
        self.center_since = since if since.tzinfo else since.replace(tzinfo=UTC)
        return self.center_since

    async def report_counters(
        self,
        kind: str,
        res: str,
        start: datetime,
        end: datetime,
        keys: Sequence[str] | None = None,
    ) -> list[Doc]:
        """The buckets of one kind and resolution starting in [start, end), for every key or
        for these (one equality query each: the embedded database plans no index for `$in`)."""
        projection = {"_id": 0, "kind": 0, "res": 0}
        if keys is None:
            query: Doc = {"kind": kind, "res": res, "start": {"$gte": start, "$lt": end}}
            return await self.report_buckets.find(query, projection).to_list(None)
        out: list[Doc] = []
        for key in keys:
            query = {"kind": kind, "res": res, "key": key, "start": {"$gte": start, "$lt": end}}
            out += await self.report_buckets.find(query, projection).to_list(None)
        return out


def durable_write_options(url: str) -> dict[str, Any]:
    """The write concern that makes every acknowledged write survive a crash.

    Majority on a replica set, and journaled: on the embedded SecantusDB (one node) `j` makes
    each commit fsync its journal; without it, 30 acknowledged writes vanished on `kill -9`.
    A URL that sets `w` or `journal` itself keeps its own value.
    """
    given = {k.lower() for k in parse_qs(urlsplit(url).query)}
    defaults: dict[str, Any] = {"w": "majority", "journal": True}
    return {k: v for k, v in defaults.items() if k.lower() not in given}


def connect(url: str, **options: Any) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(
        url, tz_aware=True, connect=False, **{**durable_write_options(url), **options}
    )
