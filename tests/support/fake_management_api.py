"""A local stand-in for Voximplant's Management API (`/platform_api`), for tests.

It checks what the real one checks before doing anything: the `Authorization: Bearer` JWT is
RS256, signed by the service account's key (verified with the public key), names that key in
`kid`, has `iss` = the account id, `iat` and `exp` with `exp ≤ iat + 3600`, and has not expired;
the body is a form with `cmd` and the method's required fields. Failures answer the way the real
API does, `{"error": {"code", "msg"}}` with HTTP 200. Every request is recorded; a test can make
the next requests fail with an HTTP status, an API error, or no answer at all.

`make_credentials()` makes a fresh key pair and the credentials file the control panel would save.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.adapters.voximplant_api import Credentials

ACCOUNT_ID = 4242
KEY_ID = "5b3c1f0e-8a7d-4c2b-9e61-0d2f5a7c9b13"

# Required form fields per method (the real API answers code 101 for a missing one).
REQUIRED: dict[str, tuple[str, ...]] = {
    "SendSmsMessage": ("source", "destination", "sms_body"),
    "StartScenarios": ("script_custom_data",),
}


@dataclass(frozen=True)
class KeyPair:
    credentials: Credentials
    public_key_pem: str
    path: Path  # the credentials JSON file


def make_credentials(
    folder: Path, *, account_id: int = ACCOUNT_ID, key_id: str = KEY_ID
) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = folder / "voximplant-credentials.json"
    # The shape the control panel saves for a service account key.
    path.write_text(
        json.dumps(
            {
                "account_email": "owner@example.com",
                "account_id": account_id,
                "key_id": key_id,
                "private_key": private_pem,
            }
        ),
        encoding="utf-8",
    )
    return KeyPair(Credentials(account_id, key_id, private_pem), public_pem, path)


@dataclass
class Recorded:
    cmd: str
    form: dict[str, str]
    claims: dict[str, Any]
    headers: dict[str, Any]


@dataclass
class Failure:
    status: int = 200
    error: tuple[int, str] | None = None  # an API error body {"error": {code, msg}}
    hang: bool = False  # never answer (the client's timeout ends the request)


@dataclass
class FakeManagementApi:
    public_key_pem: str
    account_id: int = ACCOUNT_ID
    key_id: str = KEY_ID
    requests: list[Recorded] = field(default_factory=list)  # accepted requests only
    rejected: list[str] = field(default_factory=list)  # why each refused request was refused
    attempts: int = 0  # every HTTP request, accepted, refused or failed
    failures: list[Failure] = field(default_factory=list)
    on_start_scenarios: Callable[[dict[str, str]], Awaitable[dict[str, Any]]] | None = None
    url: str = ""
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _received: asyncio.Condition = field(default_factory=asyncio.Condition)

    # --- what a test tells it ---------------------------------------------------------------
    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        self.failures.extend(Failure(status=status) for _ in range(count))

    def error_next(self, code: int, msg: str, *, status: int = 200) -> None:
        self.failures.append(Failure(status=status, error=(code, msg)))

    def hang_next(self, count: int = 1) -> None:
        self.failures.extend(Failure(hang=True) for _ in range(count))

    def sms(self) -> list[dict[str, str]]:
        return [r.form for r in self.requests if r.cmd == "SendSmsMessage"]

    async def wait_for(self, cmd: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        async def enough() -> list[Recorded]:
            async with self._received:
                await self._received.wait_for(
                    lambda: len([r for r in self.requests if r.cmd == cmd]) >= count
                )
            return [r for r in self.requests if r.cmd == cmd]

        return await asyncio.wait_for(enough(), timeout)

    # --- server -----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/platform_api", self._handle)
        app.router.add_post("/platform_api/", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/platform_api"

    async def close(self) -> None:
        self._release.set()
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self.failures:
            failure = self.failures.pop(0)
            if failure.hang:
                await self._release.wait()
                return web.Response(status=503)
            if failure.error is not None:
                code, msg = failure.error
                return web.json_response(
                    {"error": {"code": code, "msg": msg}}, status=failure.status
                )
            return web.Response(status=failure.status, text="Service Unavailable")
        claims_or_error = self._verify(request.headers.get("Authorization", ""))
        if isinstance(claims_or_error, str):
            return self._refuse(100, claims_or_error)
        claims = claims_or_error
        if request.content_type != "application/x-www-form-urlencoded":
            return self._refuse(101, f"expected a form, got {request.content_type}")
        form = {k: str(v) for k, v in (await request.post()).items()}
        cmd = form.pop("cmd", "")
        if not cmd:
            return self._refuse(102, "cmd is missing")
        if cmd not in REQUIRED:
            return self._refuse(103, f"unknown command {cmd}")
        for name in REQUIRED[cmd]:
            if not form.get(name):
                return self._refuse(101, f"{name} is required")
        if cmd == "StartScenarios" and not (form.get("rule_id") or form.get("rule_name")):
            return self._refuse(101, "rule_id or rule_name is required")
        if cmd == "SendSmsMessage":
            for name in ("source", "destination"):
                if not form[name].isdigit():
                    return self._refuse(101, f"{name} must be digits")
            if len(form["sms_body"]) > 765:
                return self._refuse(101, "sms_body is longer than 765 characters")
        header = jwt.get_unverified_header(request.headers["Authorization"].split(" ", 1)[1])
        async with self._received:
            self.requests.append(Recorded(cmd, form, claims, header))
            self._received.notify_all()
        if cmd == "SendSmsMessage":
            return web.json_response(
                {"result": 1, "message_id": len(self.requests), "fragments_count": 1}
            )
        if self.on_start_scenarios is not None:
            return web.json_response(await self.on_start_scenarios(form))
        n = len(self.requests)
        return web.json_response(
            {
                "result": 1,
                "media_session_access_url": f"http://127.0.0.1/request/{n}",
                "media_session_access_secure_url": f"https://127.0.0.1/request/{n}",
                "call_session_history_id": n,
            }
        )

    def _verify(self, authorization: str) -> dict[str, Any] | str:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return "no Bearer token"
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as e:
            return f"malformed token: {e}"
        if header.get("alg") != "RS256":
            return f"alg {header.get('alg')!r}, expected RS256"
        if header.get("kid") != self.key_id:
            return f"unknown kid {header.get('kid')!r}"
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "iat", "exp"], "verify_iat": False},
            )
        except jwt.InvalidTokenError as e:
            return f"invalid token: {e}"
        if str(claims["iss"]) != str(self.account_id):
            return f"iss {claims['iss']!r} is not the account"
        if claims["exp"] - claims["iat"] > 3600:
            return "exp is more than an hour after iat"
        return claims

    def _refuse(self, code: int, msg: str) -> web.Response:
        self.rejected.append(msg)
        return web.json_response({"error": {"code": code, "msg": msg}})


@contextlib.asynccontextmanager
async def running_api(folder: Path) -> AsyncIterator[tuple[FakeManagementApi, KeyPair]]:
    """A started stand-in with a fresh key pair (its credentials file in `folder`)."""
    keys = make_credentials(folder)
    fake = FakeManagementApi(keys.public_key_pem)
    await fake.start()
    try:
        yield fake, keys
    finally:
        await fake.close()
