"""GET /api/v1/ws: the operator's own state, offers and call updates, pushed as they happen."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from backend.adapters.push import operator_message
from backend.auth import SESSION_COOKIE, password_stamp, session_epoch
from backend.keys import ENGINE, FEED, FLOOR, FLOOR_RELAY, HUB, PARTY_TARGETS, TARGETS_RELAY
from backend.services.parties import targets
from backend.views.access import SUPERVISING_ROLES, require_operator, session_valid
from backend.views.errors import ApiError

HEARTBEAT_S = 20.0


def _same_origin(request: web.Request) -> bool:
    """Cookie-authenticated sockets must come from our own pages (cross-site WebSocket hijack)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == request.host


async def websocket(request: web.Request) -> web.WebSocketResponse:
    doc = await require_operator(request, allow_query=True)
    uses_cookie = not request.headers.get("Authorization") and not request.query.get("token")
    if uses_cookie and SESSION_COOKIE in request.cookies and not _same_origin(request):
        raise ApiError(403, "forbidden", "WebSocket from another origin")
    login = doc["_id"]
    stamp, epoch = password_stamp(doc.get("password_hash")), session_epoch(doc)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    hub, engine = request.app[HUB], request.app[ENGINE]
    feed = request.app[FEED]

    def snapshot() -> dict[str, Any] | None:
        # From the feed, which the same stream keeps current: no read, and no change can fall
        # between this snapshot and the pushes that follow it.
        current = feed.operator_doc(login)
        if current is None:
            return None
        call = feed.call_doc(current["call_id"]) if current.get("call_id") else None
        return operator_message(current, call)

    # Log-out, a new password or role, or dismissal closes the socket (see PushHub.close_revoked).
    hub.add(login, ws, lambda fresh: session_valid(fresh, stamp, epoch))
    try:
        await engine.seen(login)
        current = feed.operator_doc(login)
        if current is None or not session_valid(current, stamp, epoch):
            # Revoked between the token check and joining the hub.
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
            return ws
        if (first := snapshot()) is not None:
            await ws.send_json(first)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if msg.data == "ping":
                    await ws.send_str("pong")
                elif msg.data == "state":
                    fresh = feed.operator_doc(login)
                    if fresh is None or not session_valid(fresh, stamp, epoch):
                        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
                        break
                    if (again := snapshot()) is not None:
                        await ws.send_json(again)
                elif msg.data == "floor":
                    # Supervisors: the live floor now, then after every change.
                    fresh = feed.operator_doc(login)
                    if fresh is None or fresh.get("role") not in SUPERVISING_ROLES:
                        await ws.send_json(
                            {"type": "error", "code": "forbidden", "message": "supervisors only"}
                        )
                        continue
                    request.app[FLOOR_RELAY].add(ws)
                    await ws.send_json(request.app[FLOOR].snapshot())
                elif msg.data == "targets":
                    # The desk's Add party picker: the whole list now, then what changes.
                    whole = {"type": "targets", "full": True, **targets(engine, login)}
                    await ws.send_json(whole)
                    request.app[TARGETS_RELAY].add(ws)
                    request.app[PARTY_TARGETS].mark_all_seen()
                elif msg.data == "targets_off":
                    request.app[TARGETS_RELAY].remove(ws)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.remove(login, ws)
        request.app[FLOOR_RELAY].remove(ws)
        request.app[TARGETS_RELAY].remove(ws)
        with contextlib.suppress(Exception):
            # Seen until this moment: the grace period runs from the disconnect.
            await engine.seen(login)
    return ws
