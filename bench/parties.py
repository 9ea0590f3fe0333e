"""Three-party help benchmark: database round trips of one help from a group, at each size.

One call is answered by an operator, who then asks the group for help
(`POST /api/v1/calls/{id}/parties` with `{"to": {"type": "group", "address": "default"}}`);
the helper answers (`party_connected`), then leaves (`party_hung_up`). Every database command
of each step is counted (with and without the change stream's `getMore`) until the stream's
echoes of its writes have been folded in, like bench/dispatch.py counts a routed call. The
figures must not grow with the number of operators: the helper comes from the read view, the
reservation and the call's write are each one guarded `update_one`.

    .venv/bin/python bench/parties.py [--sizes 10,1000,10000] [--rounds 20]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from backend.adapters.documents import Doc  # noqa: E402
from backend.adapters.mongo import connect  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.domain.model import Presence  # noqa: E402
from backend.keys import ENGINE  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from bench.dispatch import (  # noqa: E402
    ADMIN_TOKEN,
    BENCH_CONFIG,
    COUNTER,
    PLATFORM_TOKEN,
    SECRET_KEY,
    Servers,
    call_body,
    create_indexes,
    insert_chunked,
    is_getmore,
    operator_docs,
    stream_settled,
    with_db,
)

log = logging.getLogger("bench.parties")
WAIT_S = 30.0
STEPS = ("ask (POST parties → add_party sent)", "helper answers", "helper leaves")


class Peer:
    """Plays the access URLs: records `connect` and `add_party`, answers {"ok": true}."""

    def __init__(self) -> None:
        self.base_url = ""
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
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
        if self._runner is not None:
            await self._runner.cleanup()

    def expect(self, sid: str, command: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[f"{sid}:{command}"] = fut
        return fut

    async def _handle(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        command = await request.json()
        fut = self.waiters.pop(f"{sid}:{command.get('command')}", None)
        if fut is not None and not fut.done():
            fut.set_result(command)
        return web.json_response({"ok": True, "command": command.get("command")})


async def one_size(
    servers: Servers, config_path: str, operators: int, rounds: int
) -> dict[str, Counter[str]]:
    name = f"bench_parties_{operators}_{uuid.uuid4().hex[:6]}"
    totals: dict[str, Counter[str]] = {step: Counter() for step in STEPS}
    async with servers.fresh(name) as url:
        client = connect(url)
        db = client[name]
        await create_indexes(db)
        await insert_chunked(
            db["operators"],
            operator_docs(operators, datetime.now(UTC), Presence.READY),
        )
        env = {
            "SWITCHBOARD_CONFIG": config_path,
            "MONGODB_URL": with_db(url, name),
            "PLATFORM_TOKEN": PLATFORM_TOKEN,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRET_KEY": SECRET_KEY,
        }
        app = create_app(load_settings(env=env))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        peer = Peer()
        await peer.start()
        plat = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        timeout = aiohttp.ClientTimeout(total=WAIT_S)
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            engine = app[ENGINE]
            async with aiohttp.ClientSession(timeout=timeout) as http:

                async def event(call_id: str, body: Doc) -> None:
                    async with http.post(
                        f"{base}/api/v1/calls/{call_id}/events", json=body, headers=plat
                    ) as r:
                        assert r.status == 200, await r.text()

                async def settled() -> None:
                    await engine.drain()
                    await stream_settled(engine.feed)

                for _ in range(rounds):
                    sid = f"p-{uuid.uuid4().hex[:10]}"
                    connected = peer.expect(sid, "connect")
                    body = call_body(sid, f"{peer.base_url}/request/{sid}")
                    async with http.post(f"{base}/api/v1/calls", json=body, headers=plat) as r:
                        call_id = (await r.json())["call_id"]
                    offer = await asyncio.wait_for(connected, WAIT_S)
                    await event(
                        call_id, {"type": "operator_connected", "offer_id": offer["offer_id"]}
                    )
                    await settled()

                    # 1. The ask, up to the add_party command sent.
                    added = peer.expect(sid, "add_party")
                    COUNTER.start(name)
                    async with http.post(
                        f"{base}/api/v1/calls/{call_id}/parties",
                        json={"to": {"type": "group", "address": "default"}},
                        headers=admin,
                    ) as r:
                        assert r.status == 202, await r.text()
                    command = await asyncio.wait_for(added, WAIT_S)
                    await settled()
                    COUNTER.stop()
                    totals[STEPS[0]].update(COUNTER.counts)
                    party_id = command["party_id"]

                    # 2. The helper answers.
                    COUNTER.start(name)
                    await event(call_id, {"type": "party_connected", "party_id": party_id})
                    await settled()
                    COUNTER.stop()
                    totals[STEPS[1]].update(COUNTER.counts)

                    # 3. The helper leaves; the caller and the owner talk on.
                    COUNTER.start(name)
                    await event(call_id, {"type": "party_hung_up", "party_id": party_id})
                    await settled()
                    COUNTER.stop()
                    totals[STEPS[2]].update(COUNTER.counts)

                    # The call ends (not counted): both operators idle again (no wrap-up).
                    await event(call_id, {"type": "operator_hung_up"})
                    await settled()
        finally:
            await peer.close()
            await runner.cleanup()
            await client.drop_database(name)
            await client.close()
    return totals


def per_help(counts: Counter[str], rounds: int, *, getmore: bool) -> float:
    return sum(v for k, v in counts.items() if getmore or not is_getmore(k)) / rounds


def _pair(counts: Counter[str], rounds: int) -> str:
    without, with_getmore = (per_help(counts, rounds, getmore=g) for g in (False, True))
    return f"{without:.1f} / {with_getmore:.1f}"


async def run(sizes: list[int], rounds: int, servers: Servers, config_path: str) -> str:
    rows = []
    detail = []
    for size in sizes:
        t = time.perf_counter()
        totals = await one_size(servers, config_path, size, rounds)
        log.info("%s operators: %.1f s", f"{size:,}", time.perf_counter() - t)
        cells = []
        for step in STEPS:
            c = totals[step]
            cells.append(_pair(c, rounds))
            kinds = ", ".join(
                f"{k} {v / rounds:.1f}" for k, v in sorted(c.items()) if not is_getmore(k)
            )
            detail.append(f"- {size:,} operators, {step}: {kinds}")
        every = Counter[str]()
        for step in STEPS:
            every.update(totals[step])
        cells.append(_pair(every, rounds))
        rows.append(f"| {size:,} | " + " | ".join(cells) + " |")
    head = "| operators | " + " | ".join(STEPS) + " | one help in all |"
    rule = "|" + " --- |" * (len(STEPS) + 2)
    lines = [
        f"Database commands per three-party help (mean of {rounds}; without / with the change "
        "stream's getMore):",
        "",
        head,
        rule,
        *rows,
        "",
        "Commands per step (without getMore):",
        "",
        *detail,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10, 1_000, 10_000],
    )
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-parties-") as tmp:
        config_path = Path(tmp) / "bench.toml"
        config_path.write_text(BENCH_CONFIG)
        servers = Servers(Path(tmp), os.environ.get("MONGODB_URL") or None)
        print(asyncio.run(run(args.sizes, args.rounds, servers, str(config_path))))


if __name__ == "__main__":
    main()
