"""A process holds a bounded number of connections and says so once (issue 13, item 11)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import Callable
from pathlib import Path

import aiohttp

from backend.serving import OncePerInterval, OutOfFilesFilter
from tests.support.processes import BackendProcess
from tests.support.waiting import eventually

LIMIT = 40
CLIENTS = 600  # more than the process's descriptor limit below
NOFILE = 512


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


async def test_idle_connections_beyond_the_limit_get_503_and_one_log_line(
    tmp_path: Path, db_url: str, config_file: Callable[[str], str]
) -> None:
    backend = BackendProcess(
        {
            "SWITCHBOARD_CONFIG": config_file(f"[server]\nmax_connections = {LIMIT}\n"),
            "MONGODB_URL": db_url,
            "PLATFORM_TOKEN": "platform-secret",
            "ADMIN_TOKEN": "admin-secret",
            "SECRET_KEY": "test-secret-key",
        },
        tmp_path / "backend.log",
        preexec_fn=_few_descriptors,
    )
    await backend.start()
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(CLIENTS):
            conns.append(await asyncio.open_connection("127.0.0.1", backend.port))
        # The last one is answered at once, in the error shape, and closed.
        reader = conns[-1][0]
        answer = await asyncio.wait_for(reader.read(), timeout=5)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b'"too_many_connections"' in answer
        # A connection within the limit still works.
        reader, writer = conns[0]
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), timeout=5)).startswith(b"HTTP/1.1 200")
    finally:
        for _, w in conns:
            w.close()
        for _, w in conns:
            with contextlib.suppress(OSError):
                await w.wait_closed()

    async def healthy() -> bool:
        async with aiohttp.ClientSession() as http, http.get(f"{backend.url}/healthz") as resp:
            return resp.status == 200

    try:
        await eventually(healthy, timeout=10, message="a healthy backend")
        text = backend.log_path.read_text()
        assert text.count("connection limit reached") == 1, text[-3000:]
        assert "Too many open files" not in text
    finally:
        backend.stop()


def test_once_per_interval_counts_what_it_left_unsaid() -> None:
    now = [0.0]
    gate = OncePerInterval(60, clock=lambda: now[0])
    assert gate.due() == (True, 0)
    assert gate.due() == (False, 0)
    assert gate.due() == (False, 0)
    now[0] = 61
    assert gate.due() == (True, 2)


def test_out_of_files_is_logged_once_per_interval() -> None:
    flt = OutOfFilesFilter(interval_s=3600)

    def record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, info)

    emfile = OSError(24, "Too many open files")
    assert flt.filter(record("socket.accept() out of system resource", emfile))
    assert not flt.filter(record("socket.accept() out of system resource", emfile))
    assert not flt.filter(record("[Errno 24] Too many open files"))
    assert flt.filter(record("something else"))
