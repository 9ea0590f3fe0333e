"""A local HTTP peer that plays the VoxEngine sessions' access URLs.

Each session gets a URL `/request/<session_id>`; every command POSTed there is recorded.
A script (per target address) decides what the "scenario" then reports back to the backend:
answer after a delay and hang up later, fail with a SIP code, or stay silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class Script:
    """What the dialled operator does with a `connect`."""

    answer_after_s: float | None = (
        0.01  # None: never answers (the scenario reports 408 at ring end)
    )
    fail_code: int | None = None  # e.g. 486 busy, 603 declined, 480 offline
    talk_s: float | None = 0.05  # None: stays connected until the test ends the call
    hangup_by: str = "operator"  # or "caller"
    refuse: bool = False  # the scenario answers the connect (or add_party) with {"ok": false}


@dataclass
class Session:
    session_id: str
    call_id: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    gone: bool = False
    ringing: str | None = None  # offer_id of the leg ringing now
    leg: str | None = None  # offer_id of the operator leg ringing or connected now
    rang_at_once: int = 0  # the most legs that ever rang together (must stay ≤ 1)
    parties: dict[str, str] = field(default_factory=dict)  # party_id → ringing | connected
    removed: set[str] = field(default_factory=set)  # party ids the backend took back
    caller_left: bool = False  # the caller hung up and two or more legs talk on (seed 002)


class FakePlatform:
    def __init__(self, backend_urls: list[str], platform_token: str) -> None:
        self.backend_urls = backend_urls
        self.token = platform_token
        self.sessions: dict[str, Session] = {}
        self.scripts: dict[str, Script] = {}
        self.default_script = Script()
        self.connects_by_target: dict[str, int] = defaultdict(int)
        # Operator legs alive now (offer_id → target), and the most any target ever had at once.
        self.active_legs: dict[str, str] = {}
        self.max_legs_by_target: dict[str, int] = defaultdict(int)
        # (monotonic time, target, leg id, session, "start" | "end"), to explain a failure.
        self.leg_history: list[tuple[float, str, str, str, str]] = []
        self.app = web.Application()
        self.app.router.add_post("/request/{sid}", self._handle)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.fail_next: int = 0  # answer the next N commands with HTTP 503

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http:
            await self._http.close()
        if self._runner:
            await self._runner.cleanup()

    def access_url(self, session_id: str) -> str:
        self.sessions.setdefault(session_id, Session(session_id))
        return f"{self.base_url}/request/{session_id}"

    def script(self, address: str, script: Script) -> None:
        self.scripts[address] = script

    # -- the backend talks to us -----------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        session = self.sessions.get(sid)
        if session is None or session.gone:
            return web.Response(status=404, text="no such session")
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="busy")
        command = await request.json()
        session.commands.append(command)
        kind = command.get("command")
        target_script = self.scripts.get(str((command.get("target") or {}).get("address")))
        if kind in ("connect", "add_party") and target_script is not None and target_script.refuse:
            return web.json_response({"ok": False, "command": kind, "error": "refused"})
        if kind == "connect":
            session.call_id = command["call_id"]
            if session.leg is not None:
                # The backend asked for a second leg while one was alive: a real scenario
                # hangs the old one up first; count that it happened at all.
                session.rang_at_once = max(session.rang_at_once, 2)
                self._leg_end(session)
            target = command["target"]["address"]
            self._leg_start(session, command["offer_id"], target)
            session.rang_at_once = max(session.rang_at_once, 1)
            self.connects_by_target[target] += 1
            self._spawn(self._play(session, command, self.scripts.get(target, self.default_script)))
        elif kind == "cancel":
            # Ringing or already bridged, the leg of a dead offer is hung up.
            if session.leg == command.get("offer_id"):
                self._leg_end(session)
        elif kind == "add_party":
            party_id, target = command["party_id"], command["target"]["address"]
            if party_id in session.removed:
                # Taken back before this (retried or slow) command arrived: never dialled.
                return web.json_response({"ok": False, "command": kind, "error": "removed"})
            self._party_start(session, party_id, target)
            self.connects_by_target[target] += 1
            script = self.scripts.get(target, self.default_script)
            self._spawn(self._play_party(session, command, script))
        elif kind == "remove_party":
            party_id = command.get("party_id")
            session.removed.add(str(party_id))
            if party_id == session.leg:
                self._leg_end(session)
            else:
                self._party_end(session, party_id)
            if session.caller_left and self._talking(session) <= 1:
                self._spawn(self._end(session))
        elif kind == "hangup":
            self._spawn(self._caller_gone(session, report=False))
        return web.json_response({"ok": True, "command": kind, "offer_id": command.get("offer_id")})

    def _leg_start(self, session: Session, offer_id: str, target: str) -> None:
        alive = sum(1 for t in self.active_legs.values() if t == target) + 1
        self.max_legs_by_target[target] = max(self.max_legs_by_target[target], alive)
        self.active_legs[offer_id] = target
        self.leg_history.append((time.monotonic(), target, offer_id, session.session_id, "start"))
        session.leg = session.ringing = offer_id

    def _leg_end(self, session: Session) -> None:
        gone = self.active_legs.pop(session.leg, None) if session.leg is not None else None
        if gone is not None and session.leg is not None:
            entry = (time.monotonic(), gone, session.leg, session.session_id, "end")
            self.leg_history.append(entry)
        session.leg = session.ringing = None

    # Parties besides the owner's leg (add_party): party_id → target, alive while listed.

    def _party_start(self, session: Session, party_id: str, target: str) -> None:
        alive = sum(1 for t in self.active_legs.values() if t == target) + 1
        self.max_legs_by_target[target] = max(self.max_legs_by_target[target], alive)
        self.active_legs[party_id] = target
        self.leg_history.append((time.monotonic(), target, party_id, session.session_id, "start"))
        session.parties[party_id] = "ringing"

    def _party_end(self, session: Session, party_id: str | None) -> None:
        if party_id is not None and party_id in session.parties:
            if (gone := self.active_legs.pop(party_id, None)) is not None:
                self.leg_history.append(
                    (time.monotonic(), gone, party_id, session.session_id, "end")
                )
            del session.parties[party_id]

    async def _play_party(self, session: Session, command: dict[str, Any], script: Script) -> None:
        party_id = command["party_id"]

        def ringing() -> bool:
            return session.parties.get(party_id) == "ringing" and not session.gone

        if script.fail_code is not None or script.answer_after_s is None:
            await asyncio.sleep(0.01 if script.fail_code is not None else command["ring_timeout_s"])
            if ringing():
                self._party_end(session, party_id)
                code = script.fail_code or 408
                event = {"type": "party_failed", "party_id": party_id, "code": code}
                await self.post_event(session, {**event, "reason": "scripted"})
            return
        await asyncio.sleep(script.answer_after_s)
        if not ringing():
            return
        session.parties[party_id] = "connected"
        await self.post_event(session, {"type": "party_connected", "party_id": party_id})
        if script.talk_s is None:
            return
        await asyncio.sleep(script.talk_s)
        if session.gone or session.parties.get(party_id) != "connected":
            return
        self._party_end(session, party_id)
        if session.caller_left:
            await self._gone_without_caller(session, party_id)
            return
        others = session.leg is not None or any(v == "connected" for v in session.parties.values())
        if others:
            await self.post_event(session, {"type": "party_hung_up", "party_id": party_id})
        else:  # the last one on the line with the caller: the scenario says goodbye
            await self.post_event(session, {"type": "operator_hung_up", "party_id": party_id})
            await self._end(session)

    # -- and we report back ----------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post_event(self, session: Session, event: dict[str, Any]) -> None:
        assert self._http is not None and session.call_id is not None
        session.events.append(event)
        delay = 0.05
        for _ in range(40):
            url = random.choice(self.backend_urls)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._http.post(
                    f"{url}/api/v1/calls/{session.call_id}/events",
                    json=event,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as resp:
                    if resp.status < 500:
                        return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise AssertionError(f"could not report {event} to any backend")

    async def _play(self, session: Session, command: dict[str, Any], script: Script) -> None:
        offer_id = command["offer_id"]
        if script.fail_code is not None:
            await asyncio.sleep(0.01)
            if session.ringing == offer_id and not session.gone:
                self._leg_end(session)
                await self.post_event(
                    session,
                    {
                        "type": "operator_failed",
                        "offer_id": offer_id,
                        "code": script.fail_code,
                        "reason": "scripted",
                    },
                )
            return
        if script.answer_after_s is None:
            await asyncio.sleep(command["ring_timeout_s"])
            if session.ringing == offer_id and not session.gone:
                self._leg_end(session)
                await self.post_event(
                    session,
                    {
                        "type": "operator_failed",
                        "offer_id": offer_id,
                        "code": 408,
                        "reason": "no answer",
                    },
                )
            return
        await asyncio.sleep(script.answer_after_s)
        if session.ringing != offer_id or session.gone:
            return
        session.ringing = None
        await self.post_event(session, {"type": "operator_connected", "offer_id": offer_id})
        if script.talk_s is None:
            return
        await asyncio.sleep(script.talk_s)
        if session.gone or session.leg != offer_id:
            return
        if script.hangup_by == "caller":
            await self._caller_gone(session, report=True)
        elif session.caller_left:
            self._leg_end(session)
            await self._gone_without_caller(session, offer_id)
        elif any(v == "connected" for v in session.parties.values()):
            # The owner leaves a call with more parties: the others keep talking.
            self._leg_end(session)
            await self.post_event(session, {"type": "party_hung_up", "party_id": offer_id})
        else:
            self._leg_end(session)
            await self.post_event(session, {"type": "operator_hung_up"})
            await self._end(session)

    @staticmethod
    def _talking(session: Session) -> int:
        """The legs on the line with the caller: the owner's (answered) and the parties'."""
        owner = session.leg is not None and session.ringing != session.leg
        return int(owner) + sum(1 for v in session.parties.values() if v == "connected")

    async def _gone_without_caller(self, session: Session, party_id: str) -> None:
        await self.post_event(session, {"type": "party_hung_up", "party_id": party_id})
        if self._talking(session) <= 1:  # alone: the scenario ends the session
            await self._end(session)

    async def _caller_gone(self, session: Session, *, report: bool) -> None:
        if session.gone:
            return
        if report and not session.caller_left and self._talking(session) >= 2:
            # As the scenario does (seed 002): the others talk on in the conference; a
            # party still ringing is dropped.
            session.caller_left = True
            for party_id, st in list(session.parties.items()):
                if st != "connected":
                    self._party_end(session, party_id)
            await self.post_event(session, {"type": "caller_hung_up", "parties_stay": True})
            return
        self._leg_end(session)
        for party_id in list(session.parties):
            self._party_end(session, party_id)
        if report and session.call_id:
            await self.post_event(session, {"type": "caller_hung_up"})
        await self._end(session)

    async def _end(self, session: Session) -> None:
        for party_id in list(session.parties):
            self._party_end(session, party_id)
        if session.call_id:
            await self.post_event(session, {"type": "session_ended"})
        session.gone = True

    async def hang_up_caller(self, session_id: str) -> None:
        await self._caller_gone(self.sessions[session_id], report=True)
