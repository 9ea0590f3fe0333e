"""Dispatch benchmark: latency to `connect`, sustained arrivals, and database round trips per call.

Run with `make bench` (or `.venv/bin/python bench/dispatch.py --help`). It starts its own
embedded SecantusDB (or uses MONGODB_URL), the backend in this process on a loopback port, and
a local peer playing the scenario's access URLs; sets up 10, 1,000 and 10,000 operators directly
in the database (and, at 10,000, 100,000 ended calls); measures, also with a desk WebSocket open
for every operator; measures the same loops against a bare aiohttp endpoint and a bare PyMongo
loop (the floors); prints issue 14's targets and a table, and writes the report to
var/bench/benchmarks.md (docs/benchmarks.md is a copy of a recorded run, made by hand).

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
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
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
from pymongo.errors import BulkWriteError  # noqa: E402

from backend.adapters.change_feed import ChangeFeed  # noqa: E402
from backend.adapters.documents import Doc, call_doc, operator_doc  # noqa: E402
from backend.adapters.embedded_db import EmbeddedMongo  # noqa: E402
from backend.adapters.mongo import INDEXES, connect  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.auth import TokenSigner, password_stamp  # noqa: E402
from backend.domain import calls as call_rules  # noqa: E402
from backend.domain.model import (  # noqa: E402
    Address,
    CallState,
    Media,
    Outcome,
    Party,
    Presence,
    Skill,
    TargetType,
)
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
    stored: int = 0  # ended calls in the database before anything is measured
    sockets: bool = False  # measure again with a desk WebSocket open for every operator


PLANS = {
    10: Plan(10, 5, 200, 40, 15, sockets=True),
    1_000: Plan(1_000, 500, 100, 45, 15, sockets=True),
    10_000: Plan(10_000, 5_000, 60, 45, 20, stored=100_000),
}
STORED_CHUNK = 2_000  # ended calls per insert_many
SOCKET_SAMPLES = 100  # calls one at a time with the sockets open (at most)
SOCKET_WINDOW_S = 10.0  # the throughput window with the sockets open
# Issue 14's targets.
TARGET_COMMANDS = 7.0  # per routed call, without the change stream's getMore
TARGET_COMMANDS_ALL = 10.0  # the same, with it
TARGET_FLAT = 1.5  # p50 at 10,000 operators / p50 at 10
TARGET_ARRIVAL_MS = 10.0  # arrival → connect p50 at 10 operators
TARGET_THROUGHPUT = 0.8  # calls per second at 10,000 / at 10
SOCKETS_SAME = 0.5  # "unchanged": within this many commands per call


# -- counting database commands ---------------------------------------------------------


class CommandCounter(monitoring.CommandListener):
    """Counts commands (and their server time) sent to one database while switched on."""

    def __init__(self) -> None:
        self.database = ""
        self.active = False
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self.longest: Counter[str] = Counter()  # the slowest single command of each kind
        self.unmatched: Counter[str] = Counter()  # updates that matched no document
        self.trace: list[str] | None = None  # every command in order, when tracing
        self._open: dict[tuple[Any, int], str] = {}

    def start(self, database: str, *, trace: bool = False) -> None:
        self.database, self.active = database, True
        self.counts.clear()
        self.micros.clear()
        self.longest.clear()
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
        if name == "update" and any(u.get("multi") for u in event.command.get("updates", [])):
            key += " (multi)"  # update_many: the heartbeat and the presence touch
        self.counts[key] += 1
        self._open[(event.connection_id, event.request_id)] = key
        if self.trace is not None:
            self.trace.append(describe(name, target, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        key = self._done(event.connection_id, event.request_id, event.duration_micros)
        if key is not None and event.command_name == "getMore":
            # What woke the stream: changes, or nothing it follows (the embedded server wakes
            # a change stream's getMore on any write, and after the 500 ms wait).
            batch = (event.reply.get("cursor") or {}).get("nextBatch")
            if isinstance(batch, list) and not batch:
                waited = event.duration_micros >= GETMORE_WAIT_US
                self.counts[key] -= 1
                self.counts[f"{key} (empty: {'wait ran out' if waited else 'other write'})"] += 1
        # A guarded update that matched nothing lost a race (or found the state moved on).
        if key is not None and event.command_name == "update" and event.reply.get("n") == 0:
            self.unmatched[key] += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event.connection_id, event.request_id, event.duration_micros)

    def _done(self, connection: Any, request_id: int, micros: int) -> str | None:
        key = self._open.pop((connection, request_id), None)
        if key is not None:
            self.micros[key] += micros
            self.longest[key] = max(self.longest[key], micros)
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
                # The operators and the fields: enough to tell which transition wrote it.
                for k, v in op.get("u", {}).items():
                    if k.startswith("$"):
                        fields = [f for f in v if f not in ("rev", "updated_at")]
                        shown = ", ".join(fields[:6]) + (", …" if len(fields) > 6 else "")
                        parts.append(f"{k} {shown}" if shown else k)
                if op.get("multi"):
                    parts.append("multi")
    elif name == "aggregate":
        stages = command.get("pipeline", [])
        parts.append("[" + ", ".join(next(iter(st), "") for st in stages) + "]")
    return " ".join(p for p in parts if p)


# A getMore that took this long ran out its wait (max_await_time_ms 500) rather than being woken.
GETMORE_WAIT_US = 450_000


def getmores(count: Count) -> str:
    """The change stream's getMores per call: with changes / empty after a write the stream
    does not follow / empty after the wait ran out."""
    if not count.calls:
        return "—"
    kinds = [0.0, 0.0, 0.0]
    for k, v in count.commands.items():
        if is_getmore(k):
            kinds[2 if "wait ran out" in k else 1 if "other write" in k else 0] += v
    return " / ".join(f"{x / count.calls:.2f}" for x in kinds) + (
        f" ({count.seconds / count.calls * 1000:,.0f} ms per call)" if count.seconds else ""
    )


def is_getmore(key: str) -> bool:
    """The change stream's getMore (the backend runs no other cursor past its first batch)."""
    return key.startswith("getMore")


