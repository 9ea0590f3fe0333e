"""The embedded database: a SecantusDB server run as a child process (never imported: GPL-2.0).

Each data folder has its own database, its own port and its own identity:

- The port is chosen free on first use and remembered in the folder (`switchboard-embedded.json`),
  so two checkouts or instances never meet on one port.
- On creation the database is marked with the folder's identity (a random id, in the
  `_switchboard.identity` collection); a server that answers on the port without that mark, or
  whose process is not the child just started, is refused, never used.
- The child dies with its parent: PR_SET_PDEATHSIG on Linux, and a small watchdog process
  (`python -m backend.adapters.db_watchdog`) that ends it once the parent is gone, anywhere.
- `supervise()` restarts it when it dies (a bounded number of times); while it is down
  `state.up` is False, which the app turns into fast 503s. Why it died comes from its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient, WriteConcern
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

STATE_FILE = "switchboard-embedded.json"
IDENTITY_DB = "_switchboard"
IDENTITY_COLLECTION = "identity"
# Requests fail fast while the embedded server restarts; a restart takes about a second.
URL_OPTIONS = "directConnection=true&serverSelectionTimeoutMS=5000"
_PR_SET_PDEATHSIG = 1


class EmbeddedDBError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _prctl() -> Any:
    """libc's prctl, looked up in the parent (no dlopen between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int, prctl: Any) -> Callable[[], None]:
    """What the child runs between fork and exec: SIGTERM when the parent dies (Linux)."""

    def run() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return run


def _exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class DatabaseState:
    """What the app knows about its database: whether it is up and, when not, why."""

    up: bool = True
    reason: str = ""
    gave_up: bool = False
    restarts: deque[float] = field(default_factory=deque)


