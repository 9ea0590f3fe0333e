"""Logging in without help for guessers: scrypt off the event loop in a bounded pool, growing
delays per login and per client address, and the same work for unknown and known logins."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from backend.adapters.documents import Doc
from backend.auth import hash_password, verify_password
from backend.clock import utcnow

# scrypt takes ~40 ms of one core; two threads leave the event loop a core on a 2-core machine.
HASH_THREADS = 2
# Hashes waiting for a thread beyond this are refused (503 busy) rather than queued for ever.
HASH_QUEUE = 64
# The hash an unknown login is checked against, so that it costs what a known one does.
_DUMMY_HASH = hash_password("switchboard: no such operator")


class HasherBusy(Exception):
    """Too many passwords are being hashed already: try again shortly."""


class PasswordHasher:
    """scrypt in a small thread pool (hashlib releases the GIL), never on the event loop."""

    def __init__(self, threads: int = HASH_THREADS, queue: int = HASH_QUEUE) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scrypt")
        self._slots = asyncio.Semaphore(threads + queue)
        self._limit = threads + queue

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._slots.locked():
            raise HasherBusy(f"more than {self._limit} log-ins at once")
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        result: str = await self._run(hash_password, password)
        return result

    async def verify(self, password: str, stored: str | None) -> bool:
        """Whether the password matches; an operator without a hash costs the same and fails."""
        if not stored:
            await self._run(verify_password, password, _DUMMY_HASH)
            return False
        ok: bool = await self._run(verify_password, password, stored)
        return ok

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class Limit:
    free: int  # attempts without delay
    base_s: float  # the first delay; it doubles with every attempt after that
    cap_s: float  # the longest delay
    forget_s: float  # a key without attempts for this long starts again from zero

    def delay_s(self, attempts: int) -> float:
        """How long to wait after `attempts` attempts before the next one is tried."""
        if attempts < self.free:
            return 0.0
        return float(min(self.cap_s, self.base_s * 2 ** (attempts - self.free)))


# An operator who mistypes three times waits 1 s, then 2, 4, … up to 15 minutes; an address
# (an office behind one NAT) gets more free attempts before the same growth.
PER_LOGIN = Limit(free=3, base_s=1.0, cap_s=900.0, forget_s=3600.0)
PER_ADDRESS = Limit(free=20, base_s=1.0, cap_s=900.0, forget_s=3600.0)


class Throttled(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed log-ins: try again in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


class LoginThrottle:
    """Attempts per login and per client address, in the database (shared by every process).

    On a login, an attempt is counted before its password is checked (compare-and-set on the
    count), so concurrent guesses at one login are throttled as surely as sequential ones; a
    successful log-in clears it. On an address, failures are counted (so that a room of
    operators logging in at once is never held up); guesses across many logins at once are
    bounded by the hashing pool's queue until their failures are counted.
    """

    def __init__(self, db: AsyncDatabase[Doc], clock: Callable[[], datetime] = utcnow) -> None:
        self.coll = db["login_attempts"]
        self.clock = clock

    @staticmethod
    def keys(login: str, address: str) -> list[tuple[str, Limit]]:
        return [(f"login:{login.lower()}", PER_LOGIN), (f"addr:{address}", PER_ADDRESS)]

    async def attempt(self, login: str, address: str) -> None:
        """Count one attempt on the login, or raise Throttled without counting it."""
        now = self.clock()
        keys = self.keys(login, address)
        docs = {
            d["_id"]: d
            for d in await self.coll.find({"_id": {"$in": [k for k, _ in keys]}}).to_list(None)
        }
        waits = [self._wait(docs.get(key), now) for key, _ in keys]
        if max(waits) > 0:
            raise Throttled(max(waits))
        login_key, limit = keys[0]
        await self._count(login_key, limit, docs.get(login_key), now)

    async def failed(self, login: str, address: str) -> None:
        """A wrong password: count it against the address."""
        address_key, limit = self.keys(login, address)[1]
        now = self.clock()
        await self._count(
            address_key, limit, await self.coll.find_one({"_id": address_key}), now, check=False
        )

    def _wait(self, doc: Doc | None, now: datetime) -> float:
        if doc is None or self._forgotten(doc, now):
            return 0.0
        return max(0.0, float((doc["next_at"] - now).total_seconds()))

    @staticmethod
    def _forgotten(doc: Doc, now: datetime) -> bool:
        return bool((now - doc["last_at"]).total_seconds() > doc.get("forget_s", 3600.0))

    async def _count(
        self, key: str, limit: Limit, doc: Doc | None, now: datetime, *, check: bool = True
    ) -> None:
        for _ in range(50):
            count = 0 if doc is None or self._forgotten(doc, now) else int(doc["attempts"])
            if check and doc is not None and count and self._wait(doc, now) > 0:
                raise Throttled(self._wait(doc, now))
            fields = {
                "attempts": count + 1,
                "last_at": now,
                "next_at": now + timedelta(seconds=limit.delay_s(count + 1)),
                "forget_s": limit.forget_s,
                # The TTL index removes the document when it would be forgotten anyway.
                "expire_at": now + timedelta(seconds=limit.forget_s),
            }
            if doc is None:
                try:
                    await self.coll.insert_one({"_id": key, **fields})
                    return
                except DuplicateKeyError:
                    pass
            else:
                guard = {"_id": key, "attempts": doc["attempts"], "last_at": doc["last_at"]}
                if (await self.coll.update_one(guard, {"$set": fields})).modified_count:
                    return
            doc = await self.coll.find_one({"_id": key})
        raise Throttled(1.0)  # this key changes faster than we can count: treat as busy

    async def succeeded(self, login: str, address: str) -> None:
        login_key, _ = self.keys(login, address)[0]
        await self.coll.delete_one({"_id": login_key})
