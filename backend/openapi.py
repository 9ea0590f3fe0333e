"""The OpenAPI 3.1 description at /api/v1/openapi.json, generated, never hand-written.

Paths, methods and path parameters come from the app's route table; each handler's request body
model, query parameters and the credentials it asks for are read from its code (the model passed
to `read_json`, the `request.query.get(...)` names, the `require_*` calls); schemas come from the
pydantic models themselves. Every operation documents its errors with one shape, `Error`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

TITLE = "Switchboard API"
VERSION = "1"
# Functions whose second argument is the request body's model.
_BODY_READERS = {"read_json", "_own_call", "_body_or_empty"}
_SECURITY = {
    "require_platform": "platform",
    "require_admin": "admin",
    "require_supervisor": "admin",
    "require_operator": "operator",
    "_own_call": "operator",
    "actor": "admin",  # views/parties.py: ADMIN_TOKEN or an operator's session
}
# A handler calling these is reached by any of these credentials.
_ALSO = {"admin": ["admin", "operator"]}
_SKIPPED = {"/api/v1/ws"}  # a WebSocket upgrade, not a JSON operation


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class Error(BaseModel):
    """Every 4xx and 503 answer of the API."""

    error: ErrorDetail


@cache
def _reads(handler: Callable[..., Any]) -> tuple[type[BaseModel] | None, tuple[str, ...], str]:
    """(body model, query parameter names, credential) found in the handler's code."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    except (OSError, TypeError, SyntaxError):
        return None, (), ""
    env = getattr(handler, "__globals__", {})
    model: type[BaseModel] | None = None
    query: list[str] = []
    security = ""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in _BODY_READERS and len(node.args) >= 2 and isinstance(node.args[1], ast.Name):
            found = env.get(node.args[1].id)
            if isinstance(found, type) and issubclass(found, BaseModel):
                model = found
        if name in _SECURITY and not security:
            security = _SECURITY[name]
        # request.query.get("name", ...)
        if (
            name == "get"
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "query"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value != "token"
        ):
            query.append(node.args[0].value)
    return model, tuple(dict.fromkeys(query)), security


def _parameters(path: str, query: tuple[str, ...]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            params.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
    params += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query
    ]
    return params


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build(app: web.Application) -> dict[str, Any]:
    ref = "#/components/schemas/{model}"
    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {"Error": Error}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter") or "")
        method = route.method.lower()
        if not (path.startswith("/api/v1/") or path == "/healthz") or path in _SKIPPED:
            continue
        if method in ("head", "*"):
            continue
        model, query, security = _reads(route.handler)
        error = {"$ref": "#/components/responses/Error"}
        op: dict[str, Any] = {
            "operationId": route.name or f"{method}_{path}",
            "summary": (inspect.getdoc(route.handler) or "").split("\n")[0] or route.name or "",
            "parameters": _parameters(path, query),
            "responses": {
                "2XX": {
                    "description": "Success",
                    "content": _json({"type": "object"}),
                },
                "4XX": error,
                "503": error,
            },
        }
        if model is not None:
            models[model.__name__] = model
            op["requestBody"] = {
                "required": True,
                "content": _json({"$ref": ref.format(model=model.__name__)}),
            }
        if security:
            op["security"] = [{name: []} for name in _ALSO.get(security, [security])]
        paths.setdefault(path, {})[method] = op
    _, top = models_json_schema([(m, "validation") for m in models.values()], ref_template=ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": top.get("$defs", {}),
            "responses": {
                "Error": {
                    "description": 'An error: {"error": {"code", "message", "field"}}',
                    "content": _json({"$ref": ref.format(model="Error")}),
                }
            },
            "securitySchemes": {
                "platform": {"type": "http", "scheme": "bearer", "description": "PLATFORM_TOKEN"},
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                "operator": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the token of POST /api/v1/auth/login (or its cookie)",
                },
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    """This description, generated from the routes and the pydantic models."""
    return web.json_response(build(request.app))
