"""Video invitations in MongoDB: one document per SMS link, written once and then stamped as the
end-user opens the page, starts the call, the call arrives and connects (each stamp once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from backend.adapters.documents import Doc

# Indexes: backend/adapters/mongo.py INDEXES["video_invites"].


class InviteStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.invites = db["video_invites"]

    async def get(self, invite_id: str) -> Doc | None:
        return await self.invites.find_one({"_id": invite_id})

    async def insert(self, doc: Doc) -> None:
        """The new invitation; earlier ones of the same voice call stop counting."""
        await self.invites.update_many(
            {"voice_call_id": doc["voice_call_id"], "superseded": False},
            {"$set": {"superseded": True, "superseded_by": doc["_id"]}},
        )
        await self.invites.insert_one(doc)

    async def stamp(self, invite_id: str, name: str, at: datetime, **extra: Any) -> bool:
        """Set `name` (and `extra`) the first time only: True when this call set it."""
        result = await self.invites.update_one(
            {"_id": invite_id, name: None}, {"$set": {name: at, **extra}}
        )
        return result.modified_count == 1

    async def claim_video_call(self, invite_id: str, call_id: str, at: datetime) -> bool:
        """The first video call of this link takes it; a second one is an ordinary call."""
        result = await self.invites.update_one(
            {"_id": invite_id, "video_call_id": None},
            {"$set": {"video_call_id": call_id, "arrived_at": at}},
        )
        return result.modified_count == 1

    async def sent_between(self, since: datetime, until: datetime) -> list[Doc]:
        cursor = self.invites.find({"sent_at": {"$gte": since, "$lt": until}})
        return [doc async for doc in cursor]
