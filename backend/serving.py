"""Serving the app with a bounded number of connections per process.

About 21,000 idle connections once exhausted the process's file descriptors and asyncio wrote
42 MB of "Too many open files". Here a process holds at most `max_connections` client
connections (never more than its descriptor limit allows, less a reserve for the database
pool, the listening backlog and its files); a connection beyond that is answered at once with
503 in the API's error shape and closed. Both that condition and running out of descriptors
anyway are logged once per interval, with a count. Many idle clients belong behind a reverse
proxy (see README, "Deploying"), which holds them cheaply and keeps few connections to us.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit

from backend.cancelling import cancel_and_wait

log = logging.getLogger("switchboard.serving")

# Descriptors kept free beside client connections: the MongoDB pool (100 by default), a
# listening backlog's worth of sockets accepted in one burst, log and data files.
FD_RESERVE = 256
BACKLOG = 128
_NO_FDS = (errno.EMFILE, errno.ENFILE)

_BUSY_BODY = json.dumps(
    {
        "error": {
            "code": "too_many_connections",
            "message": "this process holds as many connections as it may; try again shortly",
            "field": None,
        }
    }
).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
    + str(len(_BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + _BUSY_BODY
)


class OncePerInterval:
    """Say something at most once per interval; count what was left unsaid."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last: float | None = None
        self.suppressed = 0

    def due(self) -> tuple[bool, int]:
        """(True, how many were suppressed since the last time) when it is time to say it."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            self.suppressed += 1
            return False, 0
        self.last, skipped, self.suppressed = now, self.suppressed, 0
        return True, skipped


def _is_out_of_fds(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, OSError) and exc.errno in _NO_FDS:
        return True
    return "Too many open files" in record.getMessage()


class OutOfFilesFilter(logging.Filter):
    """A logging filter: 'Too many open files' at most once per interval, whoever logs it."""

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.gate = OncePerInterval(interval_s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not _is_out_of_fds(record):
            return True
        ok, skipped = self.gate.due()
        if ok and skipped:
            record.msg = f"{record.msg} ({skipped} more like this not logged)"
        return ok


def connection_limit(configured: int) -> int:
    """`configured`, but never beyond what the descriptor limit leaves after the reserve."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(16, min(configured, soft - FD_RESERVE))


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class BoundedSite(web.TCPSite):
    """A TCP site that refuses connections beyond `limit` instead of running out of fds."""

    def __init__(
        self, runner: web.AppRunner, port: int, limit: int, log_interval_s: float = 60.0
    ) -> None:
        super().__init__(runner, port=port, backlog=BACKLOG)
        self.limit = limit
        self.refusals = OncePerInterval(log_interval_s)
        self.refused_total = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            open_now = len(server.connections)
            if open_now < self.limit:
                return server()
            self.refused_total += 1
            ok, skipped = self.refusals.due()
            if ok:
                log.warning(
                    "connection limit reached: %d open (max_connections %d); refusing new "
                    "connections with 503 (%d refused since the last report)",
                    open_now,
                    self.limit,
                    skipped + 1,
                )
            return _Refused()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )


def _exception_handler(gate: OncePerInterval) -> Callable[..., None]:
    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _NO_FDS:
            ok, skipped = gate.due()
            if ok:
                log.error(
                    "out of file descriptors (%s): %s (%d more like this not logged)",
                    exc,
                    context.get("message", ""),
                    skipped,
                )
            return
        loop.default_exception_handler(context)

    return handle


async def _serve(
    app: web.Application, port: int, max_connections: int, options: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_exception_handler(OncePerInterval(60.0)))
    on_listening = options.pop("on_listening", None)
    runner = web.AppRunner(app, handle_signals=True, **options)
    await runner.setup()
    try:
        site = BoundedSite(runner, port, connection_limit(max_connections))
        await site.start()
        if on_listening is not None:
            on_listening()  # only once the port is bound
        await asyncio.Event().wait()  # until SIGINT or SIGTERM
    finally:
        await runner.cleanup()


def run(app: web.Application, port: int, max_connections: int, **options: Any) -> None:
    """Like `web.run_app`, with the connection bound; returns after SIGINT or SIGTERM.

    `on_listening` is called once the port is bound; other options go to the AppRunner
    (`access_log_class`). A port that cannot be bound raises OSError.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, port, max_connections, options))
    try:
        loop.run_until_complete(main)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError, GracefulExit, KeyboardInterrupt):
                loop.run_until_complete(main)
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        with contextlib.suppress(Exception):
            loop.run_until_complete(cancel_and_wait(pending))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
