"""Procfile entry point, `python -m backend`: starts the embedded DB when MONGODB_URL is unset."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from aiohttp import web

from backend.access_log import RedactingAccessLogger
from backend.adapters.embedded_db import EmbeddedDBError, EmbeddedMongo
from backend.adapters.mongo import Store, connect
from backend.app import create_app, database_name
from backend.settings import ROOT, ConfigError, Settings, load_settings

log = logging.getLogger("switchboard")


def _announce(settings: Settings, secrets: dict[str, str], embedded: bool) -> None:
    url = f"http://localhost:{settings.port}"
    lines = [
        f"Switchboard is listening on {url} (public URL {settings.public_url})",
        "Database: "
        + (
            f"embedded SecantusDB under {settings.config.server.embedded_db_path}"
            if embedded
            else str(settings.mongodb_url)
        ),
    ]
    if settings.mode == "development":
        admin = "$ADMIN_TOKEN" if secrets["admin_token"] == FROM_ENV else secrets["admin_token"]
        lines += [
            "Development secrets (generated once and kept in the database unless set in the "
            "environment, as production requires):",
            f"  PLATFORM_TOKEN={secrets['platform_token']}",
            f"  ADMIN_TOKEN={secrets['admin_token']}",
            "Create an operator:",
            f"  curl -X PUT {url}/api/v1/operators/alice -H 'Authorization: Bearer "
            f"{admin}' -H 'Content-Type: application/json' -d "
            '\'{"name": "Alice", "password": "change-me-please", '
            '"address": {"type": "user", "address": "alice"}, '
            '"groups": [{"name": "default", "level": 3}]}\'',
        ]
    print("\n".join(lines), flush=True)


FROM_ENV = "(from the environment)"


async def _dev_secrets(settings: Settings) -> dict[str, str]:
    """What to print: generated development tokens; never one given in the environment."""
    assert settings.mongodb_url
    client = connect(settings.mongodb_url)
    try:
        found = await Store(client, database_name(settings.mongodb_url)).dev_secrets()
    finally:
        await client.close()
    return {
        "platform_token": FROM_ENV if settings.platform_token else found["platform_token"],
        "admin_token": FROM_ENV if settings.admin_token else found["admin_token"],
    }


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs every run of the sweep at INFO; only its problems matter here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"switchboard: invalid configuration: {e}", file=sys.stderr)
        return 2
    embedded: EmbeddedMongo | None = None
    if not settings.mongodb_url:
        server = settings.config.server
        db_path = Path(server.embedded_db_path)
        if not db_path.is_absolute():
            db_path = ROOT / db_path
        embedded = EmbeddedMongo(
            db_path, port=server.embedded_db_port, log_path=db_path.parent / "secantus.log"
        )
        try:
            url = embedded.start()
        except EmbeddedDBError as e:
            print(f"switchboard: {e}", file=sys.stderr)
            return 3
        settings = settings.model_copy(update={"mongodb_url": url.replace("/?", "/switchboard?")})
    try:
        secrets = (
            asyncio.run(_dev_secrets(settings))
            if settings.mode == "development"
            else {"platform_token": FROM_ENV, "admin_token": FROM_ENV}
        )
        try:
            # run_app calls `print` once the port is bound: only then is it "listening".
            web.run_app(
                create_app(settings),
                port=settings.port,
                print=lambda _message: _announce(settings, secrets, embedded is not None),
                access_log_class=RedactingAccessLogger,
            )
        except OSError as e:
            print(f"switchboard: cannot listen on port {settings.port}: {e}", file=sys.stderr)
            return 4
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
