"""The access-URL client: commands to a running VoxEngine session, with timeouts and back-off."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


class SessionGone(Exception):
    """404/410 from the access URL: the session has ended."""


class PlatformUnavailable(Exception):
    """No answer after every attempt (connection errors, timeouts, 5xx)."""


class CommandRejected(Exception):
    """The session answered, but refused the command (4xx other than 404/410)."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # parsed JSON when the reply is JSON, else the raw text
    attempts: int


class PlatformClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float,
        attempts: int,
        backoff_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.sleep = sleep  # tests pass their own to see the back-off schedule
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 3.0))
        self.attempts = attempts
        self.backoff_s = backoff_s

    async def send(self, url: str, command: dict[str, Any]) -> Reply:
        last_error = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            try:
                async with self.session.post(url, json=command, timeout=self.timeout) as resp:
                    text = await resp.text()
                    if resp.status in (404, 410):
                        raise SessionGone(f"access URL answered {resp.status}")
                    if resp.status >= 500:
                        last_error = f"HTTP {resp.status}"
                    elif resp.status >= 400:
                        raise CommandRejected(f"HTTP {resp.status}: {text[:200]}")
                    else:
                        return Reply(resp.status, _parse(text), attempt)
            except (aiohttp.ClientError, TimeoutError) as e:
                last_error = f"{type(e).__name__}: {e}"
            if attempt < self.attempts:
                # Exponential back-off with jitter so many processes do not retry in step.
                delay = self.backoff_s * (2 ** (attempt - 1))
                await self.sleep(delay * random.uniform(0.75, 1.25))
        raise PlatformUnavailable(f"{self.attempts} attempts failed; last: {last_error}")


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
