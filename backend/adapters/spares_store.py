"""Spare-number limits shared by every process, exact under concurrency.

Concurrency: one slot document per allowed simultaneous call (`number#0`, `number#1`, …);
taking one is a single guarded update, so two processes can never both take the last slot.
Daily cap: one counter document per number and local day (`number|2026-11-21`), increased only
while under the cap; a new day is a new document, so the cap resets at the spare's midnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from backend.adapters.documents import Doc
from backend.domain.overflow import Spare, SpareUsage


class SpareCounters:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.slots = db["spare_slots"]
        self.days = db["spare_days"]
        self.calls = db["calls"]

    async def ensure(self, spares: Sequence[Spare]) -> None:
        await self.slots.create_indexes(
            [IndexModel([("number", ASCENDING), ("call_id", ASCENDING)], name="free")]
        )
        docs = [
            {"_id": f"{s.number}#{i}", "number": s.number, "call_id": None, "taken_at": None}
            for s in spares
            for i in range(s.max_concurrent)
        ]
        if docs:
            try:
                await self.slots.insert_many(docs, ordered=False)
            except BulkWriteError:
                pass  # the slots another process (or an earlier start) created
        for s in spares:
            # A lowered limit: free surplus slots go now, busy ones when their call ends.
            await self.slots.delete_many(
                {
                    "number": s.number,
                    "call_id": None,
                    "_id": {"$nin": [f"{s.number}#{i}" for i in range(s.max_concurrent)]},
                }
            )

    async def usage(self, spares: Sequence[Spare], now: datetime) -> dict[str, SpareUsage]:
        out = {}
        for s in spares:
            day = s.local_day(now)
            active = await self.slots.count_documents(
                {"number": s.number, "call_id": {"$ne": None}}
            )
            counter = await self.days.find_one({"_id": f"{s.number}|{day}"})
            out[s.number] = SpareUsage(
                s.number, active, day, int(counter["used"]) if counter else 0
            )
        return out

    async def take(self, spare: Spare, call_id: str, now: datetime) -> bool:
        """A slot and one of today's calls for `call_id`, or False (and nothing held)."""
        day_id = f"{spare.number}|{spare.local_day(now)}"
        try:
            counted = await self.days.update_one(
                {"_id": day_id, "used": {"$lt": spare.daily_cap}},
                {"$inc": {"used": 1}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # today's cap is reached (the upsert met the existing document)
        if counted.modified_count == 0 and counted.upserted_id is None:
            return False
        slot = await self.slots.update_one(
            {"number": spare.number, "call_id": None},
            {"$set": {"call_id": call_id, "taken_at": now}},
        )
        if slot.modified_count == 1:
            return True
        await self.days.update_one({"_id": day_id}, {"$inc": {"used": -1}})
        return False

    async def give_back(self, number: str, call_id: str) -> None:
        await self.slots.update_one(
            {"number": number, "call_id": call_id}, {"$set": {"call_id": None, "taken_at": None}}
        )

    async def uncount(self, spare: Spare, now: datetime) -> None:
        """An attempt that never got under way does not use up the day's cap."""
        await self.days.update_one(
            {"_id": f"{spare.number}|{spare.local_day(now)}", "used": {"$gt": 0}},
            {"$inc": {"used": -1}},
        )

    async def reconcile(self, now: datetime, grace_s: float) -> list[str]:
        """Free slots held by calls no longer on that number (their process died mid-way).

        Returns the numbers of the slots freed (one entry per slot)."""
        freed: list[str] = []
        cutoff = now - timedelta(seconds=grace_s)
        async for slot in self.slots.find({"call_id": {"$ne": None}, "taken_at": {"$lt": cutoff}}):
            call = await self.calls.find_one({"_id": slot["call_id"]}, {"state": 1, "spare": 1})
            on_it = (
                call is not None
                and call.get("state") in ("overflow_offering", "overflow_connected")
                and (call.get("spare") or {}).get("number") == slot["number"]
            )
            if not on_it:
                await self.give_back(slot["number"], slot["call_id"])
                freed.append(str(slot["number"]))
        return freed
