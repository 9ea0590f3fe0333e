"""Voximplant's Management API (`platform_api`): SendSmsMessage and StartScenarios.

The official Python client (`voximplant-apiclient`) is synchronous and sends with no timeout at
all, so this adapter does the small part we need itself, on the app's aiohttp session: a form POST
with `cmd=<Method>` and snake_case parameters, authorised by a service-account JWT (RS256, header
`kid` = key id, claims `iss` = account id, `iat`, and an `exp` a minute ahead), a timeout on every
attempt, and retries with exponential back-off only when the answer says nothing about the request
(connection errors, timeouts, 5xx). The API reports errors in the body (`{"error": {"code",
"msg"}}`, usually with HTTP 200): that is a `ManagementApiError`, never retried.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt

DEFAULT_API_URL = "https://api.voximplant.com/platform_api"
# The platform takes exp up to iat + 3600; a short life limits what a leaked token is worth.
TOKEN_LIFETIME_S = 60
# Clock skew allowance: the official clients date iat a few seconds back.
TOKEN_BACKDATE_S = 5
MAX_SMS_BODY = 765  # SendSmsMessage: longer bodies are refused (split into 160/70-char segments)


class ManagementApiFailure(Exception):
    """The request did not do what was asked: base of the two cases below."""


class ManagementApiError(ManagementApiFailure):
    """The API answered and refused: `{"error": {"code", "msg"}}` (or a 4xx without one)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"Voximplant {method} refused: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message


class ManagementApiUnavailable(ManagementApiFailure):
    """No usable answer after every attempt (connection errors, timeouts, 5xx)."""

    def __init__(self, method: str, attempts: int, last: str) -> None:
        super().__init__(f"Voximplant {method}: no answer after {attempts} attempt(s); {last}")
        self.method = method
        self.attempts = attempts
        self.last = last


class CredentialsError(ValueError):
    """The credentials file is missing, unreadable or lacks a field: the message names it."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A service account key as the control panel saves it (Settings → Service accounts):
    a JSON object with `account_id`, `key_id` and `private_key` (PEM), among other fields."""

    account_id: int
    key_id: str
    private_key: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "credentials") -> Credentials:
        for name in ("account_id", "key_id", "private_key"):
            if data.get(name) in (None, ""):
                raise CredentialsError(f"{source}: {name} is missing")
        try:
            account_id = int(data["account_id"])
        except (TypeError, ValueError):
            raise CredentialsError(f"{source}: account_id is not a number") from None
        key_id, private_key = data["key_id"], data["private_key"]
        if not isinstance(key_id, str) or not isinstance(private_key, str):
            raise CredentialsError(f"{source}: key_id and private_key must be strings")
        if "PRIVATE KEY" not in private_key:
            raise CredentialsError(f"{source}: private_key is not a PEM private key")
        return cls(account_id, key_id, private_key)

    @classmethod
    def load(cls, path: str | Path) -> Credentials:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise CredentialsError(f"{path}: cannot read ({e.strerror or e})") from None
        except ValueError as e:
            raise CredentialsError(f"{path}: not JSON ({e})") from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{path}: not a JSON object")
        return cls.from_mapping(data, str(path))


def voximplant_number(number: str) -> str:
    """Voximplant writes phone numbers as digits with the country code and no '+'."""
    return number.strip().removeprefix("+")


class ManagementApi:
    """One account's Management API. Every method is one logical request: at most `attempts`
    HTTP attempts, each bounded by `timeout_s`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        application_id: int | None = None,
        application_name: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.session = session
        self.credentials = credentials
        self.api_url = api_url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 3.0))
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.application_id = application_id
        self.application_name = application_name or None
        self.clock = clock
        self.sleep = sleep  # tests pass their own to see the back-off schedule

    def token(self) -> str:
        """A fresh JWT for one request (cheap: one RSA signature)."""
        now = int(self.clock())
        claims = {
            "iss": str(self.credentials.account_id),  # PyJWT (and RFC 7519) want a string
            "iat": now - TOKEN_BACKDATE_S,
            "exp": now + TOKEN_LIFETIME_S,
        }
        return jwt.encode(
            claims,
            self.credentials.private_key,
            algorithm="RS256",
            headers={"kid": self.credentials.key_id},
        )

    async def call(self, method: str, params: Mapping[str, str]) -> dict[str, Any]:
        """POST `cmd=method` and `params` as a form; the parsed JSON answer on success."""
        form = {"cmd": method, **params}
        last = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            headers = {"Authorization": f"Bearer {self.token()}"}
            try:
                async with self.session.post(
                    self.api_url, data=form, headers=headers, timeout=self.timeout
                ) as resp:
                    text = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as e:
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                body = _json_object(text)
                if status >= 500:
                    last = f"HTTP {status}"
                    if body is not None and isinstance(body.get("error"), dict):
                        last += f": {body['error'].get('msg', '')}"
                else:
                    return _result(method, status, body, text)
            if attempt < self.attempts:
                # Exponential back-off with jitter, so that processes do not retry in step.
                delay = self.backoff_s * (2 ** (attempt - 1))
                await self.sleep(delay * random.uniform(0.75, 1.25))
        raise ManagementApiUnavailable(method, self.attempts, last)

    async def send_sms(self, source: str, destination: str, body: str) -> None:
        """SendSmsMessage from `source` (a rented number with SMS enabled) to `destination`."""
        if not body:
            raise ValueError("body: empty SMS")
        if len(body) > MAX_SMS_BODY:
            raise ValueError(f"body: {len(body)} characters, SendSmsMessage takes {MAX_SMS_BODY}")
        await self.call(
            "SendSmsMessage",
            {
                "source": voximplant_number(source),
                "destination": voximplant_number(destination),
                "sms_body": body,
            },
        )

    async def start_scenarios(
        self,
        *,
        rule_id: int | None = None,
        rule_name: str | None = None,
        script_custom_data: str,
    ) -> dict[str, object]:
        """StartScenarios: run the rule's scenarios with `script_custom_data` (the scenario reads
        it with `VoxEngine.customData()`). The answer carries `media_session_access_url` and
        `media_session_access_secure_url`, the new session's access URLs."""
        if (rule_id is None) == (rule_name is None):
            raise ValueError("start_scenarios: give exactly one of rule_id and rule_name")
        params: dict[str, str] = {"script_custom_data": script_custom_data}
        if rule_id is not None:
            params["rule_id"] = str(rule_id)
        else:
            # A rule's name is unique only inside its application.
            if self.application_id is None and self.application_name is None:
                raise ValueError(
                    "start_scenarios: rule_name needs the application "
                    "([voximplant] application_id or application)"
                )
            params["rule_name"] = str(rule_name)
        if self.application_id is not None:
            params["application_id"] = str(self.application_id)
        elif self.application_name is not None:
            params["application_name"] = self.application_name
        return await self.call("StartScenarios", params)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _result(method: str, status: int, body: dict[str, Any] | None, text: str) -> dict[str, Any]:
    if body is not None and "error" in body:
        error = body["error"]
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("msg") or error.get("message") or "no message"
            return _raise(method, code if isinstance(code, int) else status, str(message))
        return _raise(method, status, str(error))
    if status >= 400:
        return _raise(method, status, f"HTTP {status}: {text[:200]}")
    if body is None:
        return _raise(method, status, f"the answer is not a JSON object: {text[:200]!r}")
    return body


def _raise(method: str, code: int, message: str) -> dict[str, Any]:
    raise ManagementApiError(method, code, message)
