"""The optional CRM lookup: GET <url>?phone=…&customer_id=… answering a JSON object of fields.

A slow or broken CRM must never break a call card: every failure becomes `unavailable`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from backend.settings import CrmConfig

log = logging.getLogger(__name__)

MAX_FIELDS = 40
MAX_VALUE = 500

Status = Literal["ok", "not_found", "unavailable", "not_configured"]


@dataclass(frozen=True, slots=True)
class CrmResult:
    status: Status
    fields: dict[str, str] = field(default_factory=dict)
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "fields": self.fields, "message": self.message}


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text[:MAX_VALUE]


def shape_fields(data: dict[str, Any]) -> dict[str, str]:
    """Whatever the CRM sends, the card gets at most MAX_FIELDS short strings."""
    items = list(data.items())[:MAX_FIELDS]
    return {str(k)[:64]: _text(v) for k, v in items}


async def lookup(
    http: aiohttp.ClientSession, config: CrmConfig, phone: str, customer_id: str | None
) -> CrmResult:
    if not config.url:
        return CrmResult("not_configured")
    params = {k: v for k, v in (("phone", phone), ("customer_id", customer_id or "")) if v}
    if not params:
        return CrmResult("not_found", message="no phone number or customer id to look up")
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)
    try:
        async with http.get(config.url, params=params, timeout=timeout) as resp:
            if resp.status == 404:
                return CrmResult("not_found", message="the CRM has no record of this contact")
            if resp.status >= 400:
                return CrmResult("unavailable", message=f"CRM unavailable (HTTP {resp.status})")
            data = await resp.json(content_type=None)
    except TimeoutError:
        return CrmResult(
            "unavailable", message=f"CRM unavailable (no answer in {config.timeout_s:g} s)"
        )
    except (aiohttp.ClientError, ValueError, RecursionError) as e:
        log.info("CRM lookup failed: %s", e)
        return CrmResult("unavailable", message="CRM unavailable")
    if not isinstance(data, dict):
        return CrmResult("unavailable", message="CRM unavailable (the answer is not an object)")
    return CrmResult("ok", shape_fields(data))
