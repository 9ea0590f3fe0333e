"""Starting the backend the way the Procfile does: clear one-line failures, "listening" only once
the port is bound, no secret in the output or the access log; warnings about groups."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from backend.settings import ROOT
from tests.conftest import Backend
from tests.support.processes import BackendProcess

ENV_SECRETS = {
    "SECRET_KEY": "secret-key-from-the-environment-0123456789",
    "PLATFORM_TOKEN": "platform-token-from-the-environment-0123456789",
    "ADMIN_TOKEN": "admin-token-from-the-environment-0123456789",
}


def _run(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_weak_production_secrets_stop_start_up_with_one_line() -> None:
    done = _run(
        {
            "SWITCHBOARD_MODE": "production",
            "SECRET_KEY": "a",
            "PLATFORM_TOKEN": "same-token-for-both-of-them-0123456789",
            "ADMIN_TOKEN": "same-token-for-both-of-them-0123456789",
        }
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "switchboard: invalid configuration: SECRET_KEY: at least 32 characters in production "
        "(it has 1; try: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]
    assert "Traceback" not in done.stderr + done.stdout


def test_a_taken_port_fails_clearly_and_never_says_listening(db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run({"MONGODB_URL": db_url, "PORT": str(port), **ENV_SECRETS})
    assert done.returncode == 4, done.stderr[-2000:]
    assert "listening" not in done.stdout.lower()
    assert "Traceback" not in done.stderr
    assert f"switchboard: cannot listen on port {port}" in done.stderr


async def test_no_secret_is_printed_or_logged(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "backend.log"
    process = BackendProcess({"MONGODB_URL": db_url, **ENV_SECRETS}, log)
    await process.start()
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/api/v1/ws?token=query-token-0123456789", "/healthz?x=1&token=abc123"):
                async with http.get(process.url + path) as resp:
                    await resp.read()
    finally:
        process.stop()
    out = log.read_text()
    assert "Switchboard is listening on" in out
    assert "ws?token=[redacted]" in out and "x=1&token=[redacted]" in out
    for secret in (*ENV_SECRETS.values(), "query-token-0123456789", "abc123"):
        assert secret not in out
    assert "PLATFORM_TOKEN=(from the environment)" in out


async def test_groups_without_operators_and_operators_without_groups_are_warned_about(
    make_backend: Callable[..., Awaitable[Backend]], caplog: pytest.LogCaptureFixture
) -> None:
    first = await make_backend()
    await first.add_operator("gus", [("sales", 2), ("default", 1)])
    # A database whose groups lost one its operators are still in (kept from before the
    # groups lived in the database): the stored groups are the ones checked.
    await first.store.routing_settings.update_one(
        {}, {"$pull": {"groups": {"name": "sales"}}, "$set": {"rules": []}}
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="backend.app"):
        await make_backend('rules = []\n[[groups]]\nname = "default"\n[[groups]]\nname = "vip"\n')
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "operator gus is in group(s) sales, which do not exist" in warnings
    # The configuration's groups are not the database's: said once, and the database's win.
    said = "the configuration's groups differ from the database's"
    assert any(w.startswith(said) for w in warnings)
    assert "group support has no operators" in warnings
    assert not any("vip" in w for w in warnings)
    assert not any("group default" in w for w in warnings)
