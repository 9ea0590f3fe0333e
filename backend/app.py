"""The app factory: settings in, a wired aiohttp application out; resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.desk_store import DeskStore
from backend.adapters.mongo import Store, connect
from backend.adapters.platform import PlatformClient
from backend.adapters.push import FloorRelay, PushHub, PushRelay
from backend.adapters.scheduler import Timers
from backend.adapters.spares_store import SpareCounters
from backend.adapters.voximplant_api import Credentials, ManagementApi
from backend.auth import InviteSigner, TokenSigner
from backend.cancelling import cancel_and_wait
from backend.clock import utcnow
from backend.domain.view import ReadView
from backend.keys import (
    ENGINE,
    FEED,
    FLOOR,
    FLOOR_RELAY,
    HASHER,
    HTTP,
    HUB,
    MANAGEMENT_API,
    PARTY_TARGETS,
    SECRETS,
    SETTINGS,
    SIGNER,
    STORE,
    SWEEPER,
    TARGETS_RELAY,
    THROTTLE,
    TIMERS,
)
from backend.routes import setup_routes
from backend.services import desk, group_settings
from backend.services.callback import Callbacks
from backend.services.engine import Engine
from backend.services.fallback import Fallbacks
from backend.services.floor import Floor
from backend.services.login import LoginThrottle, PasswordHasher
from backend.services.overflow import Overflow
from backend.services.party_targets import PUSH_INTERVAL_S, PartyTargets
from backend.services.sweeper import Sweeper
from backend.settings import Settings
from backend.views.errors import error_middleware
from backend.views.pages import setup_web_client
from backend.views.security import csrf_middleware, security_headers

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def database_name(url: str) -> str:
    path = urlsplit(url).path.strip("/")
    return path or "switchboard"


async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.mongodb_url:
        raise RuntimeError("MONGODB_URL is not set (python -m backend starts the embedded one)")
    client = connect(settings.mongodb_url)
    store = Store(client, database_name(settings.mongodb_url))
    await store.ensure_indexes()
    await store.mark_center_buckets(utcnow())
    app[STORE] = store
    yield
    await client.close()


async def groups_check_ctx(app: web.Application) -> AsyncIterator[None]:
    """Warn at start about operators in groups that no longer exist, and about groups nobody
    belongs to (their calls could only wait, overflow or be refused). The groups are the
    database's (seeded once from the configuration; a configuration that differs is said)."""
    store, settings = app[STORE], app[SETTINGS]
    if await group_settings.seed(store, settings.config, utcnow()):
        log.info("groups and context rules seeded from the configuration into the database")
    doc = await store.routing_settings.find_one({"_id": group_settings.DOC_ID})
    assert doc is not None
    for what in group_settings.differs_from_config(doc, settings.config):
        log.warning(
            "the configuration's %s differ from the database's; the database's are in force "
            "(change them in /admin or through /api/v1/groups and /api/v1/rules)",
            what,
        )
    configured = {g.name for g in group_settings.parse(doc)[0]}
    staffed: set[str] = set()
    async for doc in app[STORE].operators.find({}, {"group_names": 1}):
        names = set(doc.get("group_names") or ())
        staffed |= names
        if unknown := sorted(names - configured):
            log.warning(
                "operator %s is in group(s) %s, which do not exist",
                doc["_id"],
                ", ".join(unknown),
            )
    for name in sorted(configured - staffed):
        log.warning("group %s has no operators", name)
    yield


async def secrets_ctx(app: web.Application) -> AsyncIterator[None]:
    """Secrets from the environment; in development missing ones are generated, kept in the DB."""
    settings = app[SETTINGS]
    given = {
        "secret_key": settings.secret_key,
        "platform_token": settings.platform_token,
        "admin_token": settings.admin_token,
    }
    missing = [k for k, v in given.items() if not v]
    if missing and settings.mode == "production":
        names = ", ".join(k.upper() for k in missing)
        raise RuntimeError(f"production mode needs {names} in the environment")
    generated = await app[STORE].dev_secrets() if missing else {}
    app[SECRETS] = {k: v or generated[k] for k, v in given.items()}
    app[SIGNER] = TokenSigner(app[SECRETS]["secret_key"])
    yield


async def login_ctx(app: web.Application) -> AsyncIterator[None]:
    """Password hashing in its own small thread pool; log-in attempts counted in the database."""
    hasher = PasswordHasher()
    app[HASHER] = hasher
    app[THROTTLE] = LoginThrottle(app[STORE].db)
    yield
    hasher.close()


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(raise_for_status=False)
    app[HTTP] = session
    api = management_api(app[SETTINGS], session)
    if api is not None:
        app[MANAGEMENT_API] = api
    yield
    await session.close()


