"""Log-in: scrypt never runs on the event loop, guessing is throttled per login and per client
address with growing delays, and an unknown login costs what a known one does."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import threading
import time
import weakref
from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.clock import utcnow
from tests.conftest import Backend

LOGIN = "/api/v1/auth/login"


class Scrypt:
    """hashlib.scrypt that counts its calls and where they run, optionally held until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: bool = False) -> None:
        self.real = hashlib.scrypt
        self.calls = 0
        self.on_loop = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.timed_out = False
        if not hold:
            self.release.set()
        monkeypatch.setattr(hashlib, "scrypt", self)

    def __call__(self, *args: Any, **kwargs: Any) -> bytes:
        self.calls += 1
        try:
            asyncio.get_running_loop()
            self.on_loop += 1
        except RuntimeError:
            pass  # a worker thread: no event loop here
        self.entered.set()
        if not self.release.wait(5):
            self.timed_out = True
        return self.real(*args, **kwargs)


_BASES: weakref.WeakKeyDictionary[Backend, datetime] = weakref.WeakKeyDictionary()


def _at(b: Backend, seconds: float) -> None:
    """Set the throttle's clock to `seconds` after this test's first call (no sleeping).

    The base is taken once: re-reading the real clock at every call would add however long
    the machine took in between (seen on a loaded machine: a 2 s delay already over at 1.9 s).
    """
    from backend.keys import THROTTLE  # the throttle came with this test

    start = _BASES.setdefault(b, utcnow())
    b.app[THROTTLE].clock = lambda: start + timedelta(seconds=seconds)


async def _try(b: Backend, login: str, password: str) -> tuple[int, dict[str, Any], Any]:
    resp = await b.client.post(LOGIN, json={"login": login, "password": password})
    return resp.status, await resp.json(), resp.headers


async def test_hashing_leaves_the_event_loop_free(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.add_operator("ann")
    scrypt = Scrypt(monkeypatch, hold=True)
    login = asyncio.create_task(_try(backend, "ann", "wrong-password"))
    await asyncio.to_thread(scrypt.entered.wait, 5)
    # The hash is held in its thread: the process still answers everyone else meanwhile.
    started = time.monotonic()
    resp = await backend.client.get("/healthz")
    assert resp.status == 200
    assert time.monotonic() - started < 2 and not scrypt.timed_out
    scrypt.release.set()
    status, body, _ = await login
    assert status == 401 and body["error"]["code"] == "bad_credentials"
    assert scrypt.on_loop == 0
    # Creating an operator (or changing a password) hashes off the loop too.
    await backend.add_operator("ben")
    assert scrypt.on_loop == 0 and scrypt.calls == 2


async def test_repeated_wrong_passwords_are_throttled_with_growing_delays(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.add_operator("cat")
    scrypt = Scrypt(monkeypatch)
    for _ in range(3):
        assert (await _try(backend, "cat", "wrong-password"))[0] == 401
    assert scrypt.calls == 3
    # The fourth comes too soon: refused before its password is even looked at.
    status, body, headers = await _try(backend, "cat", "password-1")
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert headers["Retry-After"] == "1" and scrypt.calls == 3
    _at(backend, 1.5)
    assert (await _try(backend, "cat", "wrong-password"))[0] == 401
    assert (await _try(backend, "cat", "password-1"))[0] == 429
    _at(backend, 1.5 + 1.9)
    status, _, headers = await _try(backend, "cat", "password-1")
    assert status == 429 and headers["Retry-After"] == "1"  # now 2 s after the 4th failure
    _at(backend, 1.5 + 2.1)
    status, body, _ = await _try(backend, "cat", "password-1")
    assert status == 200 and body["operator"]["login"] == "cat"
    # A success starts the login's count again.
    for _ in range(3):
        assert (await _try(backend, "cat", "wrong-password"))[0] == 401


async def test_concurrent_guesses_are_throttled_too(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.add_operator("dan")
    scrypt = Scrypt(monkeypatch)
    results = await asyncio.gather(*(_try(backend, "dan", f"guess-{i}") for i in range(30)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(401) <= 3 and statuses.count(429) >= 27, statuses
    assert scrypt.calls <= 3


async def test_guesses_across_logins_are_throttled_per_address(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    scrypt = Scrypt(monkeypatch)
    statuses = [(await _try(backend, f"user{i}", "wrong-password"))[0] for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert scrypt.calls == 20


async def test_unknown_logins_cost_what_known_ones_do(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.add_operator("eve")
    scrypt = Scrypt(monkeypatch)

    async def timed(login: str) -> float:
        started = time.perf_counter()
        status, body, _ = await _try(backend, login, "wrong-password")
        assert status == 401 and body["error"]["code"] == "bad_credentials"
        return time.perf_counter() - started

    known: list[float] = []
    unknown: list[float] = []
    for i in range(3):
        known.append(await timed("eve"))
        unknown.append(await timed(f"nobody{i}"))
    # Each one hashes once, and the answers are alike (before: 43 ms against 1 ms).
    assert scrypt.calls == 6
    assert statistics.median(unknown) > statistics.median(known) / 3, (known, unknown)


async def test_a_room_of_operators_logging_in_at_once_is_never_held_up(backend: Backend) -> None:
    for i in range(30):
        await backend.add_operator(f"op{i:02d}")
    results = await asyncio.gather(*(_try(backend, f"op{i:02d}", "password-1") for i in range(30)))
    assert [status for status, _, _ in results] == [200] * 30


async def test_throttling_documents_are_dropped_by_the_server_once_forgotten(
    backend: Backend,
) -> None:
    """Every address that ever failed keeps a document: a TTL index removes it when forgotten."""
    await backend.add_operator("eve")
    _at(backend, 0)
    assert (await _try(backend, "eve", "wrong-password"))[0] == 401
    coll = backend.store.db["login_attempts"]
    indexes = await coll.index_information()
    assert indexes["expire"]["key"] == [("expire_at", 1)]
    assert indexes["expire"]["expireAfterSeconds"] == 0
    docs = await coll.find({}).to_list(None)
    assert {d["_id"].split(":")[0] for d in docs} == {"login", "addr"}
    for doc in docs:
        assert doc["expire_at"] == doc["last_at"] + timedelta(seconds=doc["forget_s"])
