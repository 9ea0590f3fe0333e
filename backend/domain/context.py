"""The caller's context (custom data, destination, X- headers) picks a skill group and priority."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.domain.model import Media

# The custom_data fields the Web SDK page or kiosk may send (≤ 200 bytes on the platform).
CONTEXT_FIELDS = ("customer_id", "page", "category", "kiosk", "invite")


@dataclass(frozen=True, slots=True)
class CallContext:
    caller: str
    destination: str
    media: Media
    headers: Mapping[str, str]
    data: Mapping[str, Any]

    def field(self, name: str) -> str | None:
        """The value as the config author writes it: JSON spelling for true, false, objects."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"))


def parse_custom_data(raw: str) -> dict[str, Any]:
    """custom_data is free text: a JSON object is read as context; anything else stays raw only."""
    raw = raw.strip()
    if not raw.startswith("{"):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Rule:
    """All given patterns must match (full-match regular expressions); the first rule wins."""

    group: str
    priority: int | None = None
    fields: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    destination: re.Pattern[str] | None = None
    media: Media | None = None
    headers: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    def matches(self, ctx: CallContext) -> bool:
        if self.media is not None and ctx.media is not self.media:
            return False
        if self.destination is not None and not self.destination.fullmatch(ctx.destination):
            return False
        for name, pattern in self.fields.items():
            value = ctx.field(name)
            if value is None or not pattern.fullmatch(value):
                return False
        lowered = {k.lower(): v for k, v in ctx.headers.items()}
        for name, pattern in self.headers.items():
            value = lowered.get(name.lower())
            if value is None or not pattern.fullmatch(value):
                return False
        return True


def choose_group(
    ctx: CallContext,
    rules: tuple[Rule, ...],
    default_group: str,
    group_priority: Mapping[str, int],
    fallback_priority: int = 50,
) -> tuple[str, int]:
    """The first matching rule's group and priority (else the group's own), or the default group."""
    for rule in rules:
        if rule.matches(ctx):
            priority = rule.priority
            if priority is None:
                priority = group_priority.get(rule.group, fallback_priority)
            return rule.group, priority
    return default_group, group_priority.get(default_group, fallback_priority)