@dataclass
class Count:
    """Commands counted over some routed calls."""

    commands: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    seconds: float = 0.0  # how long the counting ran

    def per_call(self, *, getmore: bool) -> float | None:
        if not self.calls:
            return None
        total = sum(v for k, v in self.commands.items() if getmore or not is_getmore(k))
        return total / self.calls


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
    # Commands of the arrival latency loop: one call at a time, arrival to the operator idle.
    one_by_one: Count = field(default_factory=Count)
    stored_s: float = 0.0  # storing plan.stored ended calls (Switchboard's database)
    stored_floor_s: float = 0.0  # the same for the PyMongo floor's database
    # With a desk WebSocket open for every operator (plan.sockets).
    sockets_open: int = 0
    sockets_setup_s: float = 0.0
    sockets_arrival: Latency = field(default_factory=Latency)
    sockets_one_by_one: Count = field(default_factory=Count)
    sockets_throughput: Throughput = field(default_factory=Throughput)
    sockets_in_flight: Count = field(default_factory=Count)
    sockets_messages: int = 0  # pushed to the desks while measuring with sockets
    sockets_micros: Counter[str] = field(default_factory=Counter)  # throughput loop, sockets
    sockets_longest: Counter[str] = field(default_factory=Counter)
    longest: Counter[str] = field(default_factory=Counter)  # throughput loop, no sockets

    @property
    def in_flight(self) -> Count:
        """Commands of the throughput loop (CONCURRENCY calls in flight)."""
        return Count(self.commands, self.routed_total)

    @property
    def round_trips(self) -> float | None:
        return self.in_flight.per_call(getmore=True)


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


def ended_call_docs(n: int, operators: int, now: datetime) -> list[Doc]:
    """Calls that ended over the last 30 days, as the backend leaves them: answered by one of
    the operators, from 20,000 distinct callers, with a short log. Deterministic."""
    rng = random.Random(14)
    base = call_rules.new_call("x", GROUP, 50, Media.VOICE, now, POLICY).state
    assert base is not None
    callers = [f"+1555{rng.randrange(10**7):07d}" for _ in range(20_000)]
    docs = []
    for i in range(n):
        at = now - timedelta(seconds=rng.uniform(3_600, 30 * 86_400))
        login = login_of(rng.randrange(operators))
        talk = timedelta(seconds=rng.uniform(20, 600))
        call = replace(
            base,
            call_id=uuid.uuid4().hex,
            state=CallState.ENDED,
            created_at=at,
            enqueued_at=at,
            operator=login,
            connected_at=at + timedelta(seconds=4),
            ended_at=at + timedelta(seconds=4) + talk,
            outcome=Outcome.ANSWERED,
            hung_up_by=Party.CALLER,
            attempts=1,
            deadline=None,
        )
        caller = callers[rng.randrange(len(callers))]
        docs.append(
            {
                "_id": call.call_id,
                **call_doc(call),
                "session_id": f"stored-{i}",
                "access_url": "http://127.0.0.1:9/request/stored",
                "access_secure_url": None,
                "caller": caller,
                "destination": "+15559990000",
                "display_name": "Stored caller",
                "custom_data": "",
                "context": {},
                "headers": {},
                "log": [
                    {"at": at, "kind": "arrived", "group": GROUP, "priority": 50},
                    {"at": at, "kind": "state", "from": "queued", "to": "offering"},
                    {"at": at, "kind": "state", "from": "offering", "to": "connected"},
                    {"at": call.ended_at, "kind": "state", "from": "connected", "to": "ended"},
                ],
                "rev": 4,
                "updated_at": call.ended_at,
            }
        )
    return docs


async def store_ended_calls(db: AsyncDatabase[Doc], plan: Plan) -> float:
    """Store plan.stored ended calls; returns the seconds it took (building included)."""
    if not plan.stored:
        return 0.0
    t = time.perf_counter()
    docs = ended_call_docs(plan.stored, plan.operators, datetime.now(UTC))
    await insert_chunked(db["calls"], docs, STORED_CHUNK)
    return time.perf_counter() - t


async def insert_chunked(coll: Any, docs: list[Doc], chunk: int = 1000) -> None:
    for i in range(0, len(docs), chunk):
        try:
            await coll.insert_many(docs[i : i + chunk], ordered=False)
        except BulkWriteError as e:
            # A batch the driver sent again (a retried write on a slow server) finds its
            # documents there already: the same ones.
            if any(err.get("code") != 11000 for err in e.details.get("writeErrors", [])):
                raise


NOT_READY: Doc = {
    "presence": "not_ready",
    "reason": "break",
    "activity": "idle",
    "activity_until": None,
    "offer_id": None,
    "call_id": None,
}


# -- the desks ---------------------------------------------------------------------------