def management_api(settings: Settings, session: aiohttp.ClientSession) -> ManagementApi | None:
    """The Management API client when VOXIMPLANT_CREDENTIALS names a key file, else None.
    A named file that cannot be used stops start-up (CredentialsError names the field)."""
    if not settings.voximplant_credentials:
        return None
    v = settings.config.voximplant
    return ManagementApi(
        session,
        Credentials.load(settings.voximplant_credentials),
        api_url=v.api_url,
        timeout_s=v.request_timeout_s,
        attempts=v.attempts,
        backoff_s=v.backoff_s,
        application_id=v.application_id or None,
        application_name=v.application or None,
    )


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timers = Timers()
    timers.start()
    app[TIMERS] = timers
    p = settings.config.platform
    platform = PlatformClient(
        app[HTTP], timeout_s=p.request_timeout_s, attempts=p.attempts, backoff_s=p.backoff_s
    )
    # One change stream per process feeds the read view (routing) and the desk push.
    # The strategies are the groups' as stored now (the engine's settings follow the database).
    view = ReadView(lambda group: engine.settings.policy(group).strategy)
    feed = ChangeFeed(app[STORE], view)
    app[FEED] = feed
    engine = Engine(settings, app[STORE], platform, timers, feed)
    feed.settings_listeners.append(functools.partial(group_settings.apply, engine))
    engine.invite_signer = InviteSigner(
        app[SECRETS]["secret_key"], settings.config.video.invite_ttl_s
    )
    spares = [s.to_spare() for s in settings.config.spare_numbers]
    if spares:
        counters = SpareCounters(app[STORE].db)
        await counters.ensure(spares)
        engine.overflow = Overflow(engine, counters)
    engine.fallbacks = Fallbacks(engine)
    engine.callbacks = Callbacks(engine, app.get(MANAGEMENT_API))
    desk_store = DeskStore(app[STORE].db)
    engine.wrap_up_ending = functools.partial(desk.wrap_up_timed_out, engine, desk_store)
    engine.start()
    app[ENGINE] = engine
    await feed.start()
    yield
    timers.stop()
    await engine.close()
    await feed.close()


async def push_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = PushHub()
    relay = PushRelay(app[FEED], hub)
    app[HUB] = hub
    task = asyncio.create_task(relay.run())
    # Close the operators' sockets as shutdown begins: an open socket would otherwise hold
    # the server until its shutdown timeout.
    app.on_shutdown.append(lambda _app: hub.close_all())
    yield
    await hub.close_all()
    await cancel_and_wait([task])


async def floor_ctx(app: web.Application) -> AsyncIterator[None]:
    """The supervisors' live floor, pushed from the change feed after each change."""
    settings = app[SETTINGS]
    engine = app[ENGINE]
    floor = Floor(engine.settings, app[FEED], engine.clock)
    # Groups added or removed in /admin appear on the floor.
    app[FEED].settings_listeners.append(lambda _doc: setattr(floor, "settings", engine.settings))
    await floor.seed(app[STORE])
    relay = FloorRelay(
        floor.changed, floor.snapshot, settings.config.supervision.floor_push_interval_s
    )
    app[FLOOR], app[FLOOR_RELAY] = floor, relay
    task = asyncio.create_task(relay.run())
    yield
    await cancel_and_wait([task])


async def party_targets_ctx(app: web.Application) -> AsyncIterator[None]:
    """The desks' Add party picker, pushed from the change feed (the floor's relay does the
    sockets and the pace: one message per interval with what changed)."""
    targets = PartyTargets(app[SETTINGS], app[FEED])
    relay = FloorRelay(targets.changed, targets.delta, PUSH_INTERVAL_S)
    app[PARTY_TARGETS], app[TARGETS_RELAY] = targets, relay
    task = asyncio.create_task(relay.run())
    yield
    await cancel_and_wait([task])


async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    routing = app[SETTINGS].config.routing
    sweeper = Sweeper(app[ENGINE], app[HUB])
    app[SWEEPER] = sweeper
    timers = app[TIMERS]
    timers.every("sweep", routing.sweep_interval_s, sweeper.sweep)
    timers.every("heartbeat", routing.heartbeat_interval_s, sweeper.heartbeat)
    # A process that starts picks up at once whatever a dead one left due.
    await sweeper.sweep()
    yield
    # Stop sweeping, and let a sweep in flight finish rather than cancel it mid-way.
    timers.remove("sweep")
    timers.remove("heartbeat")
    async with sweeper.running:
        pass
    with contextlib.suppress(Exception):
        await sweeper.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[error_middleware, csrf_middleware])
    app.on_response_prepare.append(security_headers)
    app[SETTINGS] = settings
    app.cleanup_ctx.extend(
        [
            mongo_ctx,
            groups_check_ctx,
            secrets_ctx,
            login_ctx,
            http_ctx,
            engine_ctx,
            push_ctx,
            floor_ctx,
            party_targets_ctx,
            sweeper_ctx,
        ]
    )
    setup_routes(app)
    setup_web_client(app)
    return app
