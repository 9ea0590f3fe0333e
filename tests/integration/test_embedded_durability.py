"""Every write the API acknowledged survives `kill -9` of the embedded database (issue 13, 5)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from pymongo import MongoClient

from backend.adapters.embedded_db import EmbeddedMongo
from backend.adapters.mongo import durable_write_options
from backend.app import create_app
from backend.settings import load_settings

ADMIN = {"Authorization": "Bearer admin-secret"}


def test_write_concern_is_majority_and_journaled_unless_the_url_says_otherwise() -> None:
    assert durable_write_options("mongodb://h1,h2/sb?replicaSet=rs0") == {
        "w": "majority",
        "journal": True,
    }
    assert durable_write_options("mongodb://h/sb?w=2&journal=false") == {}
    assert durable_write_options("mongodb://h/sb?W=1") == {"journal": True}


async def test_acknowledged_operator_puts_survive_kill_9_of_the_database(
    tmp_path: Path, aiohttp_client: Any, config_file: Callable[[str], str]
) -> None:
    server = EmbeddedMongo(tmp_path / "db", log_path=tmp_path / "secantus.log")
    server.start()
    try:
        url = server.url.replace("/?", "/durability?")
        settings = load_settings(
            {
                "SWITCHBOARD_CONFIG": config_file(""),
                "MONGODB_URL": url,
                "PLATFORM_TOKEN": "platform-secret",
                "ADMIN_TOKEN": "admin-secret",
                "SECRET_KEY": "test-secret-key",
            }
        )
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        try:
            await _put_operators_then_kill_and_restart(client, server)
        finally:
            await client.close()  # before the server stops: the app's clean-up uses it
        check: MongoClient[dict[str, Any]] = MongoClient(server.url)
        try:
            assert check["durability"]["operators"].count_documents({}) == 30
        finally:
            check.close()
    finally:
        server.stop()


async def _put_operators_then_kill_and_restart(
    client: TestClient[Any, Any], server: EmbeddedMongo
) -> None:
    for i in range(30):
        body = {
            "name": f"Operator {i}",
            "password": "password-1",
            "address": {"type": "user", "address": f"op{i}"},
            "groups": [{"name": "default", "level": 1}],
        }
        resp = await client.put(f"/api/v1/operators/op{i}", json=body, headers=ADMIN)
        assert resp.status == 201, await resp.text()

    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()  # same folder, same port: the app's client reconnects by itself
