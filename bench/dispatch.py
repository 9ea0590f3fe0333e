"""Dispatch benchmark: latency to `connect`, sustained arrivals, and database round trips per call.

Run with `make bench` (or `.venv/bin/python bench/dispatch.py --help`). It starts its own
embedded SecantusDB (or uses MONGODB_URL), the backend in this process on a loopback port, and
a local peer playing the scenario's access URLs; sets up 10, 1,000 and 10,000 operators directly
in the database; measures; measures the same loops against a bare aiohttp endpoint and a bare
PyMongo loop (the floors); prints a table and writes it to var/bench/benchmarks.md (git-ignored:
docs/benchmarks.md is updated by hand, on purpose, from a run worth publishing).

Figures are printed, never asserted. All traffic goes to 127.0.0.1 (and MONGODB_URL if set).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from pymongo import AsyncMongoClient, monitoring  # noqa: E402
from pymongo.asynchronous.database import AsyncDatabase  # noqa: E402

from backend.adapters.documents import Doc, call_doc, operator_doc  # noqa: E402
from backend.adapters.embedded_db import EmbeddedMongo  # noqa: E402
from backend.adapters.mongo import INDEXES, connect  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.auth import TokenSigner, password_stamp  # noqa: E402
from backend.domain import calls as call_rules  # noqa: E402
from backend.domain.model import Address, Media, Presence, Skill, TargetType  # noqa: E402
from backend.domain.operators import new_operator  # noqa: E402
from backend.keys import ENGINE  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from backend.views.errors import error_middleware, read_json  # noqa: E402
from backend.views.schemas import CallIn, StatusIn  # noqa: E402

log = logging.getLogger("bench")
# Never a tracked file: a run must not rewrite the published figures as a side effect.
DEFAULT_OUT = ROOT / "var" / "bench" / "benchmarks.md"

PLATFORM_TOKEN = "bench-platform-token"
ADMIN_TOKEN = "bench-admin-token"
SECRET_KEY = "bench-secret-key"
PASSWORD_HASH = "bench$no-login"  # never verified: tokens are issued directly
GROUP = "default"
# Timers that keep the measurement about dispatch: no wrap-up, no presence loss.
BENCH_CONFIG = """
[routing]
wrap_up_s = 0
presence_grace_s = 86400
"""
CONCURRENCY = 8  # calls in flight at once in the throughput loops
RING_S = 0.05  # from `connect` to operator_connected; the peer hangs up at once after it
WAIT_S = 30.0  # the longest any single request or `connect` is waited for


@dataclass(frozen=True)
class Plan:
    """How much to measure at one size; every loop is bounded in count and in time."""

    operators: int
    waiting: int  # calls waiting while operators go Ready
    samples: int  # per latency loop
    phase_s: float  # the longest any latency loop runs
    window_s: float  # the throughput window


PLANS = {
    10: Plan(10, 5, 200, 40, 15),
    1_000: Plan(1_000, 500, 100, 45, 15),
    10_000: Plan(10_000, 5_000, 30, 50, 20),
}


# -- counting database commands ---------------------------------------------------------


class CommandCounter(monitoring.CommandListener):
    """Counts commands (and their server time) sent to one database while switched on."""

    def __init__(self) -> None:
        self.database = ""
        self.active = False
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self.unmatched: Counter[str] = Counter()  # updates that matched no document
        self.trace: list[str] | None = None  # every command in order, when tracing
        self._open: dict[tuple[Any, int], str] = {}

    def start(self, database: str, *, trace: bool = False) -> None:
        self.database, self.active = database, True
        self.counts.clear()
        self.micros.clear()
        self.unmatched.clear()
        self._open.clear()
        self.trace = [] if trace else None

    def stop(self) -> None:
        self.active = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.active or event.database_name != self.database:
            return
        name = event.command_name
        target = event.command.get("collection" if name == "getMore" else name)
        key = f"{name} {target}" if isinstance(target, str) else name
        self.counts[key] += 1
        self._open[(event.connection_id, event.request_id)] = key
        if self.trace is not None:
            self.trace.append(describe(name, target, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        key = self._done(event.connection_id, event.request_id, event.duration_micros)
        # A guarded update that matched nothing lost a race (or found the state moved on).
        if key is not None and event.command_name == "update" and event.reply.get("n") == 0:
            self.unmatched[key] += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event.connection_id, event.request_id, event.duration_micros)

    def _done(self, connection: Any, request_id: int, micros: int) -> str | None:
        key = self._open.pop((connection, request_id), None)
        if key is not None:
            self.micros[key] += micros
        return key


def describe(name: str, target: Any, command: Any) -> str:
    """One command as a line: what, where, and the shape of its filter (fields, not values)."""
    parts = [name, str(target) if isinstance(target, str) else ""]
    if name == "find":
        parts.append("{" + ", ".join(command.get("filter", {})) + "}")
        if sort := command.get("sort"):
            parts.append("sort " + ", ".join(sort))
        if limit := command.get("limit"):
            parts.append(f"limit {abs(limit)}")
    elif name in ("update", "delete"):
        key = "updates" if name == "update" else "deletes"
        for op in command.get(key, [])[:1]:
            parts.append("{" + ", ".join(op.get("q", {})) + "}")
            if name == "update":
                parts.append(" ".join(k for k in op.get("u", {}) if k.startswith("$")))
                if op.get("multi"):
                    parts.append("multi")
    elif name == "aggregate":
        stages = command.get("pipeline", [])
        parts.append("[" + ", ".join(next(iter(st), "") for st in stages) + "]")
    return " ".join(p for p in parts if p)


class SkippedSweeps(logging.Filter):
    """Counts (and keeps out of the output) APScheduler's "skipped: ... running" notices:
    a sweep that is still running when the next is due."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" in record.getMessage():
            self.count += 1
            return False
        return True


