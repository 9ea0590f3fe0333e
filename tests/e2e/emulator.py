"""The VoxEngine emulator (tests/voxengine/emulator.js) as a child process, and its control API.

Tests place inbound calls that run the real cloud scenario, script what dialled operators do,
hang up parties, and wait on the session log (never on fixed sleeps).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "tests" / "voxengine" / "emulator.js"
CLOUD_SCRIPTS = ROOT / "cloud_scripts"
INBOUND = CLOUD_SCRIPTS / "inbound.voxengine.js"
NODE = os.environ.get("NODE", "node")


class EmulatorProcess:
    """`node emulator.js --port 0 …`; the control URL comes from its first stdout line."""

    def __init__(self, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        # Serve the secure access URL over plain HTTP: the backend prefers it for commands.
        self.args = ["--port", "0", "--secure-access-scheme", "http", "--verbose", *args]
        self.proc: subprocess.Popen[bytes] | None = None
        self.control_url = ""

    def start(self, timeout_s: float = 10.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [NODE, str(EMULATOR), *self.args],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                self.stop()
                raise RuntimeError(f"emulator did not start: {self.log_tail()}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"emulator exited: {self.log_tail()}")
        self.control_url = json.loads(line)["control_url"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-chars:]
        except FileNotFoundError:
            return ""


class EmulatorError(AssertionError):
    pass


class EmulatorClient:
    """Async client for the control API."""

    def __init__(self, control_url: str, http: aiohttp.ClientSession) -> None:
        self.url = control_url
        self.http = http

    async def _request(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        async with self.http.request(method, self.url + path, json=body, params=params) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise EmulatorError(f"{method} {path}: {resp.status} {json.dumps(data)[:3000]}")
            return data

    async def place_call(
        self,
        scenarios: list[Path],
        *,
        callerid: str = "+15550000001",
        destination: str = "+15559990000",
        display_name: str = "Caller",
        headers: dict[str, str] | None = None,
        custom_data: str | None = None,
        video: bool = False,
        options: dict[str, float] | None = None,
    ) -> Session:
        body: dict[str, Any] = {
            "scenarios": [str(p) for p in scenarios],
            "callerid": callerid,
            "destination": destination,
            "display_name": display_name,
            "headers": headers or {},
            "video": video,
            "options": options or {},
        }
        if custom_data is not None:
            body["custom_data"] = custom_data
        reply = await self._request("POST", "/calls", body)
        return Session(self, str(reply["session_id"]), str(reply["access_url"]))

    async def start_scenarios(
        self, scenarios: list[Path], script_custom_data: str
    ) -> tuple[Session, dict[str, Any]]:
        """A session as the Management API's StartScenarios starts one: Started, no CallAlerting.
        Returns the session and the StartScenarios-shaped answer."""
        body = {"scenarios": [str(p) for p in scenarios], "script_custom_data": script_custom_data}
        reply: dict[str, Any] = await self._request("POST", "/scenarios", body)
        session = Session(self, str(reply["session_id"]), str(reply["media_session_access_url"]))
        return session, reply

    async def script_callee(self, address: str, action: str, **behaviour: Any) -> None:
        """answer | busy | decline | no_answer | fail, with after_ms, hangup_after_ms, code."""
        await self._request("POST", "/callees", {"address": address, "action": action, **behaviour})

    async def reset_callees(self) -> None:
        await self._request("DELETE", "/callees")


class Session:
    """One emulated call session: its log, legs and the caller's and callees' actions."""

    def __init__(self, client: EmulatorClient, session_id: str, access_url: str) -> None:
        self.client = client
        self.id = session_id
        self.access_url = access_url

    async def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.client._request("GET", f"/sessions/{self.id}")
        return data

    async def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = (await self.snapshot())["log"]
        return [e for e in log if kind is None or e["kind"] == kind]

    async def wait(
        self,
        kind: str,
        match: dict[str, Any] | None = None,
        *,
        after: int = 0,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """The first log entry of `kind` (past or future) whose fields include `match`.

        String values may be {"$contains": "..."} or {"$regex": "..."}.
        """
        deadline = time.monotonic() + timeout
        params = {"kind": kind, "match": json.dumps(match or {}), "after": str(after)}
        while True:
            # Long-poll in slices so one slow wait cannot outlive the HTTP client's timeout.
            left = deadline - time.monotonic()
            params["timeout_ms"] = str(int(max(0.05, min(left, 20.0)) * 1000))
            path = f"/sessions/{self.id}/wait"
            async with self.client.http.get(self.client.url + path, params=params) as resp:
                data = await resp.json()
                if resp.status == 200:
                    return dict(data)
                if resp.status != 408 or time.monotonic() >= deadline:
                    raise EmulatorError(
                        f"session {self.id}: no {kind} matching {match} within {timeout}s; "
                        f"{json.dumps(data)[:4000]}"
                    )

    async def hangup_caller(self) -> None:
        await self.client._request("POST", f"/sessions/{self.id}/hangup_caller")

    async def hangup_leg(self, ref: str) -> None:
        """The remote party of a leg hangs up; `ref` is a leg id or a dialled address."""
        await self.client._request("POST", f"/sessions/{self.id}/legs/{ref}/hangup")

    async def say(self, text: str, confidence: float | None = None) -> list[str]:
        """The caller speaks; returns the ids of the recognisers that heard it (those the
        caller's media is sent to right now)."""
        body: dict[str, Any] = {"text": text}
        if confidence is not None:
            body["confidence"] = confidence
        reply = await self.client._request("POST", f"/sessions/{self.id}/say", body)
        return list(reply["heard_by"])

    async def press(self, digits: str) -> str:
        """The caller presses keys; returns those delivered (only after handleTones(true))."""
        reply = await self.client._request("POST", f"/sessions/{self.id}/press", {"digits": digits})
        return str(reply["delivered"])

    async def problems(self) -> list[dict[str, Any]]:
        """Scenario errors and platform-rule violations in the log."""
        return [e for e in await self.entries() if e["kind"] in ("error", "violation")]


def write_scenario_config(
    path: Path, backend_url: str, platform_token: str, **overrides: Any
) -> Path:
    """A config.voxengine.js, run before inbound.voxengine.js as the routing rule does."""
    config = {
        "backendUrl": backend_url,
        "platformToken": platform_token,
        "musicUrl": "http://media.invalid/hold-music.mp3",
        **overrides,
    }
    path.write_text(f"var SWITCHBOARD_CONFIG = {json.dumps(config, indent=2)};\n")
    return path
