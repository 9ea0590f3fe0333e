"""One JSON error shape for the API: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from backend.domain.actions import Refused
from backend.services.engine import Contention
from backend.views.json_depth import MAX_DEPTH, too_deep

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    return web.json_response(body, status=status, headers=headers)


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    401: "unauthorized",
    403: "forbidden",
}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.code, e.message, e.field, e.headers)
    except Refused as e:
        return error_response(409, e.code, e.message)
    except Contention as e:
        return error_response(503, "busy", f"try again: {e}")
    except web.HTTPException as e:
        if not request.path.startswith("/api/") or e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        message = e.text or e.reason
        if e.status == 413:
            message = "request body is larger than 64 KiB"
        return error_response(e.status, code, message)
    except Exception:
        # Whatever went wrong, the answer keeps the documented shape (never a plain-text 500).
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "unexpected server error; it has been logged")


JSON_TYPES = ("application/json",)


def require_json_type(request: web.Request) -> None:
    """A body must say it is JSON: a page elsewhere cannot send one without a CORS preflight."""
    if request.content_type not in JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, not {request.content_type or 'none'}",
        )


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body; a 4xx names the problem and nothing has been written."""
    require_json_type(request)
    if request.content_length is not None and request.content_length > request.app._client_max_size:
        raise ApiError(413, "body_too_large", "request body is larger than 64 KiB")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large", "request body is larger than 64 KiB") from None
    if not raw.strip():
        raise ApiError(400, "malformed_json", "request body is empty; a JSON object is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "too_deep", f"JSON nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    if too_deep(data):
        raise ApiError(400, "too_deep", f"JSON nests deeper than {MAX_DEPTH} levels")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise ApiError(422, "invalid_field", f"{field}: {first['msg']}", field) from None
