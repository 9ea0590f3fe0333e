"""Who is calling: the platform (PLATFORM_TOKEN), an administrator, or a logged-in operator."""

from __future__ import annotations

from aiohttp import web

from backend.adapters.documents import Doc
from backend.auth import SESSION_COOKIE, dismissed, password_stamp, same_secret, session_epoch
from backend.keys import SECRETS, SIGNER, STORE
from backend.views.errors import ApiError


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require_platform(request: web.Request) -> None:
    token = bearer(request)
    if token is None:
        raise ApiError(401, "unauthorized", "Authorization: Bearer <PLATFORM_TOKEN> is required")
    if not same_secret(token, request.app[SECRETS]["platform_token"]):
        raise ApiError(401, "unauthorized", "the platform token is not valid")


async def current_operator(request: web.Request, *, allow_query: bool = False) -> Doc | None:
    """The operator of a signed token (Bearer, cookie, or ?token= for WebSockets), if valid."""
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if token is None and allow_query:
        token = request.query.get("token")
    if not token:
        return None
    claims = request.app[SIGNER].read(token)
    if claims is None:
        return None
    doc = await request.app[STORE].operator_doc(claims.login)
    if doc is None or not session_valid(doc, claims.stamp, claims.epoch):
        return None
    return doc


def session_valid(doc: Doc, stamp: str, epoch: int) -> bool:
    """The token's password stamp and session epoch are current, and nobody dismissed them."""
    return (
        password_stamp(doc.get("password_hash")) == stamp
        and session_epoch(doc) == epoch
        and not dismissed(doc)
    )


async def require_operator(request: web.Request, *, allow_query: bool = False) -> Doc:
    doc = await current_operator(request, allow_query=allow_query)
    if doc is None:
        raise ApiError(401, "unauthorized", "log in first: no valid operator session or token")
    return doc


async def _require_role(request: web.Request, roles: tuple[str, ...], who: str) -> Doc | None:
    """ADMIN_TOKEN, or an operator session with one of `roles`; the operator when it is one."""
    token = bearer(request)
    if token is not None and same_secret(token, request.app[SECRETS]["admin_token"]):
        return None
    doc = await current_operator(request)
    if doc is None:
        raise ApiError(401, "unauthorized", "Authorization: Bearer <ADMIN_TOKEN> is required")
    if doc.get("role") not in roles:
        raise ApiError(403, "forbidden", f"{who} only")
    return doc


async def require_admin(request: web.Request) -> Doc | None:
    return await _require_role(request, ("admin",), "administrators")


SUPERVISING_ROLES = ("admin", "supervisor")


async def require_supervisor(request: web.Request) -> Doc | None:
    """Live figures and calls are for supervisors and administrators."""
    return await _require_role(request, SUPERVISING_ROLES, "supervisors and administrators")
