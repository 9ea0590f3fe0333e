"""Fixtures: one real SecantusDB server per test session, a fresh database per test."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo import MongoClient

from backend.adapters.embedded_db import EmbeddedMongo
from backend.app import create_app
from backend.keys import ENGINE, FEED, SECRETS
from backend.services.engine import Engine
from backend.settings import Settings, load_settings
from tests.support.fake_platform import FakePlatform

# Short timers so tests finish quickly; every value is still exercised through the same code.
TEST_CONFIG = """
[routing]
ring_timeout_s = 10
offer_grace_s = 1
no_answer_delay_s = 1
max_no_answer = 3
ban_minutes = 0.05
ban_cap_minutes = 0.2
wrap_up_s = 0
presence_grace_s = 600
sweep_interval_s = 0.5
heartbeat_interval_s = 5
queued_check_s = 30
"""

# Load tests and long simulation runs are not traced for `make test`'s coverage (pytest-cov's
# no_cover marker): tracing doubles the CPU time of a test that is CPU-bound, which pushed the
# 1,000-call start-up past its time limit; the core they drive is covered by the unit tests.
UNTRACED = (
    "tests/simulation/",
    "tests/integration/test_flat_cost.py",
    "tests/integration/test_multiprocess.py",
    "tests/integration/test_read_view.py::test_a_process_started_with_1000_waiting_calls",
)


# The longest modules go first, so that `make test`'s two workers (pytest -n 2 --dist
# loadfile: a module runs whole on one worker) end together on short ones instead of one
# waiting for the other's last long module.
LONG_FIRST = (
    "tests/simulation/test_erlang_c.py",
    "tests/integration/test_read_view.py",
    "tests/integration/test_flat_cost.py",
    "tests/browser/test_desk_browser.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Stable, and whole modules move: the workers must all collect the same order.
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))
    if not config.pluginmanager.hasplugin("_cov"):
        return
    for item in items:
        if item.nodeid.startswith(UNTRACED):
            item.add_marker(pytest.mark.no_cover)


@pytest.fixture(scope="session")
def mongo_server_url() -> Iterator[str]:
    """A real MongoDB-wire server: MONGODB_URL if given, else SecantusDB as a child process."""
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="switchboard-test-db-") as tmp:
        server = EmbeddedMongo(Path(tmp) / "data", log_path=Path(tmp) / "secantus.log")
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


def _with_db(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rstrip("/")
    # A URL that already names a database keeps its host part only.
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/")[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def db_url(request: pytest.FixtureRequest, mongo_server_url: str) -> Iterator[str]:
    name = "t_" + uuid.uuid4().hex[:12]
    if request.node.get_closest_marker("own_db_server") and not os.environ.get("MONGODB_URL"):
        # A heavy test gets a server of its own: the 100,000 stored calls, the oplog of a
        # 500-call race and the cursors of a killed process stay out of the shared server,
        # where they made every later test slower (the 1,000-call start-up took 4x as long).
        with tempfile.TemporaryDirectory(prefix="switchboard-own-db-") as tmp:
            own = EmbeddedMongo(Path(tmp) / "data", log_path=Path(tmp) / "secantus.log")
            own.start()
            try:
                yield _with_db(own.url, name)
            finally:
                own.stop(timeout_s=1.0)  # thrown away: no clean shutdown needed
        return
    yield _with_db(mongo_server_url, name)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_server_url)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], str]:
    """The test timings, then the test's own overrides, as SWITCHBOARD_CONFIG's file list."""

    def write(extra: str = "") -> str:
        base = tmp_path / "test.toml"
        base.write_text(TEST_CONFIG)
        own = tmp_path / "test-extra.toml"
        own.write_text(extra)
        return os.pathsep.join([str(base), str(own)])

    return write


@pytest.fixture
def make_settings(db_url: str, config_file: Callable[[str], str]) -> Callable[..., Settings]:
    def make(extra_config: str = "", **overrides: Any) -> Settings:
        env = {
            "SWITCHBOARD_CONFIG": config_file(extra_config),
            "MONGODB_URL": db_url,
            "PLATFORM_TOKEN": "platform-secret",
            "ADMIN_TOKEN": "admin-secret",
            "SECRET_KEY": "test-secret-key",
        }
        return load_settings(env, **overrides)

    return make


class Backend:
    """The app under test with helpers for the three kinds of caller."""

    def __init__(self, client: TestClient[Any, Any], platform: FakePlatform) -> None:
        self.client = client
        self.platform = platform
        self.app = client.app
        assert self.app is not None
        self.engine: Engine = self.app[ENGINE]
        self.store = self.engine.store
        secrets = self.app[SECRETS]
        self.admin = {"Authorization": f"Bearer {secrets['admin_token']}"}
        self.plat = {"Authorization": f"Bearer {secrets['platform_token']}"}
        self._sessions = 0

    async def view_synced(self) -> None:
        """Writes made behind this process's back (another process's) are now in its view."""
        await self.app[FEED].sync()

    async def add_operator(
        self,
        login: str,
        groups: list[tuple[str, int]] | None = None,
        password: str = "password-1",
        *,
        role: str = "operator",
        name: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "name": login.title() if name is None else name,
            "password": password,
            "role": role,
            "address": {"type": "user", "address": login},
            "groups": [{"name": g, "level": lvl} for g, lvl in (groups or [("default", 1)])],
        }
        resp = await self.client.put(f"/api/v1/operators/{login}", json=body, headers=self.admin)
        assert resp.status in (200, 201), await resp.text()
        return dict(await resp.json())

    async def login(self, login: str, password: str = "password-1") -> dict[str, str]:
        resp = await self.client.post(
            "/api/v1/auth/login", json={"login": login, "password": password}
        )
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}

    async def set_status(
        self, auth: dict[str, str], status: str, reason: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if reason:
            body["reason"] = reason
        resp = await self.client.post("/api/v1/me/status", json=body, headers=auth)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def ready_operator(
        self, login: str, groups: list[tuple[str, int]] | None = None
    ) -> dict[str, str]:
        await self.add_operator(login, groups)
        auth = await self.login(login)
        await self.set_status(auth, "ready")
        return auth

    async def place_call(self, **fields: Any) -> dict[str, Any]:
        self._sessions += 1
        sid = fields.pop("session_id", f"s{self._sessions}-{uuid.uuid4().hex[:6]}")
        body = {
            "session_id": sid,
            "access_url": self.platform.access_url(sid),
            "caller": fields.pop("caller", "+15550000001"),
            "destination": fields.pop("destination", "+15559990000"),
            "display_name": "Caller",
            "media": fields.pop("media", "voice"),
            "custom_data": fields.pop("custom_data", ""),
            "headers": fields.pop("headers", {}),
            **fields,
        }
        resp = await self.client.post("/api/v1/calls", json=body, headers=self.plat)
        assert resp.status in (200, 201), await resp.text()
        data = dict(await resp.json())
        data["session_id"] = sid
        # The scenario learns its call_id from this reply.
        self.platform.sessions[sid].call_id = data["call_id"]
        return data

    async def call(self, call_id: str) -> dict[str, Any]:
        resp = await self.client.get(f"/api/v1/calls/{call_id}", headers=self.admin)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def operator(self, login: str) -> dict[str, Any]:
        resp = await self.client.get(f"/api/v1/operators/{login}", headers=self.admin)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], aiohttp_client: Any
) -> AsyncIterator[Callable[..., Awaitable[Backend]]]:
    # make_settings (and so the database) comes first: fixtures are torn down in reverse,
    # so the apps close while their database still answers, as in production.
    platforms: list[FakePlatform] = []

    async def make(extra_config: str = "", **overrides: Any) -> Backend:
        settings = make_settings(extra_config, **overrides)
        platform = FakePlatform([], "platform-secret")
        await platform.start()
        platforms.append(platform)
        client = await aiohttp_client(create_app(settings))
        platform.backend_urls.append(str(client.make_url("")).rstrip("/"))
        return Backend(client, platform)

    yield make
    for p in platforms:
        await p.close()


@pytest.fixture
async def backend(make_backend: Callable[..., Awaitable[Backend]]) -> Backend:
    return await make_backend()
