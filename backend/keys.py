"""Every web.AppKey in one place."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from backend.adapters.change_feed import ChangeFeed
from backend.adapters.mongo import Store
from backend.adapters.push import FloorRelay, PushHub
from backend.adapters.scheduler import Timers
from backend.adapters.voximplant_api import ManagementApi
from backend.auth import TokenSigner
from backend.services.engine import Engine
from backend.services.floor import Floor
from backend.services.login import LoginThrottle, PasswordHasher
from backend.services.party_targets import PartyTargets
from backend.services.sweeper import Sweeper
from backend.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
HTTP = web.AppKey("http", aiohttp.ClientSession)
TIMERS = web.AppKey("timers", Timers)
ENGINE = web.AppKey("engine", Engine)
HUB = web.AppKey("hub", PushHub)
FEED = web.AppKey("feed", ChangeFeed)
FLOOR = web.AppKey("floor", Floor)
FLOOR_RELAY = web.AppKey("floor_relay", FloorRelay)
# The desks' live Add party picker (services/party_targets.py) and its sockets.
PARTY_TARGETS = web.AppKey("party_targets", PartyTargets)
TARGETS_RELAY = web.AppKey("targets_relay", FloorRelay)
SWEEPER = web.AppKey("sweeper", Sweeper)
SIGNER = web.AppKey("signer", TokenSigner)
HASHER = web.AppKey("hasher", PasswordHasher)
THROTTLE = web.AppKey("throttle", LoginThrottle)
# Secrets in force (from the environment, or generated for development and kept in the DB).
SECRETS = web.AppKey("secrets", dict[str, str])
# The Voximplant Management API client; absent when VOXIMPLANT_CREDENTIALS is not set.
MANAGEMENT_API = web.AppKey("management_api", ManagementApi)
