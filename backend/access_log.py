"""The access log without secrets: tokens and passwords in query strings are masked."""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

# ?token= is how a WebSocket may authenticate; the others are masked as a precaution.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|password|secret)=)[^&\s\"]*",
)


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access log, with every logged string (request line, Referer…) redacted."""

    def _format_line(
        self, request: BaseRequest, response: StreamResponse, time: float
    ) -> Iterable[tuple[str | tuple[str, str], str]]:
        return [
            (key, redact(value) if isinstance(value, str) else value)
            for key, value in super()._format_line(request, response, time)
        ]