SKIPPED = SkippedSweeps()
COUNTER = CommandCounter()
# Registered before any client exists, so the backend's client reports to it too.
monitoring.register(COUNTER)


# -- the platform peer ---------------------------------------------------------------------


@dataclass
class Connect:
    at: float
    session_id: str
    call_id: str
    offer_id: str
    target: str


class Peer:
    """Plays the scenarios' access URLs: records each `connect`, answers {"ok": true}.

    In "recycle" mode it then reports operator_connected (after RING_S) and operator_hung_up,
    so the operator is idle again; in "hold" mode it reports nothing.
    """

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.backend_url = ""
        self.recycle = True
        self.base_url = ""
        self.connects: list[Connect] = []
        self.by_session: dict[str, asyncio.Future[Connect]] = {}
        self.by_target: dict[str, asyncio.Future[Connect]] = {}
        self.recycled: dict[str, asyncio.Future[None]] = {}
        self.failures = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/request/{sid}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        await self.settle(5)
        if self._runner is not None:
            await self._runner.cleanup()

    def access_url(self, session_id: str) -> str:
        return f"{self.base_url}/request/{session_id}"

    def expect_session(self, sid: str) -> asyncio.Future[Connect]:
        fut: asyncio.Future[Connect] = asyncio.get_running_loop().create_future()
        self.by_session[sid] = fut
        return fut

    def expect_target(self, address: str) -> asyncio.Future[Connect]:
        fut: asyncio.Future[Connect] = asyncio.get_running_loop().create_future()
        self.by_target[address] = fut
        return fut

    def expect_recycled(self, sid: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.recycled[sid] = fut
        return fut

    async def settle(self, limit_s: float) -> None:
        """Wait (at most limit_s) for the reports in flight, and those they set off."""
        end = time.perf_counter() + limit_s
        while self._tasks and (left := end - time.perf_counter()) > 0:
            await asyncio.wait(list(self._tasks), timeout=left)

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.perf_counter()
        sid = request.match_info["sid"]
        command = await request.json()
        if command.get("command") == "connect":
            seen = Connect(
                at, sid, command["call_id"], command["offer_id"], command["target"]["address"]
            )
            self.connects.append(seen)
            for waiters, key in ((self.by_session, sid), (self.by_target, seen.target)):
                fut = waiters.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(seen)
            if self.recycle:
                task = asyncio.create_task(self._recycle(seen))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return web.json_response({"ok": True})

    async def _recycle(self, c: Connect) -> None:
        # A short ring, so the backend has recorded the reply to `connect` (as it would
        # during a real ring of seconds) before the answer comes in.
        await asyncio.sleep(RING_S)
        await self._report(c.call_id, {"type": "operator_connected", "offer_id": c.offer_id})
        await self._report(c.call_id, {"type": "operator_hung_up"})
        fut = self.recycled.pop(c.session_id, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _report(self, call_id: str, event: Doc) -> None:
        url = f"{self.backend_url}/api/v1/calls/{call_id}/events"
        headers = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
        delay = 0.05
        for _ in range(6):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.http.post(url, json=event, headers=headers) as resp:
                    await resp.read()
                    if resp.status < 500:
                        return
            await asyncio.sleep(delay)
            delay *= 2
        self.failures += 1


# -- figures -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)  # seconds
    missed: int = 0

    @property
    def p50_ms(self) -> float | None:
        v = percentile(self.samples, 50)
        return None if v is None else v * 1000

    @property
    def p99_ms(self) -> float | None:
        v = percentile(self.samples, 99)
        return None if v is None else v * 1000


@dataclass
class Throughput:
    per_s: float = 0.0
    routed: int = 0  # completed inside the window
    window_s: float = 0.0
    completed: int = 0  # completed at all (the last ones finish after the window)


@dataclass
class SizeResult:
    plan: Plan
    arrival: Latency = field(default_factory=Latency)
    ready: Latency = field(default_factory=Latency)
    throughput: Throughput = field(default_factory=Throughput)
    commands: Counter[str] = field(default_factory=Counter)
    micros: Counter[str] = field(default_factory=Counter)
    unmatched: Counter[str] = field(default_factory=Counter)
    routed_total: int = 0
    db_arrival: Latency = field(default_factory=Latency)
    db_ready: Latency = field(default_factory=Latency)
    db_throughput: Throughput = field(default_factory=Throughput)
    db_ops_per_call: float | None = None
    setup_s: float = 0.0
    elapsed_s: float = 0.0
    sweeps_skipped: int = 0
    trace_call: list[str] = field(default_factory=list)  # one routed call's commands
    trace_ready: list[str] = field(default_factory=list)  # one Ready's, up to the reply

    @property
    def round_trips(self) -> float | None:
        if not self.routed_total:
            return None
        return sum(self.commands.values()) / self.routed_total


@dataclass
class HttpFloor:
    calls: Latency = field(default_factory=Latency)
    status: Latency = field(default_factory=Latency)
    throughput: Throughput = field(default_factory=Throughput)


# -- helpers ---------------------------------------------------------------------------------


def with_db(server_url: str, name: str) -> str:
    """The server URL with a database name in its path (query kept)."""
    base, _, query = server_url.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/")[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


def login_of(i: int) -> str:
    return f"op{i:05d}"


def call_body(sid: str, access_url: str) -> Doc:
    return {
        "session_id": sid,
        "access_url": access_url,
        "caller": "+15550000001",
        "destination": "+15559990000",
        "display_name": "Bench caller",
        "media": "voice",
        "custom_data": "",
        "headers": {},
    }


async def bounded_loop(
    samples: int, limit_s: float, one: Callable[[int], Awaitable[float | None]]
) -> Latency:
    """Run `one` sequentially up to `samples` times or `limit_s` seconds; None = missed."""
    out = Latency()
    started = time.perf_counter()
    for i in range(samples):
        if time.perf_counter() - started > limit_s:
            break
        value = await one(i)
        if value is None:
            out.missed += 1
        else:
            out.samples.append(value)
    return out


async def timed_workers(
    window_s: float, one: Callable[[], Awaitable[float | None]], concurrency: int = CONCURRENCY
) -> Throughput:
    """`concurrency` workers repeat `one` for `window_s`; counts completions inside the window.

    `one` returns the perf_counter time its unit completed (None: it failed).
    """
    started = time.perf_counter()
    end = started + window_s
    done: list[float] = []

    async def worker() -> None:
        while time.perf_counter() < end:
            at = await one()
            if at is not None:
                done.append(at)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    inside = sum(1 for t in done if t <= end)
    return Throughput(inside / window_s, inside, window_s, len(done))


async def create_indexes(db: AsyncDatabase[Doc]) -> None:
    for name, models in INDEXES.items():
        await db[name].create_indexes(models)


def operator_docs(n: int, now: datetime, presence: Presence) -> list[Doc]:
    docs = []
    for i in range(n):
        login = login_of(i)
        op = new_operator(
            login, Address(TargetType.USER, login), (Skill(GROUP, 1),), now - timedelta(hours=1)
        )
        # Distinct idle_since: the longest-idle order is total.
        op = replace(op, presence=presence, idle_since=now - timedelta(seconds=n - i))
        docs.append(
            {
                "_id": login,
                **operator_doc(op),
                "reason": "break" if presence is Presence.NOT_READY else None,
                "name": f"Operator {i}",
                "email": "",
                "role": "operator",
                "password_hash": PASSWORD_HASH,
                "rev": 0,
                "created_at": now,
                "updated_at": now,
                "last_seen": now,
            }
        )
    return docs


POLICY = load_settings(env={}).policy(GROUP)


def waiting_call_docs(n: int, now: datetime, peer: Peer) -> list[Doc]:
    """Queued calls as call_arrived writes them, oldest first; their look-again is far away."""
    policy = POLICY
    docs = []
    for i in range(n):
        at = now - timedelta(milliseconds=n - i)
        step = call_rules.new_call(uuid.uuid4().hex, GROUP, 50, Media.VOICE, at, policy)
        call = step.state
        assert call is not None
        sid = f"w{i}-{uuid.uuid4().hex[:8]}"
        docs.append(
            {
                "_id": call.call_id,
                **call_doc(call),
                "deadline": now + timedelta(hours=1),
                "session_id": sid,
                "access_url": peer.access_url(sid),
                "access_secure_url": None,
                "caller": "+15550000001",
                "destination": "+15559990000",
                "display_name": "Bench caller",
                "custom_data": "",
                "context": {},
                "headers": {},
                "log": [{"at": at, "kind": "arrived", "group": GROUP, "priority": 50}],
                "rev": 0,
                "updated_at": at,
            }
        )
    return docs


async def insert_chunked(coll: Any, docs: list[Doc], chunk: int = 1000) -> None:
    for i in range(0, len(docs), chunk):
        await coll.insert_many(docs[i : i + chunk], ordered=False)


NOT_READY: Doc = {
    "presence": "not_ready",
    "reason": "break",
    "activity": "idle",
    "activity_until": None,
    "offer_id": None,
    "call_id": None,
}


# -- Switchboard -------------------------------------------------------------------------


class Bench:
    def __init__(self, server_url: str, config_path: str) -> None:
        self.server_url = server_url
        self.config_path = config_path
        self.db_client: AsyncMongoClient[Doc] = connect(server_url)
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64),
            timeout=aiohttp.ClientTimeout(total=WAIT_S),
        )
        self.peer = Peer(self.http)
        self.signer = TokenSigner(SECRET_KEY)
        self.stamp = password_stamp(PASSWORD_HASH)
        self.plat = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}

    async def close(self) -> None:
        await self.peer.close()
        await self.http.close()
        await self.db_client.close()

    async def post_call(self, base: str, sid: str) -> int:
        body = call_body(sid, self.peer.access_url(sid))
        async with self.http.post(f"{base}/api/v1/calls", json=body, headers=self.plat) as r:
            await r.read()
            return r.status

    async def post_ready(self, base: str, login: str) -> int:
        token = self.signer.issue(login, self.stamp)
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.post(
            f"{base}/api/v1/me/status", json={"status": "ready"}, headers=headers
        ) as r:
            await r.read()
            return r.status

    # -- one size ----------------------------------------------------------------------

    async def run_size(self, plan: Plan) -> SizeResult:
        result = SizeResult(plan)
        started = time.perf_counter()
        SKIPPED.count = 0
        for part in ("switchboard", "floor"):
            # Each on a database of its own, set up the same way, so neither inherits the
            # other's churn.
            name = f"bench_{plan.operators}_{part}_{uuid.uuid4().hex[:6]}"
            db = self.db_client[name]
            try:
                t = time.perf_counter()
                await create_indexes(db)
                await insert_chunked(
                    db["operators"],
                    operator_docs(plan.operators, datetime.now(UTC), Presence.READY),
                )
                result.setup_s += time.perf_counter() - t
                if part == "switchboard":
                    await self.switchboard(plan, name, db, result)
                    result.sweeps_skipped = SKIPPED.count
                else:
                    await self.database_floor(plan, db, result)
            finally:
                await self.db_client.drop_database(name)
        result.elapsed_s = time.perf_counter() - started
        return result

    async def switchboard(
        self, plan: Plan, name: str, db: AsyncDatabase[Doc], result: SizeResult
    ) -> None:
        env = {
            "SWITCHBOARD_CONFIG": self.config_path,
            "MONGODB_URL": with_db(self.server_url, name),
            "PLATFORM_TOKEN": PLATFORM_TOKEN,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRET_KEY": SECRET_KEY,
        }
        app = create_app(load_settings(env=env))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            self.peer.backend_url = base
            engine = app[ENGINE]
            peer = self.peer

            # 1. Call arrival → connect, every operator Ready and idle (one call at a time,
            #    the next only once the last operator is idle again).
            peer.recycle = True

            async def arrival(i: int) -> float | None:
                sid = f"a{i}-{uuid.uuid4().hex[:8]}"
                got, back = peer.expect_session(sid), peer.expect_recycled(sid)
                t0 = time.perf_counter()
                status = await self.post_call(base, sid)
                try:
                    seen = await asyncio.wait_for(got, WAIT_S)
                    await asyncio.wait_for(back, WAIT_S)
                except TimeoutError:
                    return None
                return seen.at - t0 if status == 201 else None

            await bounded_loop(5, 30, arrival)  # warm-up
            result.arrival = await bounded_loop(plan.samples, plan.phase_s, arrival)
            log.info("  arrival latency: %d samples", len(result.arrival.samples))
            # One more call with every command traced, up to the operator idle again.
            await engine.drain()
            COUNTER.start(name, trace=True)
            await arrival(plan.samples)
            await engine.drain()
            COUNTER.stop()
            result.trace_call = list(COUNTER.trace or [])

            # 2. Sustained arrivals: CONCURRENCY calls in flight, operators recycling.
            await peer.settle(WAIT_S)
            await engine.drain()
            first = len(peer.connects)

            async def one_call() -> float | None:
                sid = f"t-{uuid.uuid4().hex[:12]}"
                got = peer.expect_session(sid)
                try:
                    await self.post_call(base, sid)
                    return (await asyncio.wait_for(got, WAIT_S)).at
                except (TimeoutError, aiohttp.ClientError):
                    peer.by_session.pop(sid, None)
                    return None

            COUNTER.start(name)
            result.throughput = await timed_workers(plan.window_s, one_call)
            await peer.settle(WAIT_S)
            await engine.drain()
            COUNTER.stop()
            result.routed_total = len(peer.connects) - first
            result.commands = Counter(COUNTER.counts)
            result.micros = Counter(COUNTER.micros)
            result.unmatched = Counter(COUNTER.unmatched)
            log.info("  throughput: %d routed", result.routed_total)

            # 3. Operator Ready → connect, calls waiting, every other operator Not ready.
            await db["operators"].update_many(
                {}, {"$set": {**NOT_READY, "idle_since": datetime.now(UTC)}, "$inc": {"rev": 1}}
            )
            await insert_chunked(
                db["calls"], waiting_call_docs(plan.waiting, datetime.now(UTC), peer)
            )
            peer.recycle = False

            async def ready(i: int) -> float | None:
                login = login_of(i % plan.operators)
                got = peer.expect_target(login)
                t0 = time.perf_counter()
                status = await self.post_ready(base, login)
                try:
                    seen = await asyncio.wait_for(got, WAIT_S)
                except TimeoutError:
                    peer.by_target.pop(login, None)
                    return None
                await engine.drain()
                COUNTER.stop()  # when tracing: what follows is the bench's, not the backend's
                # Put both back (not measured): the operator Not ready, the call at the tail.
                now = datetime.now(UTC)
                await db["operators"].update_one(
                    {"_id": login}, {"$set": NOT_READY, "$inc": {"rev": 1}}
                )
                await db["calls"].update_one(
                    {"_id": seen.call_id},
                    {
                        "$set": {
                            "state": "queued",
                            "offer": None,
                            "operator": None,
                            "enqueued_at": now,
                            "deadline": now + timedelta(hours=1),
                        },
                        "$inc": {"rev": 1},
                    },
                )
                return seen.at - t0 if status == 200 else None

            await bounded_loop(3, 30, ready)  # warm-up
            result.ready = await bounded_loop(plan.samples, plan.phase_s, ready)
            log.info("  ready latency: %d samples", len(result.ready.samples))
            await engine.drain()
            COUNTER.start(name, trace=True)
            await ready(plan.samples)
            COUNTER.stop()
            result.trace_ready = list(COUNTER.trace or [])
        finally:
            await runner.cleanup()

    # -- the PyMongo floor ---------------------------------------------------------------

    async def database_floor(self, plan: Plan, db: AsyncDatabase[Doc], result: SizeResult) -> None:
        """The database commands of a routed call, in the backend's order, with bare PyMongo.

        The sequence is the one the trace of a routed call shows (see the report), with the
        same filters, sorts and guarded updates; the state changes the same way (operators
        reserved, calls claimed, both released), on the same number of operators and waiting
        calls. Claims in one process run one at a time, as in the backend.
        """
        ops, calls, contacts = db["operators"], db["calls"], db["contacts"]
        claims = asyncio.Lock()
        route = {"group_names": GROUP, "presence": "ready", "activity": "idle"}
        longest_idle = [("idle_since", 1)]
        queue = [("priority", -1), ("enqueued_at", 1)]
        keys = ["phone:+15550000001"]
        manager = {"_id": {"$in": keys}, "manager": {"$type": "string"}}

        async def waiting_for(login: str) -> list[Doc]:
            """Calls waiting for this operator, then calls waiting for anyone of the group."""
            mine = {"state": "queued", "preferred": login}
            await calls.find(mine).sort(queue).limit(8).to_list(None)
            anyone = {"state": "queued", "preferred": "", "group": {"$in": [GROUP]}}
            return await calls.find(anyone).sort(queue).limit(8).to_list(None)

        async def reserve(op: Doc, call_id: str, now: datetime) -> str:
            offer_id = uuid.uuid4().hex
            await ops.update_one(
                {"_id": op["_id"], "rev": op["rev"]},
                {
                    "$set": {
                        "activity": "offered",
                        "activity_since": now,
                        "activity_until": now + timedelta(seconds=30),
                        "offer_id": offer_id,
                        "call_id": call_id,
                        "stats": op["stats"],
                        "rev": op["rev"] + 1,
                        "updated_at": now,
                    }
                },
            )
            return offer_id

        async def claim(call: Doc, op: Doc, offer_id: str, now: datetime) -> None:
            offer = {
                "offer_id": offer_id,
                "operator": op["_id"],
                "target": op["address"],
                "created_at": now,
                "expires_at": now + timedelta(seconds=30),
                "sent_at": None,
            }
            await calls.update_one(
                {"_id": call["_id"], "rev": call["rev"]},
                {
                    "$set": {
                        "state": "offering",
                        "offer": offer,
                        "attempts": call["attempts"] + 1,
                        "deadline": now + timedelta(seconds=30),
                        "rev": call["rev"] + 1,
                        "updated_at": now,
                    },
                    "$push": {
                        "log": {
                            "$each": [
                                {"at": now, "kind": "offer", "offer_id": offer_id},
                                {"at": now, "kind": "state", "from": "queued", "to": "offering"},
                            ],
                            "$slice": -200,
                        }
                    },
                },
            )

        async def call_step(call_id: str, fields: Doc) -> None:
            doc = await calls.find_one({"_id": call_id})
            assert doc is not None
            fields = {**fields, "rev": doc["rev"] + 1, "updated_at": datetime.now(UTC)}
            await calls.update_one(
                {"_id": call_id, "rev": doc["rev"]},
                {"$set": fields, "$push": {"log": {"$each": [{"kind": "event"}], "$slice": -200}}},
            )

        async def operator_step(login: str, fields: Doc) -> None:
            doc = await ops.find_one({"_id": login})
            assert doc is not None
            fields = {**fields, "rev": doc["rev"] + 1, "updated_at": datetime.now(UTC)}
            await ops.update_one({"_id": login, "rev": doc["rev"]}, {"$set": fields})

        async def arrive() -> tuple[str, Doc, str] | None:
            """POST /calls up to `connect` sent: insert, find the operator, reserve, claim."""
            now = datetime.now(UTC)
            step = call_rules.new_call(uuid.uuid4().hex, GROUP, 50, Media.VOICE, now, POLICY)
            call = step.state
            assert call is not None
            sid = uuid.uuid4().hex
            doc = {
                "_id": call.call_id,
                **call_doc(call),
                **call_body(sid, self.peer.access_url(sid)),
                "access_secure_url": None,
                "context": {},
                "log": [{"at": now, "kind": "arrived"}],
                "rev": 0,
                "updated_at": now,
            }
            await contacts.find(manager, {"manager": 1}).to_list(None)  # "your manager"?
            await calls.insert_one(doc)
            give_up = time.perf_counter() + WAIT_S
            while True:
                async with claims:
                    found = await ops.find(route).sort(longest_idle).limit(8).to_list(None)
                    if found:
                        op = found[0]
                        offer_id = await reserve(op, call.call_id, now)
                        await claim(doc, op, offer_id, now)
                        return call.call_id, op, offer_id
                if time.perf_counter() > give_up:
                    return None
                # Every operator busy: the backend would queue the call; here, look again.
                await asyncio.sleep(0.002)

        async def finish(call_id: str, op: Doc, offer_id: str) -> None:
            """The rest of the call, as the backend does it after `connect`."""
            login = op["_id"]
            await calls.find_one({"_id": call_id})  # the reply to POST /calls
            sent = {"offer": {"offer_id": offer_id, "sent_at": datetime.now(UTC)}}
            await call_step(call_id, sent)  # connect acknowledged
            await call_step(call_id, {"state": "connected"})  # operator_connected
            await operator_step(login, {"activity": "in_call", "offer_id": None})
            await call_step(call_id, {"state": "ended", "outcome": "answered"})  # hung up
            await operator_step(
                login, {"activity": "idle", "call_id": None, "idle_since": datetime.now(UTC)}
            )
            await waiting_for(login)  # the idle operator looks for waiting calls
            await calls.find_one({"_id": call_id})  # the ended call's contact ...
            await contacts.find(manager, {"manager": 1}).to_list(None)
            await ops.find_one({"_id": login})
            await calls.update_one({"_id": call_id}, {"$set": {"manager_checked": True}})

        # 1. Call arrival → connect with every operator Ready; then the rest of the call.
        async def arrival(i: int) -> float | None:
            t0 = time.perf_counter()
            got = await arrive()
            took = time.perf_counter() - t0
            if got is None:
                return None
            await finish(*got)
            return took

        await bounded_loop(5, 30, arrival)  # warm-up, as for Switchboard
        result.db_arrival = await bounded_loop(plan.samples, plan.phase_s, arrival)

        # 2. Sustained arrivals: CONCURRENCY in flight; the rest of each call in the background.
        tails: set[asyncio.Task[None]] = set()

        async def one_call() -> float | None:
            got = await arrive()
            if got is None:
                return None
            at = time.perf_counter()
            task = asyncio.create_task(finish(*got))
            tails.add(task)
            task.add_done_callback(tails.discard)
            return at

        COUNTER.start(db.name)
        result.db_throughput = await timed_workers(plan.window_s, one_call)
        if tails:
            await asyncio.wait(list(tails), timeout=WAIT_S)
        COUNTER.stop()
        done = result.db_throughput.completed
        result.db_ops_per_call = sum(COUNTER.counts.values()) / done if done else None

        # 3. Operator Ready → connect, the same calls waiting, every other operator Not ready.
        await ops.update_many(
            {}, {"$set": {**NOT_READY, "idle_since": datetime.now(UTC)}, "$inc": {"rev": 1}}
        )
        await insert_chunked(calls, waiting_call_docs(plan.waiting, datetime.now(UTC), self.peer))

        async def ready(i: int) -> float | None:
            login = login_of(i % plan.operators)
            t0 = time.perf_counter()
            now = datetime.now(UTC)
            await ops.find_one({"_id": login})  # the token's operator
            await ops.update_many({"_id": {"$in": [login]}}, {"$set": {"last_seen": now}})
            op = await ops.find_one({"_id": login})
            assert op is not None
            await ops.update_one(
                {"_id": login, "rev": op["rev"]},
                {"$set": {"presence": "ready", "reason": None, "rev": op["rev"] + 1}},
            )
            op["rev"] += 1
            queued = await waiting_for(login)
            if not queued:
                return None
            offer_id = await reserve(op, queued[0]["_id"], now)
            await claim(queued[0], op, offer_id, now)
            took = time.perf_counter() - t0
            # Put both back (not measured), as in the Switchboard loop.
            await ops.update_one({"_id": login}, {"$set": NOT_READY, "$inc": {"rev": 1}})
            await calls.update_one(
                {"_id": queued[0]["_id"]},
                {
                    "$set": {"state": "queued", "offer": None, "enqueued_at": datetime.now(UTC)},
                    "$inc": {"rev": 1},
                },
            )
            return took

        await bounded_loop(3, 30, ready)  # warm-up
        result.db_ready = await bounded_loop(plan.samples, plan.phase_s, ready)

    # -- the aiohttp floor ---------------------------------------------------------------

    async def http_floor(self, samples: int, window_s: float) -> HttpFloor:
        """The same requests against handlers that only validate the JSON and answer."""

        async def calls(request: web.Request) -> web.Response:
            body = await read_json(request, CallIn)
            return web.json_response(
                {"call_id": uuid.uuid4().hex, "state": "offering", "session": body.session_id},
                status=201,
            )

        async def status(request: web.Request) -> web.Response:
            body = await read_json(request, StatusIn)
            return web.json_response({"presence": body.status, "activity": "idle"})

        app = web.Application(client_max_size=64 * 1024, middlewares=[error_middleware])
        app.router.add_post("/api/v1/calls", calls)
        app.router.add_post("/api/v1/me/status", status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        floor = HttpFloor()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"

            async def call_once(i: int) -> float | None:
                t0 = time.perf_counter()
                ok = await self.post_call(base, f"f{i}") == 201
                return time.perf_counter() - t0 if ok else None

            async def ready_once(i: int) -> float | None:
                t0 = time.perf_counter()
                ok = await self.post_ready(base, login_of(i)) == 200
                return time.perf_counter() - t0 if ok else None

            async def call_done() -> float | None:
                ok = await self.post_call(base, uuid.uuid4().hex) == 201
                return time.perf_counter() if ok else None

            await bounded_loop(20, 10, call_once)  # warm-up
            floor.calls = await bounded_loop(samples, 30, call_once)
            floor.status = await bounded_loop(samples, 30, ready_once)
            floor.throughput = await timed_workers(window_s, call_done)
        finally:
            await runner.cleanup()
        return floor


# -- the report ------------------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and whether the backend had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "backend", "config"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes in backend/ or config/" if dirty else "")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@dataclass
class Machine:
    date: str
    nproc: int
    cpu: str
    python: str
    database: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    elapsed_s: float = 0.0
    commit: str = ""


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(cost: float | None, floor: float | None) -> str:
    if cost is None or floor is None or floor <= 0:
        return "—"
    return f"{cost / floor:,.1f}x"


def per_call_s(t: Throughput) -> float | None:
    return 1 / t.per_s if t.per_s > 0 else None


def figure_rows(results: list[SizeResult], http: HttpFloor) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in results:
        n = f"{r.plan.operators:,}"
        ms = [
            (
                "call arrival → connect, p50 ms",
                r.arrival.p50_ms,
                http.calls.p50_ms,
                r.db_arrival.p50_ms,
            ),
            (
                "call arrival → connect, p99 ms",
                r.arrival.p99_ms,
                http.calls.p99_ms,
                r.db_arrival.p99_ms,
            ),
            (
                f"Ready → connect ({r.plan.waiting:,} waiting), p50 ms",
                r.ready.p50_ms,
                http.status.p50_ms,
                r.db_ready.p50_ms,
            ),
            (
                f"Ready → connect ({r.plan.waiting:,} waiting), p99 ms",
                r.ready.p99_ms,
                http.status.p99_ms,
                r.db_ready.p99_ms,
            ),
        ]
        for label, sb, hf, dbf in ms:
            rows.append([label, n, fmt(sb), fmt(hf, 2), ratio(sb, hf), fmt(dbf, 2), ratio(sb, dbf)])
        sb_s, h_s, d_s = (
            per_call_s(r.throughput),
            per_call_s(http.throughput),
            per_call_s(r.db_throughput),
        )
        rows.append(
            [
                f"calls routed per s ({CONCURRENCY} in flight)",
                n,
                fmt(r.throughput.per_s),
                fmt(http.throughput.per_s),
                ratio(sb_s, h_s),
                fmt(r.db_throughput.per_s),
                ratio(sb_s, d_s),
            ]
        )
        rows.append(
            [
                "DB round trips per routed call",
                n,
                fmt(r.round_trips),
                "—",
                "—",
                fmt(r.db_ops_per_call),
                ratio(r.round_trips, r.db_ops_per_call),
            ]
        )
    return rows


FIGURE_HEAD = [
    "figure",
    "operators",
    "Switchboard",
    "aiohttp floor",
    "x aiohttp",
    "PyMongo floor",
    "x PyMongo",
]


def breakdown_rows(results: list[SizeResult]) -> tuple[list[str], list[list[str]]]:
    head = ["command collection"]
    for r in results:
        head += [f"per call @{r.plan.operators:,}", f"DB ms/call @{r.plan.operators:,}"]
    keys = sorted(
        {k for r in results for k in r.commands},
        key=lambda k: -sum(r.commands[k] / max(r.routed_total, 1) for r in results),
    )
    rows = []
    for k in keys:
        row = [k]
        for r in results:
            calls = max(r.routed_total, 1)
            row += [f"{r.commands[k] / calls:.2f}", f"{r.micros[k] / 1000 / calls:.1f}"]
        rows.append(row)
        if any(r.unmatched[k] for r in results):
            row = ["  of which matched nothing"]
            for r in results:
                row += [f"{r.unmatched[k] / max(r.routed_total, 1):.2f}", ""]
            rows.append(row)
    total = ["total"]
    for r in results:
        calls = max(r.routed_total, 1)
        total += [
            f"{sum(r.commands.values()) / calls:.2f}",
            f"{sum(r.micros.values()) / 1000 / calls:.1f}",
        ]
    rows.append(total)
    return head, rows


def text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def md_table(head: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(head) - 1)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_lines(m: Machine) -> list[str]:
    la, lb = m.load_before, m.load_after
    return [
        f"date: {m.date}",
        f"machine: {m.nproc} CPUs (nproc), {m.cpu}; Python {m.python}; "
        f"aiohttp {version_of('aiohttp')}; PyMongo {version_of('pymongo')}",
        f"code: {m.commit}",
        f"database: {m.database}",
        f"load average (1/5/15 min) before: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; "
        f"after: {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f}",
        f"run took {m.elapsed_s / 60:.1f} min",
    ]


def sample_lines(results: list[SizeResult], http: HttpFloor) -> list[str]:
    out = [
        f"aiohttp floor: {len(http.calls.samples)} + {len(http.status.samples)} sequential "
        f"requests, {http.throughput.routed} requests in {http.throughput.window_s:.0f} s",
    ]
    for r in results:
        out.append(
            f"{r.plan.operators:,} operators: {len(r.arrival.samples)} arrivals "
            f"({r.arrival.missed} missed), {len(r.ready.samples)} Ready ({r.ready.missed} "
            f"missed), {r.throughput.routed} calls routed in {r.throughput.window_s:.0f} s "
            f"({r.routed_total} with the drain); PyMongo floor {len(r.db_arrival.samples)} "
            f"arrivals ({r.db_arrival.missed} missed), {len(r.db_ready.samples)} Ready "
            f"({r.db_ready.missed} missed), {r.db_throughput.routed} calls in "
            f"{r.db_throughput.window_s:.0f} s; set-up {r.setup_s:.1f} s, size took "
            f"{r.elapsed_s:.0f} s; sweeps skipped because the previous one was still running: "
            f"{r.sweeps_skipped}"
        )
    return out


EXPLANATION = """\
What the numbers mean:

- Latency is measured in one process, from just before the client sends the request
  (POST /api/v1/calls, or POST /api/v1/me/status with "ready") to the moment the local peer
  playing the scenario's access URL receives the `connect` command. The bench client, the
  backend and the peer share one event loop; the database is a separate process. Latency loops
  run one request at a time; the throughput loop keeps {concurrency} calls in flight, and the
  peer answers each `connect` and reports operator_connected and operator_hung_up (wrap-up 0),
  so operators come back to idle and take the next call.
- "DB round trips per routed call" counts every command the backend's PyMongo client sent
  during the throughput loop (command monitoring), including the status-history batches and
  the periodic sweep, divided by the calls routed; the breakdown shows them by command and
  collection with the time PyMongo waited for each (which includes queueing in the
  single-process server while other commands run). "Matched nothing" counts guarded updates
  that found the document already moved on. The traces list the commands of one call and
  of one Ready with nothing else going on; the throughput loop needs more per call because
  concurrent work races (see the observations).
- The aiohttp floor is the same request loop against handlers that only validate the same
  JSON and answer a small JSON; the PyMongo floor is a bare PyMongo loop doing the database
  commands of the traced call (and Ready) in the backend's order, with the same filters,
  sorts and guarded updates, on a database of its own set up like Switchboard's (same
  indexes, operators and waiting calls, the same phases in the same order). "x" is
  Switchboard's cost divided by the floor's (latency, or seconds per call for throughput):
  1.0x would be as fast as the floor.
- The embedded SecantusDB is a pure-Python, single-process server whose query executor fetches
  every index-matching document and sorts in Python (there is no streaming LIMIT over an index
  walk). Finding the longest-idle routable operator therefore reads all Ready idle operators,
  and finding the oldest waiting call reads all waiting calls: the figures at 10,000 operators
  (and 5,000 waiting calls) reflect that, for Switchboard and for the PyMongo floor alike. With
  MongoDB (set MONGODB_URL) the same compound indexes make these queries O(log n) and the
  figures should stay close to the 10-operator ones; they have not been measured here.
- The machine has {nproc} cores shared with other work while this ran (see the load average),
  so every figure is noisy: differences under roughly 20 % between runs mean nothing, and at
  10,000 operators p99 over {samples} samples is the maximum.
"""


def observations(results: list[SizeResult]) -> list[str]:
    """What the breakdown says, computed: where the database time of a routed call goes."""
    out = []
    for r in results:
        if r.db_arrival.missed or r.db_ready.missed:
            out.append(
                f"At {r.plan.operators:,} operators the PyMongo floor missed samples: its "
                "replayed commands no longer match what the backend does (compare the traces)."
            )
        total = sum(r.micros.values())
        if not total or not r.routed_total:
            continue
        key, micros = max(r.micros.items(), key=lambda kv: kv[1])
        lost = sum(r.unmatched.values()) / r.routed_total
        trace = len(r.trace_call) if r is results[0] else 0
        out.append(
            f"At {r.plan.operators:,} operators the most database time per routed call goes to "
            f"`{key}` ({micros / total:.0%} of {total / 1000 / r.routed_total:,.0f} ms); "
            f"{lost:.2f} guarded updates per call matched nothing"
            + (f"; a call alone needs {trace} commands" if trace else "")
            + "."
        )
    return out


def trace_lines(results: list[SizeResult], indent: str) -> list[str]:
    """The commands of one routed call and of one Ready, in order (smallest size)."""
    if not results:
        return []
    r = results[0]
    n = f"{r.plan.operators:,}"
    out = [f"Commands of one routed call at {n} operators, arrival to the operator idle again:"]
    out += ["", *(f"{indent}{i:2d}. {c}" for i, c in enumerate(r.trace_call, 1)), ""]
    out += [f"Commands of one operator Ready at {n} operators, with calls waiting:"]
    out += ["", *(f"{indent}{i:2d}. {c}" for i, c in enumerate(r.trace_ready, 1))]
    return out


def report(results: list[SizeResult], http: HttpFloor, m: Machine) -> tuple[str, str]:
    figures = text_table(FIGURE_HEAD, figure_rows(results, http))
    b_head, b_rows = breakdown_rows(results)
    breakdown = text_table(b_head, b_rows)
    text = "\n".join(
        [
            "Switchboard dispatch benchmark",
            *machine_lines(m),
            "",
            figures,
            "",
            "Database commands per routed call in the throughput loop (count, server time):",
            breakdown,
            "",
            *sample_lines(results, http),
            "",
            *observations(results),
            "",
            *trace_lines(results, "  "),
        ]
    )
    samples = min((r.plan.samples for r in results), default=0)
    md = "\n".join(
        [
            "# Benchmarks",
            "",
            "Dispatch latency, sustained arrivals and database round trips, with the framework "
            "and database floors measured in the same run.",
            "",
            "How to reproduce: `make bench` (about 10 minutes here; `MONGODB_URL=... make bench` "
            "runs it against a MongoDB server instead of the embedded SecantusDB). "
            "The bench writes this file.",
            "",
            *(f"- {line}" for line in machine_lines(m)),
            "",
            md_table(FIGURE_HEAD, figure_rows(results, http)),
            "",
            "Database commands per routed call in the throughput loop (count per call, and "
            "server time per call as PyMongo's command monitoring saw it):",
            "",
            md_table(b_head, b_rows),
            "",
            "Samples:",
            "",
            *(f"- {line}" for line in sample_lines(results, http)),
            "",
            "Observations (computed from this run):",
            "",
            *(f"- {line}" for line in observations(results)),
            "",
            *trace_lines(results, "    "),
            "",
            EXPLANATION.format(concurrency=CONCURRENCY, nproc=m.nproc, samples=samples),
        ]
    )
    return text, md


# -- main ------------------------------------------------------------------------------------


async def server_version(url: str) -> str:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        info = await client.admin.command("buildInfo")
        return str(info.get("version", "?"))
    finally:
        await client.close()


async def run(args: argparse.Namespace, server_url: str, config_path: str, machine: Machine) -> str:
    bench = Bench(server_url, config_path)
    try:
        await bench.peer.start()
        wire = await server_version(server_url)
        machine.database += f" (reports server version {wire})"
        log.info("aiohttp floor")
        http = await bench.http_floor(300, 5)
        results = []
        for n in args.sizes:
            plan = PLANS.get(n) or Plan(n, max(1, n // 2), 100, 60, 15)
            log.info("%s operators", f"{n:,}")
            results.append(await bench.run_size(plan))
    finally:
        await bench.close()
    machine.load_after = os.getloadavg()
    machine.elapsed_s = time.perf_counter() - START
    text, md = report(results, http, machine)
    print(text)
    return md


START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10, 1_000, 10_000],
        help="operator counts, comma-separated (default 10,1000,10000)",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="where to write the Markdown report ('' for nowhere; default var/bench/)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(SKIPPED)

    machine = Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        nproc=os.cpu_count() or 0,
        cpu=cpu_model(),
        python=platform.python_version(),
        database="",
        load_before=os.getloadavg(),
        commit=code_version(),
    )
    server: EmbeddedMongo | None = None
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        config_path = Path(tmp) / "bench.toml"
        config_path.write_text(BENCH_CONFIG)
        if url := os.environ.get("MONGODB_URL"):
            machine.database = "MongoDB at MONGODB_URL"
        else:
            server = EmbeddedMongo(Path(tmp) / "data", log_path=Path(tmp) / "secantus.log")
            url = server.start()
            machine.database = (
                f"embedded SecantusDB {version_of('SecantusDB')} (one pure-Python process)"
            )
        try:
            md = asyncio.run(run(args, url, str(config_path), machine))
        finally:
            if server is not None:
                server.stop()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(md + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
