"""`python -m backend` with its embedded database: it says how to join it, survives the
database's death with fast 503s, and never leaves it orphaned (issue 13, items 9 and 10)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backend.adapters.embedded_db import STATE_FILE
from tests.support.processes import BackendProcess
from tests.support.waiting import eventually

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def start_backend(
    tmp_path: Path, config_file: Callable[[str], str]
) -> Iterator[Callable[[], BackendProcess]]:
    """Backends on one embedded data folder, started the way the Procfile starts them."""
    started: list[BackendProcess] = []
    config = config_file(f'[server]\nembedded_db_path = "{tmp_path / "db"}"\n')

    def make() -> BackendProcess:
        proc = BackendProcess(
            {
                "SWITCHBOARD_CONFIG": config,
                "PLATFORM_TOKEN": "platform-secret",
                "ADMIN_TOKEN": "admin-secret",
                "SECRET_KEY": "test-secret-key",
            },
            tmp_path / f"backend-{len(started)}.log",
            unset=("MONGODB_URL",),
        )
        started.append(proc)
        return proc

    yield make
    for p in started:
        p.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    return True


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any, float]:
    t0 = time.monotonic()
    async with http.get(url, headers=ADMIN) as resp:
        body = await resp.json(content_type=None)
        return resp.status, body, time.monotonic() - t0


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


async def test_database_death_gives_fast_503s_then_a_restart_with_the_data(
    tmp_path: Path, start_backend: Callable[[], BackendProcess], http: aiohttp.ClientSession
) -> None:
    backend = start_backend()
    await backend.start()
    state = json.loads((tmp_path / "db" / STATE_FILE).read_text())
    # It prints the URL a second web process joins with.
    assert f"MONGODB_URL=mongodb://127.0.0.1:{state['port']}/switchboard" in (
        backend.log_path.read_text()
    )
    body = {
        "name": "Ann",
        "password": "password-1",
        "address": {"type": "user", "address": "ann"},
        "groups": [{"name": "default", "level": 1}],
    }
    async with http.put(f"{backend.url}/api/v1/operators/ann", json=body, headers=ADMIN) as r:
        assert r.status == 201

    os.kill(state["pid"], signal.SIGKILL)
    # Hold the folder's lock, as an orphan would, so that the restarts fail for a while.
    lock_file = tmp_path / "db" / "WiredTiger.lock"
    fd = await eventually(
        lambda: asyncio.to_thread(_try_lock, lock_file), timeout=5, message="the lock"
    )
    try:
        status, health, took = await _get(http, f"{backend.url}/healthz")
        assert (status, took < 1.0) == (503, True), (health, took)
        failing = "already being managed by another process"
        await eventually(
            lambda: asyncio.to_thread(lambda: failing in backend.log_path.read_text()),
            message="a failed restart",
        )
        status, answer, took = await _get(http, f"{backend.url}/api/v1/operators")
        assert status == 503 and took < 1.0, (answer, took)
        assert answer["error"]["code"] == "database_unavailable"
        assert failing in answer["error"]["message"]  # the real cause, from the database's log
        status, health, took = await _get(http, f"{backend.url}/healthz")
        assert (status, health["error"]["code"], took < 1.0) == (503, "database_unavailable", True)
    finally:
        os.close(fd)

    async def healthy() -> bool:
        return (await _get(http, f"{backend.url}/healthz"))[0] == 200

    await eventually(healthy, timeout=20, message="the restarted database")
    status, operators, _ = await _get(http, f"{backend.url}/api/v1/operators")
    assert status == 200
    assert [o["login"] for o in operators["operators"]] == ["ann"]


async def test_the_database_dies_with_a_killed_backend_and_the_next_start_works(
    tmp_path: Path, start_backend: Callable[[], BackendProcess], http: aiohttp.ClientSession
) -> None:
    first = start_backend()
    await first.start()
    state = json.loads((tmp_path / "db" / STATE_FILE).read_text())
    assert _alive(state["pid"])
    first.kill()
    # SIGTERM first (a clean shutdown may take the watchdog's whole 10 s grace on a busy
    # machine: CI once took longer), then SIGKILL: the bound is the grace plus a margin.
    await eventually(
        lambda: asyncio.to_thread(lambda: not _alive(state["pid"])),
        timeout=20,
        message="the orphaned database to end",
    )
    second = start_backend()
    await second.start()
    again = json.loads((tmp_path / "db" / STATE_FILE).read_text())
    assert again["port"] == state["port"] and again["pid"] != state["pid"]
