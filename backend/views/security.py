"""Browser-facing protections: cookie-authenticated writes must come from our own pages, and
every answer carries headers that keep pages from being framed, sniffed or leaking URLs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from backend.auth import SESSION_COOKIE
from backend.keys import SETTINGS
from backend.views.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Authenticated by the password in the body, not by the cookie it may happen to carry.
NOT_BY_COOKIE = frozenset({"/api/v1/auth/login"})
# The end-user's video page: authorised by the signed link in the path, never by a cookie.
NOT_BY_COOKIE_PREFIX = "/video/"

# Scripts and styles only from our own files (the desk has no inline script or style; its
# configuration is a JSON data block, which CSP does not execute). The Web SDK talks to
# Voximplant over HTTPS and WebSockets; media streams play from blob:/mediastream: sources.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self' https: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def own_origins(request: web.Request) -> set[str]:
    """Where our pages live: the host the browser asked for, and PUBLIC_URL."""
    origins = {request.host.lower()}
    public = _origin_of(request.app[SETTINGS].public_url)
    if public:
        origins.add(public)
    return origins


def from_own_page(request: web.Request) -> bool:
    """The browser says the request comes from one of our pages (Origin, else Referer). Another
    port of the same host is another origin: it does not pass."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    origin = _origin_of(source)
    return origin is not None and origin in own_origins(request)


def cookie_authenticated(request: web.Request) -> bool:
    if request.path in NOT_BY_COOKIE or request.path.startswith(NOT_BY_COOKIE_PREFIX):
        return False
    return "Authorization" not in request.headers and SESSION_COOKIE in request.cookies


@web.middleware
async def csrf_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A write that a browser authenticates with the session cookie must name our own origin
    (bodies must also be application/json: see read_json). Bearer tokens are not sent by
    browsers on their own, so token-authenticated writes need no such check."""
    writes = request.method not in SAFE_METHODS
    if writes and cookie_authenticated(request) and not from_own_page(request):
        raise ApiError(
            403, "cross_origin", "a write with the session cookie must come from our own pages"
        )
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: on every answer, pages, files, API and errors alike."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
