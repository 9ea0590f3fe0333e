"""Report benchmark: GET /api/v1/reports/summary over 1,000,000 status rows and 200,000 calls.

Run with `.venv/bin/python bench/reports.py` (`--help` for the sizes). It starts its own embedded
SecantusDB (or uses MONGODB_URL), stores the status rows and the ended calls, folds every one of
them into the report buckets through the backend's own code (`Rollup.intervals`,
`Rollup.call_ended`, `Store.add_report_counters`: what the process does as the rows arrive,
here in larger batches), then serves the app on a loopback port and times report requests over
HTTP: the whole history by day, one group, a week by hour, a day by 15 minutes, a CSV, the
staffing advice. Figures are printed, never asserted; the report goes to var/bench/reports.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from pymongo import monitoring  # noqa: E402
from pymongo.errors import BulkWriteError  # noqa: E402

from backend.adapters.documents import Doc, operator_doc  # noqa: E402
from backend.adapters.embedded_db import EmbeddedMongo  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.domain import rollup  # noqa: E402
from backend.domain.actions import StatusInterval  # noqa: E402
from backend.domain.model import Address, Skill, TargetType  # noqa: E402
from backend.domain.operators import new_operator  # noqa: E402
from backend.keys import ENGINE, FEED, STORE  # noqa: E402
from backend.settings import load_settings  # noqa: E402

DEFAULT_OUT = ROOT / "var" / "bench" / "reports.md"
ADMIN_TOKEN = "bench-admin-token"
GROUPS = ("default", "sales", "support")
CONFIG = """
[[groups]]
name = "default"
[[groups]]
name = "sales"
[[groups]]
name = "support"
"""
ACTIVITIES = ("idle", "offered", "in_call", "wrap_up", "idle", "video_reserved", "paused_no_answer")
PRESENCES = ("ready", "not_ready", "ready", "offline")


def status_rows(operators: int, rows: int, start: datetime, end: datetime) -> list[StatusInterval]:
    """Back-to-back intervals per operator in an 8-hour shift a day, presence and activity in
    turn, over [start, end)."""
    rnd = random.Random(7)
    days = max(1, (end - start).days)
    per_day = max(1, -(-rows // (operators * days)))  # at least `rows` in all
    step = timedelta(hours=8) / per_day
    out: list[StatusInterval] = []
    for i in range(operators):
        login = f"op{i:04d}"
        for d in range(days):
            t = start + timedelta(days=d, hours=6 + i % 8)
            for k in range(per_day):
                nxt = t + step
                if k % 2:
                    value = rnd.choice(PRESENCES)
                    out.append(StatusInterval(login, "presence", value, None, t, nxt))
                else:
                    value = rnd.choice(ACTIVITIES)
                    out.append(StatusInterval(login, "activity", value, None, t, nxt))
                t = nxt
    return out


def operator_docs(operators: int, now: datetime) -> list[Doc]:
    """The operators, one group each (so a report of one group reads its members' buckets)."""
    docs = []
    for i in range(operators):
        login = f"op{i:04d}"
        group = GROUPS[i % len(GROUPS)]
        op = new_operator(login, Address(TargetType.USER, login), (Skill(group, 1),), now)
        docs.append(
            {
                "_id": login,
                **operator_doc(op),
                "name": f"Operator {i}",
                "email": "",
                "role": "operator",
                "password_hash": "bench$no-login",
                "rev": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    return docs


def call_docs(calls: int, operators: int, start: datetime, end: datetime) -> list[Doc]:
    rnd = random.Random(11)
    span = (end - start).total_seconds()
    out: list[Doc] = []
    for n in range(calls):
        created = start + timedelta(seconds=rnd.random() * span)
        wait = rnd.expovariate(1 / 20)
        roll = rnd.random()
        doc: Doc = {
            "_id": f"bench-{n:07d}",
            "session_id": f"bench-session-{n:07d}",
            "group": GROUPS[n % len(GROUPS)],
            "priority": 50,
            "media": "voice",
            "state": "ended",
            "caller": f"+1555{n % 10_000_000:07d}",
            "created_at": created,
            "enqueued_at": created,
            "rev": 5,
        }
        if roll < 0.85:
            connected = created + timedelta(seconds=wait)
            doc |= {
                "outcome": "answered",
                "operator": f"op{rnd.randrange(operators):04d}",
                "connected_at": connected,
                "ended_at": connected + timedelta(seconds=rnd.uniform(30, 400)),
            }
        elif roll < 0.97:
            doc |= {"outcome": "abandoned", "ended_at": created + timedelta(seconds=wait)}
        else:
            doc |= {"outcome": "overflowed", "ended_at": created + timedelta(seconds=wait + 120)}
        out.append(doc)
    return out


async def insert_once(coll: Any, docs: list[Doc]) -> None:
    """Insert a batch; a batch the driver sent again (a retried write on a slow server) finds
    its first part there already: those are the same documents, by their `_id`."""
    try:
        await coll.insert_many(docs, ordered=False)
    except BulkWriteError as e:
        if any(err.get("code") != 11000 for err in e.details.get("writeErrors", [])):
            raise


class BucketReads(monitoring.CommandListener):
    """Counts the report-bucket documents the backend's finds hand back (first and later
    batches), and the queries that asked for them."""

    def __init__(self) -> None:
        self.docs = 0
        self.queries = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "report_buckets":
            self.queries += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") or {}
        if event.command_name in ("find", "getMore") and str(cursor.get("ns", "")).endswith(
            ".report_buckets"
        ):
            self.docs += len(cursor.get("firstBatch") or cursor.get("nextBatch") or [])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


READS = BucketReads()
monitoring.register(READS)


@contextlib.asynccontextmanager
async def database(tmp: Path) -> AsyncIterator[str]:
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    server = EmbeddedMongo(tmp / "data", log_path=tmp / "secantus.log")
    url = await asyncio.to_thread(server.start)
    try:
        base, _, query = url.partition("?")
        hosts = base.partition("://")[2].split("/")[0]
        yield f"mongodb://{hosts}/bench_reports" + (f"?{query}" if query else "")
    finally:
        await asyncio.to_thread(server.stop)


async def timed(
    http: aiohttp.ClientSession, url: str, repeat: int
) -> tuple[list[float], int, float, float]:
    """Times of `repeat` requests, the answer's size, and bucket documents and queries per
    request."""
    times: list[float] = []
    size = 0
    READS.docs = READS.queries = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        async with http.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as r:
            body = await r.read()
            assert r.status == 200, body[:300]
        times.append(time.perf_counter() - t0)
        size = len(body)
    return times, size, READS.docs / repeat, READS.queries / repeat


async def run(args: argparse.Namespace) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-reports-"))
    config = tmp / "bench.toml"
    config.write_text(CONFIG)
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        async with database(tmp) as url:
            env = {
                "MONGODB_URL": url,
                "SWITCHBOARD_CONFIG": str(config),
                "ADMIN_TOKEN": ADMIN_TOKEN,
                "PLATFORM_TOKEN": "bench-platform-token",
                "SECRET_KEY": "bench-secret-key",
            }
            app = create_app(load_settings(env))
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            engine, store = app[ENGINE], app[STORE]
            await store.operators.insert_many(operator_docs(args.operators, datetime.now(UTC)))
            await app[FEED].sync(timeout_s=60)  # the view knows them: their groups
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            start = end - timedelta(days=args.days)
            say(
                f"# Reports over {args.status_rows:,} status rows and {args.calls:,} calls\n\n"
                f"{args.operators} operators in {len(GROUPS)} groups, {args.days} days of history,"
                f" {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()},"
                f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"
            )
            # Stored as they would be, and folded into the buckets by the backend's own code.
            # In service the buckets fill a few upserts at a time as rows arrive; here the
            # history of months arrives at once, so the folded buckets are inserted whole
            # (the same documents the upserts make: tests/unit/test_domain_rollup.py).
            t0 = time.perf_counter()
            rows = status_rows(args.operators, args.status_rows, start, end)
            for i in range(0, len(rows) if args.store_rows else 0, 5_000):
                await store.log_status(rows[i : i + 5_000])
            t_rows = time.perf_counter() - t0
            t0 = time.perf_counter()
            docs = call_docs(args.calls, args.operators, start, end)
            for i in range(0, len(docs) if args.store_rows else 0, 2_000):
                await insert_once(store.calls, docs[i : i + 2_000])
            t_calls = time.perf_counter() - t0
            t0 = time.perf_counter()
            engine.rollup.intervals(rows)
            for doc in docs:
                engine.rollup.call_ended(doc)
            incs = engine.rollup.take()
            t_fold = time.perf_counter() - t0
            t0 = time.perf_counter()
            made = [rollup.bucket_doc(k, v) for k, v in incs.items()]
            for i in range(0, len(made), 2_000):
                await insert_once(store.report_buckets, made[i : i + 2_000])
            t_buckets = time.perf_counter() - t0
            # These buckets come from the code that writes the center's, from the first row on.
            await store.meta.update_one({"_id": "report_center"}, {"$set": {"since": start}})
            await store.mark_center_buckets(start)
            buckets = await store.report_buckets.count_documents({})
            stored = "stored" if args.store_rows else "NOT stored (--no-store-rows)"
            say(
                f"Set-up: {len(rows):,} status rows {stored} in {t_rows:.0f} s, {len(docs):,}"
                f" calls in {t_calls:.0f} s; folding them all took {t_fold:.1f} s of Python"
                f" ({(len(rows) + len(docs)) / max(t_fold, 1e-9):,.0f} rows/s) and made"
                f" {buckets:,} bucket documents, stored in {t_buckets:.0f} s.\n"
            )
            day = (end - timedelta(days=1)).date().isoformat()
            week = (end - timedelta(days=7)).date().isoformat()
            first = start.date().isoformat()
            cases = [
                (f"whole history by day ({args.days} days, all groups)", f"from={first}&by=day"),
                ("whole history by day, one group", f"from={first}&by=day&group=sales"),
                ("a week by hour", f"from={week}&to={day}&by=hour"),
                ("a day by 15 minutes", f"from={day}&to={day}&by=15min"),
                (
                    "whole history, operators as CSV",
                    f"from={first}&by=day&format=csv&table=operators",
                ),
            ]
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            say(f"Load average (1/5/15 min) before the reports: {load}.\n")
            say("| report | median | slowest | answer size | bucket documents read | queries |")
            say("| --- | --- | --- | --- | ---: | ---: |")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
                for label, query in cases:
                    url = f"{base}/api/v1/reports/summary?{query}"
                    times, size, read, queries = await timed(http, url, args.repeat)
                    say(
                        f"| {label} | {statistics.median(times) * 1000:,.0f} ms"
                        f" | {max(times) * 1000:,.0f} ms | {size / 1024:,.0f} KiB"
                        f" | {read:,.0f} | {queries:,.0f} |"
                    )
                staffing = f"{base}/api/v1/reports/staffing"
                times, size, read, queries = await timed(http, staffing, args.repeat)
                say(
                    f"| staffing advice (every group) | {statistics.median(times) * 1000:,.0f} ms"
                    f" | {max(times) * 1000:,.0f} ms | {size / 1024:,.0f} KiB"
                    f" | {read:,.0f} | {queries:,.0f} |"
                )
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            say(f"\nLoad average after: {load}.")
            await runner.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--operators", type=int, default=100)
    p.add_argument("--status-rows", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=200_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument(
        "--no-store-rows",
        dest="store_rows",
        action="store_false",
        help="fold the rows and calls into the buckets without storing them (no report reads"
        " them: a quicker set-up for the same bucket documents)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help="'' writes no file")
    args = p.parse_args()
    report = asyncio.run(run(args))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