class Desks:
    """A desk WebSocket (`GET /api/v1/ws`, the operator's token) per operator; counts pushes."""

    def __init__(self) -> None:
        # A session of its own: sockets would otherwise hold the request pool's connections.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.messages = 0
        self._readers: set[asyncio.Task[None]] = set()

    async def open(self, base: str, logins: list[str], tokens: Callable[[str], str]) -> None:
        batch = 50

        async def one(login: str) -> None:
            ws = await self.http.ws_connect(
                f"{base}/api/v1/ws",
                headers={"Authorization": f"Bearer {tokens(login)}"},
                heartbeat=None,
            )
            self.sockets.append(ws)
            first = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._read(ws, first))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)
            await asyncio.wait_for(first, WAIT_S)  # the state snapshot

        for i in range(0, len(logins), batch):
            await asyncio.gather(*(one(login) for login in logins[i : i + batch]))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, first: asyncio.Future[None]) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages += 1
                if not first.done():
                    first.set_result(None)
            elif msg.type is aiohttp.WSMsgType.ERROR:
                break

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._readers:
            await asyncio.wait(list(self._readers), timeout=5)
        await self.http.close()


async def stream_settled(feed: ChangeFeed, quiet_s: float = 0.25, limit_s: float = 3.0) -> None:
    """Wait until the change feed has brought nothing new for quiet_s (at most limit_s): the
    stream's echoes of the writes just made (and their getMore) belong to the call."""
    end = time.perf_counter() + limit_s
    seen = -1
    while feed.changes_seen != seen and time.perf_counter() < end:
        seen = feed.changes_seen
        await asyncio.sleep(quiet_s)


# -- Switchboard -------------------------------------------------------------------------


class Servers:
    """The database of each measured part: MONGODB_URL when set, else a fresh embedded
    SecantusDB per part, so no part inherits another's data, history (the oplog it keeps for
    change streams) or leftover cursors."""

    def __init__(self, tmp: Path, url: str | None) -> None:
        self.tmp = tmp
        self.url = url
        self.version = ""

    @contextlib.asynccontextmanager
    async def fresh(self, label: str) -> AsyncIterator[str]:
        server: EmbeddedMongo | None = None
        url = self.url
        if url is None:
            where = self.tmp / label
            server = EmbeddedMongo(where / "data", log_path=where / "secantus.log")
            url = await asyncio.to_thread(server.start)
        try:
            if not self.version:
                self.version = await server_version(url)
            yield url
        finally:
            if server is not None:
                await asyncio.to_thread(server.stop)
                await asyncio.to_thread(shutil.rmtree, self.tmp / label, True)


