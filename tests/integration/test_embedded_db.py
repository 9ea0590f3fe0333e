"""The embedded database's folder, port and identity (issue 13, items 9 and 10)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from backend.adapters.embedded_db import STATE_FILE, EmbeddedDBError, EmbeddedMongo, free_port
from tests.support.waiting import eventually


@pytest.fixture
def servers() -> Iterator[list[EmbeddedMongo]]:
    started: list[EmbeddedMongo] = []
    yield started
    for s in started:
        s.stop()


def _start(servers: list[EmbeddedMongo], folder: Path, port: int = 0) -> EmbeddedMongo:
    server = EmbeddedMongo(folder, port=port)
    servers.append(server)
    server.start()
    return server


def _count(url: str, coll: str) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(url)
    try:
        return client["switchboard"][coll].count_documents({})
    finally:
        client.close()


def test_each_folder_picks_its_own_port_and_remembers_it(
    tmp_path: Path, servers: list[EmbeddedMongo]
) -> None:
    a = _start(servers, tmp_path / "a")
    b = _start(servers, tmp_path / "b")
    assert a.port != b.port
    remembered = json.loads((tmp_path / "a" / STATE_FILE).read_text())
    assert remembered["port"] == a.port
    assert remembered["pid"] == a.process.pid if a.process else False
    port = a.port
    a.stop()
    again = _start(servers, tmp_path / "a")
    assert again.port == port
    assert again.identity == remembered["identity"]


def test_a_server_on_the_remembered_port_that_is_not_ours_is_never_used(
    tmp_path: Path, servers: list[EmbeddedMongo]
) -> None:
    other = _start(servers, tmp_path / "other")
    client: MongoClient[dict[str, Any]] = MongoClient(other.url)
    client["switchboard"]["operators"].insert_one({"_id": "theirs"})
    client.close()
    # A folder that remembers the port the other server now holds (as the fixed 27817 did).
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / STATE_FILE).write_text(json.dumps({"port": other.port, "identity": uuid.uuid4().hex}))
    own = _start(servers, mine)
    assert own.port != other.port
    assert _count(own.url, "operators") == 0
    assert json.loads((mine / STATE_FILE).read_text())["port"] == own.port
    # With the port fixed in the configuration, start-up refuses instead of moving.
    with pytest.raises(EmbeddedDBError, match="not with the embedded database"):
        _start(servers, tmp_path / "fixed", port=other.port)


def test_a_second_instance_on_the_same_folder_is_told_how_to_join(
    tmp_path: Path, servers: list[EmbeddedMongo]
) -> None:
    first = _start(servers, tmp_path / "db")
    with pytest.raises(EmbeddedDBError) as e:
        _start(servers, tmp_path / "db")
    assert "already running" in str(e.value)
    assert f"MONGODB_URL=mongodb://127.0.0.1:{first.port}/switchboard" in str(e.value)


def test_a_start_that_fails_reports_the_cause_from_the_log(
    tmp_path: Path, servers: list[EmbeddedMongo]
) -> None:
    _start(servers, tmp_path / "db")
    # Another server on the same folder (here on another port) cannot take its lock.
    with pytest.raises(EmbeddedDBError) as e:
        _start(servers, tmp_path / "db", port=free_port())
    message = str(e.value)
    assert "already being managed by another process" in message
    assert "extra installed" not in message


def _lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


async def test_supervision_restarts_it_then_gives_up_when_it_keeps_dying(
    tmp_path: Path, servers: list[EmbeddedMongo]
) -> None:
    server = _start(servers, tmp_path / "db")
    server.max_restarts = 2
    task = asyncio.create_task(server.supervise(poll_s=0.02))
    try:
        assert server.process is not None
        first = server.process.pid
        os.kill(first, signal.SIGKILL)

        async def restarted() -> bool:
            p = server.process
            return server.state.up and p is not None and p.pid != first and p.poll() is None

        await eventually(restarted, timeout=20, message="a restart")
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        # The folder stays locked (as by an orphan): every further start fails.
        fd = await eventually(
            lambda: asyncio.to_thread(_lock, tmp_path / "db" / "WiredTiger.lock"), timeout=5
        )
        try:
            await asyncio.wait_for(task, timeout=30)
        finally:
            os.close(fd)
        assert server.state.gave_up and not server.state.up
        assert "already being managed by another process" in server.state.reason
    finally:
        task.cancel()
