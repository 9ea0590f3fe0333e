"""End to end: real backend processes on a fresh database, the real scenario in the emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.emulator import (
    INBOUND,
    EmulatorClient,
    EmulatorProcess,
    Session,
    write_scenario_config,
)
from tests.support.processes import BackendProcess

PLATFORM_TOKEN = "platform-secret-e2e"
ADMIN_TOKEN = "admin-secret-e2e"

# Fast timers; ring_timeout_s stays at the platform's 10 s minimum for VI-CallTimeout.
E2E_CONFIG = """
[routing]
ring_timeout_s = 10
offer_grace_s = 2
no_answer_delay_s = 1
max_no_answer = 3
ban_minutes = 0.05
ban_cap_minutes = 0.2
wrap_up_s = 0
presence_grace_s = 600
sweep_interval_s = 0.5
queued_check_s = 30

[manager]
# The pin question after an operator hangs up: a short timeout keeps goodbyes quick.
pin_timeout_s = 2
"""


class LiveBackend:
    """A backend process as the Procfile runs it, restartable on the same port and database."""

    def __init__(self, env: dict[str, str], log_path: Path, http: aiohttp.ClientSession) -> None:
        self.env = env
        self.log_path = log_path
        self.http = http
        self.proc = BackendProcess(env, log_path)
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @property
    def url(self) -> str:
        return self.proc.url

    async def start(self) -> None:
        await self.proc.start()

    async def crash_and_restart(self) -> None:
        """SIGKILL, then a new process on the same port (the scenario's backendUrl)."""
        port = self.proc.port
        self.proc.kill()
        self.proc = BackendProcess(self.env, self.log_path)
        self.proc.port = port
        self.proc.url = f"http://127.0.0.1:{port}"
        self.proc.env["PORT"] = str(port)
        await self.proc.start()

    def stop(self) -> None:
        self.proc.stop()

    async def _json(self, method: str, path: str, expect: tuple[int, ...], **kw: Any) -> Any:
        async with self.http.request(method, self.url + path, **kw) as resp:
            body = await resp.json()
            assert resp.status in expect, f"{method} {path}: {resp.status} {body}"
            return body

    async def ready_operator(self, login: str, password: str = "password-1") -> dict[str, str]:
        """Creates the operator (a Web SDK user named like the login) and sets them Ready."""
        await self._json(
            "PUT",
            f"/api/v1/operators/{login}",
            (200, 201),
            headers=self.admin,
            json={
                "name": login.title(),
                "password": password,
                "address": {"type": "user", "address": login},
                "groups": [{"name": "default", "level": 1}],
            },
        )
        login_reply = await self._json(
            "POST", "/api/v1/auth/login", (200,), json={"login": login, "password": password}
        )
        auth = {"Authorization": f"Bearer {login_reply['token']}"}
        await self._json(
            "POST", "/api/v1/me/status", (200,), headers=auth, json={"status": "ready"}
        )
        return auth

    async def call(self, call_id: str) -> dict[str, Any]:
        return dict(await self._json("GET", f"/api/v1/calls/{call_id}", (200,), headers=self.admin))

    async def operator(self, login: str) -> dict[str, Any]:
        return dict(
            await self._json("GET", f"/api/v1/operators/{login}", (200,), headers=self.admin)
        )


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    proc = EmulatorProcess(log)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


@pytest.fixture
async def emulator(
    emulator_process: EmulatorProcess, http: aiohttp.ClientSession
) -> AsyncIterator[EmulatorClient]:
    client = EmulatorClient(emulator_process.control_url, http)
    await client.reset_callees()
    yield client
    await client.reset_callees()


@pytest.fixture
async def live_backend(
    db_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[LiveBackend]:
    config = tmp_path / "e2e.toml"
    config.write_text(E2E_CONFIG)
    env = {
        "PLATFORM_TOKEN": PLATFORM_TOKEN,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "e2e-secret-key",
        "MONGODB_URL": db_url,
        "SWITCHBOARD_CONFIG": str(config),
        "LOG_LEVEL": "WARNING",
    }
    backend = LiveBackend(env, tmp_path / "backend.log", http)
    await backend.start()
    yield backend
    backend.stop()


@pytest.fixture
def scenarios(tmp_path: Path, live_backend: LiveBackend) -> list[Path]:
    """The routing rule's scenario list: config.voxengine.js pointing at the test backend, then
    the real inbound scenario."""
    config = write_scenario_config(
        tmp_path / "config.voxengine.js",
        live_backend.url,
        PLATFORM_TOKEN,
        announceEverySec=30,
        ringTimeoutSec=10,
        httpRetries=4,
    )
    return [config, INBOUND]


async def registered_call_id(session: Session, backend: LiveBackend) -> str:
    """The call_id the backend gave the scenario (from the session's HTTP log)."""
    entry = await session.wait(
        "http_response",
        {"url": f"{backend.url}/api/v1/calls", "body": {"call_id": {"$exists": True}}},
    )
    return str(entry["body"]["call_id"])


MakeLiveBackend = Callable[[str], Awaitable[LiveBackend]]


@pytest.fixture
async def make_live_backend(
    db_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[MakeLiveBackend]:
    """Starts a backend process with E2E_CONFIG plus the test's own TOML (merged after it)."""
    started: list[LiveBackend] = []

    async def make(extra_toml: str) -> LiveBackend:
        base = tmp_path / "e2e.toml"
        base.write_text(E2E_CONFIG)
        own = tmp_path / f"e2e-own-{len(started)}.toml"
        own.write_text(extra_toml)
        env = {
            "PLATFORM_TOKEN": PLATFORM_TOKEN,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRET_KEY": "e2e-secret-key",
            "MONGODB_URL": db_url,
            "SWITCHBOARD_CONFIG": os.pathsep.join([str(base), str(own)]),
            "LOG_LEVEL": "WARNING",
        }
        backend = LiveBackend(env, tmp_path / f"backend-{len(started)}.log", http)
        started.append(backend)
        await backend.start()
        return backend

    yield make
    for backend in started:
        backend.stop()


def scenarios_for(tmp_path: Path, backend: LiveBackend, **overrides: Any) -> list[Path]:
    """The routing rule's scenario list for `backend`, with config.voxengine.js overrides."""
    settings: dict[str, Any] = {"announceEverySec": 30, "ringTimeoutSec": 10, "httpRetries": 4}
    config = write_scenario_config(
        tmp_path / "config.voxengine.js",
        backend.url,
        PLATFORM_TOKEN,
        **{**settings, **overrides},
    )
    return [config, INBOUND]