class Bench:
    def __init__(self, servers: Servers, config_path: str) -> None:
        self.servers = servers
        self.config_path = config_path
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
            # Each on a database (and embedded server) of its own, set up the same way, so
            # neither inherits the other's churn.
            name = f"bench_{plan.operators}_{part}_{uuid.uuid4().hex[:6]}"
            async with self.servers.fresh(name) as url:
                client = connect(url)
                try:
                    await self.one_part(plan, part, url, name, client[name], result)
                finally:
                    await client.drop_database(name)
                    await client.close()
        result.elapsed_s = time.perf_counter() - started
        return result

    async def one_part(
        self, plan: Plan, part: str, url: str, name: str, db: AsyncDatabase[Doc], result: SizeResult
    ) -> None:
        t = time.perf_counter()
        await create_indexes(db)
        await insert_chunked(
            db["operators"],
            operator_docs(plan.operators, datetime.now(UTC), Presence.READY),
        )
        result.setup_s += time.perf_counter() - t
        stored_s = await store_ended_calls(db, plan)
        if plan.stored:
            log.info("  %s: %s ended calls stored in %.1f s", part, f"{plan.stored:,}", stored_s)
        if part == "switchboard":
            result.stored_s = stored_s
            await self.switchboard(plan, url, name, db, result)
            result.sweeps_skipped = SKIPPED.count
        else:
            result.stored_floor_s = stored_s
            await self.database_floor(plan, db, result)

    async def switchboard(
        self, plan: Plan, url: str, name: str, db: AsyncDatabase[Doc], result: SizeResult
    ) -> None:
        env = {
            "SWITCHBOARD_CONFIG": self.config_path,
            "MONGODB_URL": with_db(url, name),
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

            # Every change the stream brought (echoes of this process's writes included).
            folded = engine.feed

            # 1. Call arrival → connect, every operator Ready and idle (one call at a time,
            #    the next only once the last operator is idle again). Every command counted.
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

            async def one_by_one(samples: int) -> tuple[Latency, Count]:
                await engine.drain()
                await stream_settled(folded)
                COUNTER.start(name)
                t0 = time.perf_counter()
                latency = await bounded_loop(samples, plan.phase_s, arrival)
                await engine.drain()
                await stream_settled(folded)
                COUNTER.stop()
                calls = len(latency.samples) + latency.missed
                return latency, Count(Counter(COUNTER.counts), calls, time.perf_counter() - t0)

            await bounded_loop(5, 30, arrival)  # warm-up
            result.arrival, result.one_by_one = await one_by_one(plan.samples)
            log.info("  arrival latency: %d samples", len(result.arrival.samples))
            # One more call with every command traced, up to the operator idle again (and the
            # stream's echoes of its writes folded in).
            await engine.drain()
            await stream_settled(folded)
            COUNTER.start(name, trace=True)
            await arrival(plan.samples)
            await engine.drain()
            await stream_settled(folded)
            COUNTER.stop()
            result.trace_call = list(COUNTER.trace or [])

            # 2. Sustained arrivals: CONCURRENCY calls in flight, operators recycling.
            async def one_call() -> float | None:
                sid = f"t-{uuid.uuid4().hex[:12]}"
                got = peer.expect_session(sid)
                try:
                    await self.post_call(base, sid)
                    return (await asyncio.wait_for(got, WAIT_S)).at
                except (TimeoutError, aiohttp.ClientError):
                    peer.by_session.pop(sid, None)
                    return None

            async def in_flight(window_s: float) -> tuple[Throughput, Count]:
                await peer.settle(WAIT_S)
                await engine.drain()
                await stream_settled(folded)
                first = len(peer.connects)
                COUNTER.start(name)
                t0 = time.perf_counter()
                throughput = await timed_workers(window_s, one_call)
                await peer.settle(WAIT_S)
                await engine.drain()
                await stream_settled(folded)
                COUNTER.stop()
                routed = len(peer.connects) - first
                return throughput, Count(Counter(COUNTER.counts), routed, time.perf_counter() - t0)

            result.throughput, counted = await in_flight(plan.window_s)
            result.routed_total = counted.calls
            result.commands = counted.commands
            result.micros = Counter(COUNTER.micros)
            result.longest = Counter(COUNTER.longest)
            result.unmatched = Counter(COUNTER.unmatched)
            log.info("  throughput: %d routed", result.routed_total)

            # 2b. The same two loops with a desk WebSocket open for every operator.
            if plan.sockets:
                desks = Desks()
                try:
                    t = time.perf_counter()
                    logins = [login_of(i) for i in range(plan.operators)]
                    await desks.open(
                        base, logins, lambda login: self.signer.issue(login, self.stamp)
                    )
                    result.sockets_setup_s = time.perf_counter() - t
                    result.sockets_open = len(desks.sockets)
                    log.info(
                        "  %d desk sockets open in %.1f s",
                        result.sockets_open,
                        result.sockets_setup_s,
                    )
                    before = desks.messages
                    result.sockets_arrival, result.sockets_one_by_one = await one_by_one(
                        min(plan.samples, SOCKET_SAMPLES)
                    )
                    result.sockets_throughput, result.sockets_in_flight = await in_flight(
                        min(plan.window_s, SOCKET_WINDOW_S)
                    )
                    result.sockets_messages = desks.messages - before
                    result.sockets_micros = Counter(COUNTER.micros)
                    result.sockets_longest = Counter(COUNTER.longest)
                finally:
                    await desks.close()
                await peer.settle(WAIT_S)
                await engine.drain()

            # 3. Operator Ready → connect, calls waiting, every other operator Not ready.
            await db["operators"].update_many(
                {}, {"$set": {**NOT_READY, "idle_since": datetime.now(UTC)}, "$inc": {"rev": 1}}
            )
            await insert_chunked(
                db["calls"], waiting_call_docs(plan.waiting, datetime.now(UTC), peer)
            )
            peer.recycle = False
            tracing = False

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
                if tracing:
                    await stream_settled(folded)
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
            await stream_settled(folded)
            tracing = True
            COUNTER.start(name, trace=True)
            await ready(plan.samples)
            COUNTER.stop()
            result.trace_ready = list(COUNTER.trace or [])
        finally:
            await runner.cleanup()

    # -- the PyMongo floor ---------------------------------------------------------------

    async def database_floor(self, plan: Plan, db: AsyncDatabase[Doc], result: SizeResult) -> None:
        """Issue 14's command sequence of a routed call, with bare PyMongo and nothing else.

        Arrival: the operator reserved (guarded update), the call inserted already offered.
        Then the call connected (guarded update, with the delivery time and the log entries),
        the operator in_call, the call ended, the operator idle again: six commands, no read.
        Ready: the operator's presence (guarded update), then the claim (the operator reserved,
        the call offered). Who is free and which call is next come from memory, as the
        backend's read view; the revs too. Same database set-up, same phases in the same order;
        claims in one process run one at a time, as in the backend.
        """
        ops, calls = db["operators"], db["calls"]
        claims = asyncio.Lock()
        op_rev = {login_of(i): 0 for i in range(plan.operators)}
        idle = list(op_rev)  # longest idle first (operator_docs sets idle_since so)
        call_rev: dict[str, int] = {}
        stats = {"offers": 0, "answers": 0, "misses": 0, "answer_s_total": 0.0, "talk_s_total": 0.0}

        async def op_step(login: str, fields: Doc, now: datetime) -> bool:
            rev = op_rev[login]
            done = await ops.update_one(
                {"_id": login, "rev": rev},
                {"$set": {**fields, "rev": rev + 1, "updated_at": now}},
            )
            op_rev[login] = rev + 1
            return done.modified_count == 1

        async def call_step(call_id: str, fields: Doc, entries: list[Doc], now: datetime) -> bool:
            rev = call_rev[call_id]
            done = await calls.update_one(
                {"_id": call_id, "rev": rev},
                {
                    "$set": {**fields, "rev": rev + 1, "updated_at": now},
                    "$push": {"log": {"$each": entries, "$slice": -200}},
                },
            )
            call_rev[call_id] = rev + 1
            return done.modified_count == 1

        def offer_of(login: str, offer_id: str, now: datetime) -> Doc:
            return {
                "offer_id": offer_id,
                "operator": login,
                "target": {"type": "user", "address": login},
                "created_at": now,
                "expires_at": now + timedelta(seconds=30),
                "sent_at": None,
            }

        async def reserve(login: str, call_id: str, offer_id: str, now: datetime) -> bool:
            return await op_step(
                login,
                {
                    "activity": "offered",
                    "activity_since": now,
                    "activity_until": now + timedelta(seconds=30),
                    "offer_id": offer_id,
                    "call_id": call_id,
                    "stats": {**stats, "offers": 1},
                },
                now,
            )

        def claim_entries(login: str, offer_id: str, now: datetime) -> list[Doc]:
            return [
                {"at": now, "kind": "offer", "offer_id": offer_id, "operator": login},
                {"at": now, "kind": "state", "from": "queued", "to": "offering"},
            ]

        async def arrive() -> tuple[str, str, str] | None:
            """POST /calls up to `connect` sent: the operator reserved, the call inserted."""
            give_up = time.perf_counter() + WAIT_S
            while True:
                async with claims:
                    if idle:
                        login = idle.pop(0)
                        now = datetime.now(UTC)
                        step = call_rules.new_call(
                            uuid.uuid4().hex, GROUP, 50, Media.VOICE, now, POLICY
                        )
                        assert step.state is not None
                        offer_id = uuid.uuid4().hex
                        if not await reserve(login, step.state.call_id, offer_id, now):
                            return None
                        sid = uuid.uuid4().hex
                        offered = {
                            **call_doc(step.state),
                            "state": "offering",
                            "offer": offer_of(login, offer_id, now),
                            "attempts": 1,
                            "deadline": now + timedelta(seconds=30),
                        }
                        await calls.insert_one(
                            {
                                "_id": step.state.call_id,
                                **offered,
                                **call_body(sid, self.peer.access_url(sid)),
                                "access_secure_url": None,
                                "context": {},
                                "log": [
                                    {"at": now, "kind": "arrived"},
                                    *claim_entries(login, offer_id, now),
                                ],
                                "rev": 0,
                                "updated_at": now,
                            }
                        )
                        call_rev[step.state.call_id] = 0
                        return step.state.call_id, login, offer_id
                if time.perf_counter() > give_up:
                    return None
                # Every operator busy: the backend would queue the call; here, look again.
                await asyncio.sleep(0.002)

        async def finish(call_id: str, login: str, offer_id: str) -> bool:
            """The rest of the call, as issue 14 says the backend does it after `connect`."""
            now = datetime.now(UTC)
            command = {"at": now, "kind": "command", "command": {"command": "connect"}}
            event = {"at": now, "kind": "event", "type": "operator_connected"}
            ok = await call_step(
                call_id,
                {
                    "state": "connected",
                    "offer.sent_at": now,
                    "operator": login,
                    "connected_at": now,
                    "deadline": now + timedelta(seconds=600),
                },
                [
                    command,
                    event,
                    {"at": now, "kind": "state", "from": "offering", "to": "connected"},
                ],
                now,
            )
            ok &= await op_step(
                login,
                {
                    "activity": "in_call",
                    "activity_since": now,
                    "activity_until": now + timedelta(seconds=600),
                    "offer_id": None,
                    "stats": {**stats, "offers": 1, "answers": 1},
                },
                now,
            )
            now = datetime.now(UTC)
            ok &= await call_step(
                call_id,
                {
                    "state": "ended",
                    "ended_at": now,
                    "outcome": "answered",
                    "hung_up_by": "operator",
                    "deadline": None,
                },
                [
                    {"at": now, "kind": "event", "type": "operator_hung_up"},
                    {"at": now, "kind": "state", "from": "connected", "to": "ended"},
                ],
                now,
            )
            ok &= await op_step(
                login,
                {
                    "activity": "idle",
                    "activity_since": now,
                    "activity_until": None,
                    "idle_since": now,
                    "call_id": None,
                    "stats": {**stats, "offers": 1, "answers": 1, "talk_s_total": 1.0},
                },
                now,
            )
            idle.append(login)
            return ok

        # 1. Call arrival → connect with every operator Ready; then the rest of the call.
        async def arrival(i: int) -> float | None:
            t0 = time.perf_counter()
            got = await arrive()
            took = time.perf_counter() - t0
            if got is None or not await finish(*got):
                return None
            return took

        await bounded_loop(5, 30, arrival)  # warm-up, as for Switchboard
        result.db_arrival = await bounded_loop(plan.samples, plan.phase_s, arrival)

        # 2. Sustained arrivals: CONCURRENCY in flight; the rest of each call in the background.
        tails: set[asyncio.Task[bool]] = set()

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
        for login in op_rev:
            op_rev[login] += 1
        waiting = waiting_call_docs(plan.waiting, datetime.now(UTC), self.peer)
        await insert_chunked(calls, waiting)
        queue = [d["_id"] for d in waiting]  # oldest first
        call_rev.update((d["_id"], 0) for d in waiting)

        async def ready(i: int) -> float | None:
            login = login_of(i % plan.operators)
            t0 = time.perf_counter()
            now = datetime.now(UTC)
            ok = await op_step(
                login, {"presence": "ready", "presence_since": now, "reason": None}, now
            )
            call_id, offer_id = queue.pop(0), uuid.uuid4().hex
            ok &= await reserve(login, call_id, offer_id, now)
            ok &= await call_step(
                call_id,
                {
                    "state": "offering",
                    "offer": offer_of(login, offer_id, now),
                    "attempts": 1,
                    "deadline": now + timedelta(seconds=30),
                },
                claim_entries(login, offer_id, now),
                now,
            )
            took = time.perf_counter() - t0
            # Put both back (not measured), as in the Switchboard loop.
            await ops.update_one({"_id": login}, {"$set": NOT_READY, "$inc": {"rev": 1}})
            op_rev[login] += 1
            await calls.update_one(
                {"_id": call_id},
                {
                    "$set": {"state": "queued", "offer": None, "enqueued_at": datetime.now(UTC)},
                    "$inc": {"rev": 1},
                },
            )
            call_rev[call_id] += 1
            queue.append(call_id)
            return took if ok else None

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
        floor_ops = r.db_ops_per_call
        counted = [("one at a time", r.one_by_one), (f"{CONCURRENCY} in flight", r.in_flight)]
        if r.plan.sockets:
            counted += [
                ("one at a time, desk sockets open", r.sockets_one_by_one),
                (f"{CONCURRENCY} in flight, desk sockets open", r.sockets_in_flight),
            ]
        for how, count in counted:
            for getmore in (False, True):
                mine = count.per_call(getmore=getmore)
                rows.append(
                    [
                        f"DB commands per routed call, {how}, "
                        + ("with getMore" if getmore else "without getMore"),
                        n,
                        fmt(mine),
                        "—",
                        "—",
                        "—" if getmore else fmt(floor_ops),
                        "—" if getmore else ratio(mine, floor_ops),
                    ]
                )
        if r.plan.sockets:
            rows.append(
                [
                    "call arrival → connect, desk sockets open, p50 ms",
                    n,
                    fmt(r.sockets_arrival.p50_ms),
                    fmt(http.calls.p50_ms, 2),
                    ratio(r.sockets_arrival.p50_ms, http.calls.p50_ms),
                    fmt(r.db_arrival.p50_ms, 2),
                    ratio(r.sockets_arrival.p50_ms, r.db_arrival.p50_ms),
                ]
            )
            rows.append(
                [
                    f"calls routed per s ({CONCURRENCY} in flight), desk sockets open",
                    n,
                    fmt(r.sockets_throughput.per_s),
                    fmt(http.throughput.per_s),
                    ratio(per_call_s(r.sockets_throughput), h_s),
                    fmt(r.db_throughput.per_s),
                    ratio(per_call_s(r.sockets_throughput), d_s),
                ]
            )
    return rows


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT MET")


def target_rows(results: list[SizeResult]) -> list[list[str]]:
    """Issue 14's targets: the measured value or ratio, and whether it is met."""
    by_size = {r.plan.operators: r for r in results}
    small, large = by_size.get(10), by_size.get(10_000)
    rows: list[list[str]] = []

    def per_size(getmore: bool) -> tuple[str, bool | None]:
        values: list[float] = []
        parts = []
        for r in results:
            one = r.one_by_one.per_call(getmore=getmore)
            many = r.in_flight.per_call(getmore=getmore)
            values += [v for v in (one, many) if v is not None]
            parts.append(f"@{r.plan.operators:,}: {fmt(one)} / {fmt(many)}")
        limit = TARGET_COMMANDS_ALL if getmore else TARGET_COMMANDS
        return "; ".join(parts), (max(values) <= limit if values else None)

    for getmore, limit in ((False, TARGET_COMMANDS), (True, TARGET_COMMANDS_ALL)):
        value, ok = per_size(getmore)
        rows.append(
            [
                f"DB commands per routed call {'with' if getmore else 'without'} the stream's "
                f"getMore ≤ {limit:.0f} (one at a time / {CONCURRENCY} in flight)",
                value,
                verdict(ok),
            ]
        )
    parts, same = [], []
    for r in results:
        if not r.plan.sockets or not r.sockets_open:
            continue
        for getmore in (False, True):
            for before, after in (
                (r.one_by_one, r.sockets_one_by_one),
                (r.in_flight, r.sockets_in_flight),
            ):
                b, a = before.per_call(getmore=getmore), after.per_call(getmore=getmore)
                if b is not None and a is not None:
                    same.append(abs(a - b) <= SOCKETS_SAME)
        parts.append(
            f"@{r.plan.operators:,} ({r.sockets_open:,} sockets), without / with getMore, "
            f"one at a time: {fmt(r.one_by_one.per_call(getmore=False))} → "
            f"{fmt(r.sockets_one_by_one.per_call(getmore=False))} / "
            f"{fmt(r.one_by_one.per_call(getmore=True))} → "
            f"{fmt(r.sockets_one_by_one.per_call(getmore=True))}; {CONCURRENCY} in flight: "
            f"{fmt(r.in_flight.per_call(getmore=False))} → "
            f"{fmt(r.sockets_in_flight.per_call(getmore=False))} / "
            f"{fmt(r.in_flight.per_call(getmore=True))} → "
            f"{fmt(r.sockets_in_flight.per_call(getmore=True))}"
        )
    rows.append(
        [
            f"the same with a desk WebSocket per operator (unchanged: within {SOCKETS_SAME} "
            "per call)",
            "; ".join(parts) or "—",
            verdict(all(same) if same else None),
        ]
    )
    for label, kind in (("call arrival → connect", "arrival"), ("Ready → connect", "ready")):
        lo = getattr(small, kind).p50_ms if small else None
        hi = getattr(large, kind).p50_ms if large else None
        q = hi / lo if hi is not None and lo else None
        rows.append(
            [
                f"{label} p50 at 10,000 operators ≤ {TARGET_FLAT}x the p50 at 10",
                f"{fmt(hi)} ms / {fmt(lo)} ms = {fmt(q, 2)}x",
                verdict(None if q is None else q <= TARGET_FLAT),
            ]
        )
    p50 = small.arrival.p50_ms if small else None
    rows.append(
        [
            f"call arrival → connect p50 at 10 operators ≤ {TARGET_ARRIVAL_MS:.0f} ms",
            f"{fmt(p50)} ms",
            verdict(None if p50 is None else p50 <= TARGET_ARRIVAL_MS),
        ]
    )
    lo_t = small.throughput.per_s if small else None
    hi_t = large.throughput.per_s if large else None
    q = hi_t / lo_t if hi_t is not None and lo_t else None
    rows.append(
        [
            f"calls routed per s at 10,000 operators ≥ {TARGET_THROUGHPUT}x the figure at 10",
            f"{fmt(hi_t)} / {fmt(lo_t)} = {fmt(q, 2)}x",
            verdict(None if q is None else q >= TARGET_THROUGHPUT),
        ]
    )
    return rows


TARGET_HEAD = ["target (issue 14)", "measured", "verdict"]


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


def md_table(head: list[str], rows: list[list[str]], *, align_left: bool = False) -> str:
    align = ["---"] + ["---" if align_left else "---:"] * (len(head) - 1)
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
        if r.plan.stored:
            out.append(
                f"{r.plan.operators:,} operators: {r.plan.stored:,} ended calls stored before "
                f"measuring (insert_many of {STORED_CHUNK:,}, 20,000 distinct callers, 30 days), "
                f"in {r.stored_s:.1f} s for Switchboard's database and {r.stored_floor_s:.1f} s "
                "for the PyMongo floor's"
            )
        if r.plan.sockets:
            socket_calls = r.sockets_one_by_one.calls + r.sockets_in_flight.calls
            out.append(
                f"{r.plan.operators:,} operators with desk sockets: {r.sockets_open:,} sockets "
                f"opened in {r.sockets_setup_s:.1f} s; {len(r.sockets_arrival.samples)} arrivals "
                f"({r.sockets_arrival.missed} missed), {r.sockets_throughput.routed} calls routed "
                f"in {r.sockets_throughput.window_s:.0f} s ({r.sockets_in_flight.calls} with the "
                f"drain); {r.sockets_messages:,} messages pushed "
                f"({r.sockets_messages / max(socket_calls, 1):.1f} "
                "per call)"
            )
    return out


def target_lines(rows: list[list[str]]) -> list[str]:
    return [f"{v:>12}  {t}: {m}" for t, m, v in rows]


EXPLANATION = """\
What the numbers mean:

- Latency is measured in one process, from just before the client sends the request
  (POST /api/v1/calls, or POST /api/v1/me/status with "ready") to the moment the local peer
  playing the scenario's access URL receives the `connect` command. The bench client, the
  backend and the peer share one event loop; the database is a separate process. Latency loops
  run one request at a time; the throughput loop keeps {concurrency} calls in flight, and the
  peer answers each `connect` and reports operator_connected and operator_hung_up (wrap-up 0),
  so operators come back to idle and take the next call.
- "DB commands per routed call" counts every command the backend's PyMongo client sent to
  its database (command monitoring), including the change stream's `getMore`, the status-history
  batches, the periodic sweep and heartbeat, divided by the calls routed: "one at a time" over
  the arrival latency loop (each call from arrival to the operator idle again, the stream's
  echoes folded in), "{concurrency} in flight" over the throughput loop. "Without getMore" leaves
  out the change stream's `getMore` (the backend has no other cursor that outlives its first
  batch); one `getMore` can carry the changes of several calls, so that count falls with load.
  The breakdown shows the throughput loop by command and collection with the time PyMongo
  waited for each (which includes queueing in the single-process server while other commands
  run). "Matched nothing" counts guarded updates that found the document already moved on.
  The traces list the commands of one call and of one Ready with nothing else going on; an
  update shows the fields it sets (rev and updated_at left out), to tell the transitions apart.
- "Desk sockets open": the same loops again (fewer samples) with a WebSocket (`GET /api/v1/ws`,
  the operator's token) open for every operator, reading every message pushed.
- The aiohttp floor is the same request loop against handlers that only validate the same
  JSON and answer a small JSON; the PyMongo floor is a bare PyMongo loop doing issue 14's
  command sequence of a routed call (operator reserved, call inserted already offered, call
  connected, operator in_call, call ended, operator idle: six guarded writes, no read) and of a
  Ready (the presence update, the reservation, the claim of the call), choosing operators and
  calls from memory as the backend's read view does, on a database of its own set up like
  Switchboard's (same indexes, operators, stored and waiting calls, the same phases in the same
  order). It leaves out what the backend adds around that sequence (the change stream, the
  status history, the token's operator read and the presence touch of a Ready, the post-call
  question). "x" is Switchboard's cost divided by the floor's (latency, or seconds per call for
  throughput): 1.0x would be as fast as the floor.
- The embedded SecantusDB is a pure-Python, single-process server whose query executor fetches
  every index-matching document and sorts in Python (there is no streaming LIMIT over an index
  walk). Routing no longer queries it (the read view decides; writes are by _id), so the
  size shows only through the view's own work, index upkeep on the stored calls and the
  server's per-document costs. With MongoDB (set MONGODB_URL) the figures have not been
  measured here.
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
        trace = len([c for c in r.trace_call if not is_getmore(c)]) if r is results[0] else 0
        out.append(
            f"At {r.plan.operators:,} operators the most database time per routed call goes to "
            f"`{key}` ({micros / total:.0%} of {total / 1000 / r.routed_total:,.0f} ms); "
            f"{lost:.2f} guarded updates per call matched nothing"
            + (f"; a call alone needs {trace} commands besides getMore" if trace else "")
            + "."
        )
        held = {k: v for k, v in r.longest.items() if not is_getmore(k)}
        if held:
            key, micros = max(held.items(), key=lambda kv: kv[1])
            buckets = r.longest.get("update report_buckets", 0)
            routing = {
                k: v for k, v in held.items() if k.split(" ")[1:2] in (["calls"], ["operators"])
            }
            rkey, rmicros = max(routing.items(), key=lambda kv: kv[1]) if routing else ("—", 0)
            out.append(
                f"At {r.plan.operators:,} operators the longest single command while routing "
                f"continued (throughput loop; the stream's getMore, which waits for changes, "
                f"left out) was `{key}`: {micros / 1000:,.0f} ms; the longest report-bucket "
                f"batch {buckets / 1000:,.0f} ms ({r.commands.get('update report_buckets', 0)} "
                f"batches); the longest routing write (`{rkey}`) {rmicros / 1000:,.0f} ms."
            )
        if r.plan.sockets and r.sockets_one_by_one.calls:
            out.append(
                f"At {r.plan.operators:,} operators the stream's getMores per call (with changes"
                " / empty, woken by a write to a collection it does not follow / empty, the"
                " 500 ms wait ran out), without → with desk sockets: one at a time "
                f"{getmores(r.one_by_one)} → {getmores(r.sockets_one_by_one)}; "
                f"{CONCURRENCY} in flight {getmores(r.in_flight)} → "
                f"{getmores(r.sockets_in_flight)}."
            )
        calls = r.sockets_in_flight.calls
        if r.plan.sockets and calls and (with_sockets := sum(r.sockets_micros.values())):
            key, micros = max(r.sockets_micros.items(), key=lambda kv: kv[1])
            out.append(
                f"With {r.sockets_open:,} desk sockets open at {r.plan.operators:,} operators, "
                f"the database time per routed call was {with_sockets / 1000 / calls:,.0f} ms "
                f"(without sockets {total / 1000 / r.routed_total:,.0f} ms); the most went to "
                f"`{key}` ({micros / 1000 / calls:,.0f} ms per call, without sockets "
                f"{r.micros[key] / 1000 / r.routed_total:,.0f} ms), whose slowest single command "
                f"took {r.sockets_longest[key] / 1000:,.0f} ms (without sockets "
                f"{r.longest[key] / 1000:,.0f} ms)"
                + (
                    f"; the slowest `update_many` of operators (the heartbeat, every connected "
                    f"operator's last_seen) took {hb / 1000:,.0f} ms."
                    if (hb := r.sockets_longest.get("update operators (multi)"))
                    else "."
                )
            )
    return out


def trace_lines(results: list[SizeResult], indent: str) -> list[str]:
    """The commands of one routed call and of one Ready, in order (smallest size)."""
    if not results:
        return []
    r = results[0]
    n = f"{r.plan.operators:,}"
    out = []
    for what, trace in (
        (f"one routed call at {n} operators, arrival to the operator idle again", r.trace_call),
        (f"one operator Ready at {n} operators, with calls waiting", r.trace_ready),
    ):
        others = sum(1 for c in trace if not is_getmore(c))
        out += [
            f"Commands of {what}: {others} without the change stream's getMore, "
            f"{len(trace)} with it:",
            "",
            *(f"{indent}{i:2d}. {c}" for i, c in enumerate(trace, 1)),
            "",
        ]
    return out[:-1]


def report(results: list[SizeResult], http: HttpFloor, m: Machine) -> tuple[str, str]:
    figures = text_table(FIGURE_HEAD, figure_rows(results, http))
    b_head, b_rows = breakdown_rows(results)
    breakdown = text_table(b_head, b_rows)
    targets = target_rows(results)
    text = "\n".join(
        [
            "Switchboard dispatch benchmark",
            *machine_lines(m),
            "",
            "Targets (issue 14; figures, not asserts):",
            *target_lines(targets),
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
            "How to reproduce: `make bench` (8 to 10 minutes here; `MONGODB_URL=... make bench` "
            "runs it against a MongoDB server instead of the embedded SecantusDB). "
            "The bench writes its report to `var/bench/benchmarks.md` (not tracked); this file is "
            "that report from a recorded run, copied here on purpose.",
            "",
            *(f"- {line}" for line in machine_lines(m)),
            "",
            "Targets (issue 14), from this run:",
            "",
            md_table(TARGET_HEAD, targets, align_left=True),
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


async def run(
    args: argparse.Namespace, servers: Servers, config_path: str, machine: Machine
) -> str:
    bench = Bench(servers, config_path)
    try:
        await bench.peer.start()
        log.info("aiohttp floor")
        http = await bench.http_floor(300, 5)
        results = []
        for n in args.sizes:
            plan = PLANS.get(n) or Plan(n, max(1, n // 2), 100, 60, 15)
            log.info("%s operators", f"{n:,}")
            results.append(await bench.run_size(plan))
    finally:
        await bench.close()
    machine.database += f" (reports server version {servers.version or '?'})"
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
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        config_path = Path(tmp) / "bench.toml"
        config_path.write_text(BENCH_CONFIG)
        if url := os.environ.get("MONGODB_URL"):
            machine.database = "MongoDB at MONGODB_URL"
        else:
            machine.database = (
                f"embedded SecantusDB {version_of('SecantusDB')} (one pure-Python process; "
                "a fresh one for each size and part)"
            )
        servers = Servers(Path(tmp), url or None)
        md = asyncio.run(run(args, servers, str(config_path), machine))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md + "\n")
        print(f"\nreport written to {out}")


if __name__ == "__main__":
    main()
