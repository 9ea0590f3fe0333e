"""Storage for the operator desk: notes and dispositions on calls, contacts, Web SDK logins.

Desk data lives under the call's `desk` field and is written without the routing `rev`
guard: it never takes part in routing decisions, so it cannot conflict with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from backend.adapters.documents import Doc

# Every note is kept; a call takes at most this many (the next is refused, none is dropped).
NOTES_LIMIT = 100
_HISTORY_FIELDS = {
    "caller": 1,
    "display_name": 1,
    "media": 1,
    "state": 1,
    "outcome": 1,
    "group": 1,
    "operator": 1,
    "created_at": 1,
    "connected_at": 1,
    "ended_at": 1,
    "context": 1,
    "desk": 1,
}


def contact_keys(phone: str, customer_id: str | None) -> list[str]:
    """A contact is known by customer id first, by phone number otherwise (most specific first)."""
    keys = []
    if customer_id:
        keys.append(f"customer:{customer_id}")
    if phone:
        keys.append(f"phone:{phone}")
    return keys


def disposition_fields(code: str, by: str, now: datetime) -> Doc:
    """A disposition code as stored on its call."""
    return {"desk.disposition": code, "desk.disposition_by": by, "desk.disposition_at": now}


class DeskStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.calls = db["calls"]
        self.contacts = db["contacts"]
        self.status_log = db["status_log"]
        self.media_users = db["voximplant_users"]

    async def ensure_indexes(self) -> None:
        await self.calls.create_indexes(
            [
                IndexModel(
                    [("context.customer_id", ASCENDING), ("created_at", DESCENDING)],
                    name="desk_customer_history",
                ),
                IndexModel(
                    [("operator", ASCENDING), ("connected_at", ASCENDING)], name="desk_operator_day"
                ),
            ]
        )

    # -- notes and dispositions ------------------------------------------------------

    async def add_note(self, call_id: str, note: Doc) -> bool:
        """Append the note unless the call has NOTES_LIMIT already (guarded: exact under races)."""
        full = f"desk.notes.{NOTES_LIMIT - 1}"
        result = await self.calls.update_one(
            {"_id": call_id, full: {"$exists": False}}, {"$push": {"desk.notes": note}}
        )
        return result.modified_count == 1

    async def set_disposition(self, call_id: str, code: str, login: str, now: datetime) -> None:
        await self.calls.update_one(
            {"_id": call_id}, {"$set": disposition_fields(code, login, now)}
        )

    async def set_disposition_if_missing(
        self, call_id: str, code: str, by: str, now: datetime
    ) -> bool:
        """Record a code only when the operator chose none (guarded: their choice wins a race)."""
        result = await self.calls.update_one(
            {"_id": call_id, "desk.disposition": {"$exists": False}},
            {"$set": disposition_fields(code, by, now)},
        )
        return result.modified_count == 1

    async def history(
        self, phone: str, customer_id: str | None, exclude: str, limit: int
    ) -> list[Doc]:
        """Earlier calls of the same caller number or customer id, newest first.

        One indexed query per key, merged here: a top-level `$or` is served by scanning every
        stored call on some servers.
        """
        match: list[Doc] = []
        if phone:
            match.append({"caller": phone})
        if customer_id:
            match.append({"context.customer_id": customer_id})
        if limit == 0:
            return []
        found: dict[str, Doc] = {}
        for query in match:
            # The call itself is left out here rather than in the filter, so that the filter
            # is exactly the index's fields (some servers scan otherwise).
            cursor = self.calls.find(query, _HISTORY_FIELDS).sort("created_at", DESCENDING)
            for doc in await cursor.limit(limit + 1).to_list(None):
                if doc["_id"] != exclude:
                    found[doc["_id"]] = doc
        newest = sorted(found.values(), key=lambda d: d["created_at"], reverse=True)
        return newest[:limit]

    # -- contacts --------------------------------------------------------------------

    async def contacts_for(self, phone: str, customer_id: str | None) -> list[Doc]:
        """The contact's records, most specific first: by customer id, by phone number, then
        records of the same customer or number filed under the other key."""
        keys = contact_keys(phone, customer_id)
        match: list[Doc] = [{"_id": {"$in": keys}}] if keys else []
        if phone:
            match.append({"phone": phone})
        if customer_id:
            match.append({"customer_id": customer_id})
        found: dict[str, Doc] = {}
        for query in match:  # one indexed query per key, no top-level $or
            for doc in await self.contacts.find(query).to_list(50):
                found[doc["_id"]] = doc
        docs = list(found.values())
        rank = {k: i for i, k in enumerate(keys)}
        return sorted(docs, key=lambda d: (rank.get(d["_id"], len(rank)), str(d["_id"])))

    async def save_personal(
        self, key: str, phone: str, customer_id: str | None, fields: dict[str, str], now: datetime
    ) -> Doc:
        changes: dict[str, Any] = {f"personal.{k}": v for k, v in fields.items()}
        changes["updated_at"] = now
        ids: dict[str, Any] = {"phone": phone}
        if customer_id:
            ids["customer_id"] = customer_id
        await self.contacts.update_one(
            {"_id": key},
            {"$set": changes, "$setOnInsert": {**ids, "created_at": now}},
            upsert=True,
        )
        doc = await self.contacts.find_one({"_id": key})
        assert doc is not None
        return doc

    # -- the operator's day ----------------------------------------------------------

    async def answered_calls(self, login: str, since: datetime) -> list[Doc]:
        query = {"operator": login, "connected_at": {"$gte": since}}
        fields = {"connected_at": 1, "ended_at": 1, "state": 1}
        return await self.calls.find(query, fields).to_list(None)

    async def status_intervals(self, login: str, since: datetime) -> list[Doc]:
        cursor = self.status_log.find({"operator": login, "end": {"$gte": since}}, {"_id": 0})
        return await cursor.sort("start", ASCENDING).to_list(None)

    # -- Web SDK logins --------------------------------------------------------------

    async def media_user(self, login: str) -> Doc | None:
        return await self.media_users.find_one({"_id": login})

    async def set_media_user(self, login: str, user: str, digest: str, now: datetime) -> None:
        await self.media_users.update_one(
            {"_id": login},
            {"$set": {"user": user, "digest": digest, "updated_at": now}},
            upsert=True,
        )