class EmbeddedMongo:
    """Start `python -m secantus` for one data folder; stop it (and only it) on close."""

    def __init__(
        self,
        storage_path: str | Path,
        port: int = 0,
        log_path: Path | None = None,
        *,
        max_restarts: int = 5,
        restart_window_s: float = 60.0,
    ):
        self.storage_path = str(storage_path)
        self.in_memory = self.storage_path == ":memory:"
        self.fixed_port = port  # 0: the folder's own port, chosen once and remembered
        self.port = port
        self.log_path = log_path
        if log_path is None and not self.in_memory:
            self.log_path = Path(self.storage_path) / "secantus.log"
        self.identity = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.state = DatabaseState()
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self._log_offset = 0
        self._stopping = False
        self._started = False  # once up, the port is fixed for this object's lifetime

    # -- the folder's port and identity ----------------------------------------------

    @property
    def state_path(self) -> Path:
        return Path(self.storage_path) / STATE_FILE

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?{URL_OPTIONS}"

    def url_for(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}?{URL_OPTIONS}"

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, **extra: Any) -> None:
        if self.in_memory:
            return
        data = {"port": self.port, "identity": self.identity, **extra}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.state_path)

    def _choose_port(self) -> None:
        """The folder's remembered port, unless something else holds it (then a new one)."""
        state = {} if self.in_memory else self._read_state()
        self.identity = self.identity or str(state.get("identity") or "")
        if not self.identity:
            self.identity = uuid.uuid4().hex
        if self.fixed_port:
            self.port = self.fixed_port
        elif not self.port:
            self.port = int(state.get("port") or 0) or free_port()
        if not _port_answers(self.port):
            return
        theirs = self._identity_at(self.port)
        if theirs and theirs == self.identity:
            raise EmbeddedDBError(
                f"the embedded database of {self.storage_path} is already running on port "
                f"{self.port} (pid {self._read_state().get('pid', '?')}) for another backend; "
                f"to share it, start this one with MONGODB_URL={self.url_for('switchboard')}"
            )
        if self.fixed_port or self._started:
            # Fixed by the configuration, or already known to this process's clients: never
            # move (the clients would follow the port to someone else's server).
            raise EmbeddedDBError(
                f"port {self.port} answers, but not with the embedded database of "
                f"{self.storage_path}; refusing to use it"
                + (
                    ""
                    if self._started
                    else " (set [server] embedded_db_port = 0 to let the "
                    "folder choose its own port)"
                )
            )
        old, self.port = self.port, free_port()
        log.warning(
            "port %d is taken by another server; the embedded database of %s moves to port %d",
            old,
            self.storage_path,
            self.port,
        )

    def _identity_at(self, port: int) -> str | None:
        client: MongoClient[dict[str, Any]] = MongoClient(
            f"mongodb://127.0.0.1:{port}/?directConnection=true",
            serverSelectionTimeoutMS=1000,
            connectTimeoutMS=1000,
            socketTimeoutMS=2000,
        )
        try:
            doc = client[IDENTITY_DB][IDENTITY_COLLECTION].find_one({"_id": "embedded"})
        except PyMongoError:
            return None
        finally:
            client.close()
        return str(doc["identity"]) if doc else None

    # -- start, wait, check ----------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> str:
        self._stopping = False
        self._spawn()
        self._wait_ready(timeout_s)
        return self.url

    def _spawn(self) -> None:
        """Start the child (in the calling thread: PR_SET_PDEATHSIG follows the thread)."""
        if not self.in_memory:
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        self._choose_port()
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log_file = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        parent = os.getpid()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "secantus",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--storage-path",
                    self.storage_path,
                    "--log-level",
                    "WARNING",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                # Its own session: a Ctrl-C meant for the backend does not reach it; the
                # backend stops it last, after its own clean-up.
                start_new_session=True,
                preexec_fn=_die_with_parent(parent, _prctl()),
            )
        except OSError as e:
            raise EmbeddedDBError(f"cannot start SecantusDB: {e}") from e
        finally:
            if log_file is not subprocess.DEVNULL:
                log_file.close()  # type: ignore[union-attr]
        self._start_watchdog(parent, self.process.pid)

    def _start_watchdog(self, parent: int, child: int) -> None:
        self._stop_watchdog()
        with contextlib.suppress(OSError):
            self.watchdog = subprocess.Popen(
                [sys.executable, "-m", "backend.adapters.db_watchdog", str(parent), str(child)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                cwd=Path(__file__).resolve().parents[2],
            )

    def _stop_watchdog(self) -> None:
        dog, self.watchdog = self.watchdog, None
        if dog is not None and dog.poll() is None:
            dog.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                dog.wait(5)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.url, serverSelectionTimeoutMS=250, connectTimeoutMS=250
        )
        proc = self.process
        assert proc is not None
        try:
            while True:
                if proc.poll() is not None:
                    raise EmbeddedDBError(
                        f"SecantusDB {_exit(proc.returncode)} at start-up: " + self.cause()
                    )
                try:
                    status = client.admin.command("serverStatus")
                    break
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self._kill_child()
                        raise EmbeddedDBError(
                            f"SecantusDB did not answer on port {self.port} "
                            f"within {timeout_s:.0f} s: {self.cause()}"
                        ) from None
                    time.sleep(0.05)
            if status.get("pid") not in (None, proc.pid):
                self._kill_child()
                raise EmbeddedDBError(
                    f"port {self.port} is answered by another server (pid {status.get('pid')}), "
                    "not by the embedded database just started; refusing to use it"
                )
            self._check_identity(client)
        finally:
            client.close()
        self._write_state(pid=proc.pid, owner_pid=os.getpid())
        self._started = True
        self.state.up, self.state.reason = True, ""

    def _check_identity(self, client: MongoClient[dict[str, Any]]) -> None:
        """Mark a new database with the folder's identity; refuse one marked by another."""
        ids = client[IDENTITY_DB][IDENTITY_COLLECTION]
        doc = ids.find_one({"_id": "embedded"})
        if doc is None:
            ids.with_options(write_concern=WriteConcern(w="majority", j=True)).update_one(
                {"_id": "embedded"},
                {"$setOnInsert": {"identity": self.identity, "folder": self.storage_path}},
                upsert=True,
            )
            doc = ids.find_one({"_id": "embedded"})
            assert doc is not None
        theirs = str(doc["identity"])
        if theirs == self.identity:
            return
        if not self.state_path.exists():
            # The folder's own data without its note (deleted, or written before notes
            # existed): the process is our child on our folder, so its mark is ours.
            self.identity = theirs
            return
        self._kill_child()
        raise EmbeddedDBError(
            f"the database in {self.storage_path} is marked {theirs}, not {self.identity} as "
            f"{self.state_path} says; refusing to use it"
        )

    def cause(self) -> str:
        """Why the child stopped, from what it wrote to its log since it started."""
        if not self.log_path or not self.log_path.exists():
            return "no log (started without one)"
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            text = f.read()[-20000:].decode(errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return f"nothing in its log ({self.log_path}); it was killed or crashed silently"
        found = [
            ln
            for ln in lines
            if re.search(r"error|exception|no module named|denied|busy|in use", ln, re.I)
            and not ln.startswith("File ")
        ]
        picked = list(dict.fromkeys(found[-3:] or lines[-2:]))
        reason = " | ".join(picked)
        if any("no module named secantus" in ln.lower() for ln in lines):
            reason += " (is the 'embedded' extra installed? pip install 'switchboard[embedded]')"
        return f"{reason} (log: {self.log_path})"

    # -- supervision -------------------------------------------------------------------

    async def supervise(self, poll_s: float = 0.1) -> None:
        """Restart the child when it dies, at most `max_restarts` times in the window."""
        state = self.state
        while not self._stopping:
            await asyncio.sleep(poll_s)
            proc = self.process
            if proc is None or proc.poll() is None or self._stopping:
                continue
            state.up = False
            state.reason = f"the embedded database {_exit(proc.returncode)}: {self.cause()}"
            log.error("%s; restarting it", state.reason)
            while not self._stopping:
                now = time.monotonic()
                while state.restarts and state.restarts[0] < now - self.restart_window_s:
                    state.restarts.popleft()
                if len(state.restarts) >= self.max_restarts:
                    state.gave_up = True
                    log.critical(
                        "the embedded database died %d times within %.0f s; giving up. "
                        "Last cause: %s",
                        len(state.restarts),
                        self.restart_window_s,
                        state.reason,
                    )
                    return
                await asyncio.sleep(min(5.0, 0.2 * 2 ** len(state.restarts)))
                state.restarts.append(time.monotonic())
                try:
                    self._spawn()  # in the event loop's (main) thread, for PR_SET_PDEATHSIG
                    await asyncio.to_thread(self._wait_ready, 30.0)
                except EmbeddedDBError as e:
                    state.reason = str(e)
                    log.error("restarting the embedded database failed: %s", e)
                    continue
                log.warning("the embedded database is back on port %d", self.port)
                break

    # -- stop ----------------------------------------------------------------------------

    def _kill_child(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._stop_watchdog()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping = True
        proc, self.process = self.process, None
        try:
            if proc is None or proc.poll() is not None:
                return
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        finally:
            self._stop_watchdog()

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
