"""Web SDK login for the desk: the one-time-key hash, computed here so no password reaches a page.

hash = md5(key + "|" + md5(user + ":voximplant.com:" + password)); only the inner digest is kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

from backend.adapters.desk_store import DeskStore
from backend.adapters.documents import Doc
from backend.settings import VoximplantConfig


def password_digest(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:voximplant.com:{password}".encode()).hexdigest()


def one_time_hash(key: str, digest: str) -> str:
    return hashlib.md5(f"{key}|{digest}".encode()).hexdigest()


def default_user(op: Doc) -> str:
    """The Voximplant user the scenario dials: the operator's `user` address, else the login."""
    address = op.get("address") or {}
    return str(address["address"]) if address.get("type") == "user" else str(op["_id"])


def full_username(config: VoximplantConfig, user: str) -> str:
    return f"{user}@{config.application}.{config.account}.voximplant.com"


async def media_info(store: DeskStore, config: VoximplantConfig, op: Doc) -> dict[str, Any]:
    """What the page needs to log in to the Web SDK, or why media is not connected."""
    off: dict[str, Any] = {"enabled": False, "username": None, "node": None}
    if not (config.account and config.application):
        return {**off, "reason": "media is not connected: Voximplant is not configured"}
    if not config.node:
        # Web SDK 4.13 refuses to start without the account's node.
        return {**off, "reason": "media is not connected: [voximplant] node is not set"}
    if (op.get("address") or {}).get("type") != "user":
        return {**off, "reason": "media is not connected: calls reach you by phone or SIP"}
    user = await store.media_user(op["_id"])
    if user is None:
        return {**off, "reason": "media is not connected: no Voximplant login is set for you"}
    return {
        "enabled": True,
        "username": full_username(config, user["user"]),
        "node": config.node,
        "reason": None,
    }
