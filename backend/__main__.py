"""Procfile entry point, `python -m backend`: starts the embedded DB when MONGODB_URL is unset."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from backend import serving
from backend.access_log import RedactingAccessLogger
from backend.adapters.embedded_db import EmbeddedDBError, EmbeddedMongo
from backend.adapters.mongo import Store, connect
from backend.adapters.voximplant_api import Credentials, CredentialsError
from backend.app import create_app, database_name
from backend.availability import DB_STATE, database_guard
from backend.cancelling import cancel_and_wait
from backend.settings import ROOT, ConfigError, Settings, load_settings

log = logging.getLogger("switchboard")


def _announce(settings: Settings, secrets: dict[str, str], embedded: EmbeddedMongo | None) -> None:
    url = f"http://localhost:{settings.port}"
    lines = [f"Switchboard is listening on {url} (public URL {settings.public_url})"]
    if embedded is not None:
        lines += [
            f"Database: embedded SecantusDB under {embedded.storage_path} "
            f"(pid {embedded.process.pid if embedded.process else '?'}, log {embedded.log_path})",
            "  A second web process joins it with:",
            f"  MONGODB_URL={settings.mongodb_url}",
        ]
    else:
        lines.append(f"Database: {settings.mongodb_url}")
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
    for handler in logging.getLogger().handlers:
        handler.addFilter(serving.OutOfFilesFilter())
    # APScheduler logs every run of the sweep at INFO; only its problems matter here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"switchboard: invalid configuration: {e}", file=sys.stderr)
        return 2
    if settings.voximplant_credentials:
        try:
            Credentials.load(settings.voximplant_credentials)
        except CredentialsError as e:
            print(f"switchboard: VOXIMPLANT_CREDENTIALS: {e}", file=sys.stderr)
            return 2
    embedded: EmbeddedMongo | None = None
    if not settings.mongodb_url:
        server = settings.config.server
        db_path = Path(server.embedded_db_path)
        if not db_path.is_absolute():
            db_path = ROOT / db_path
        embedded = EmbeddedMongo(db_path, port=server.embedded_db_port)
        try:
            embedded.start()
        except EmbeddedDBError as e:
            print(f"switchboard: {e}", file=sys.stderr)
            return 3
        settings = settings.model_copy(update={"mongodb_url": embedded.url_for("switchboard")})
    try:
        secrets = (
            asyncio.run(_dev_secrets(settings))
            if settings.mode == "development"
            else {"platform_token": FROM_ENV, "admin_token": FROM_ENV}
        )
        app = create_app(settings)
        app.middlewares.append(database_guard)
        if embedded is not None:
            app[DB_STATE] = embedded.state
            app.cleanup_ctx.append(_supervisor(embedded))
        try:
            serving.run(
                app,
                settings.port,
                settings.config.server.max_connections,
                on_listening=lambda: _announce(settings, secrets, embedded),
                access_log_class=RedactingAccessLogger,
            )
        except OSError as e:
            print(f"switchboard: cannot listen on port {settings.port}: {e}", file=sys.stderr)
            return 4
    finally:
        if embedded is not None:
            embedded.stop()
    if embedded is not None and embedded.state.gave_up:
        print(f"switchboard: {embedded.state.reason}", file=sys.stderr)
        return 4
    return 0


def _supervisor(embedded: EmbeddedMongo) -> Callable[[web.Application], AsyncIterator[None]]:
    """Restart the embedded database when it dies; stop the backend when it keeps dying."""

    async def supervise() -> None:
        await embedded.supervise()
        if embedded.state.gave_up:
            signal.raise_signal(signal.SIGTERM)  # a graceful stop; main() returns 4

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(supervise())
        yield
        await cancel_and_wait([task])

    return ctx


if __name__ == "__main__":
    sys.exit(main())
