"""Supervisors: the live floor, reports over any range (JSON or CSV) and staffing advice."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from backend.domain import rollup
from backend.keys import ENGINE, FEED, FLOOR, SETTINGS, STORE
from backend.services import report_summary as reports
from backend.views.access import require_supervisor
from backend.views.errors import ApiError


async def operators_live(request: web.Request) -> web.Response:
    """The same picture the supervisors' sockets get pushed, from this process's view."""
    await require_supervisor(request)
    floor = request.app[FLOOR].snapshot()
    floor.pop("type", None)
    return web.json_response(floor)


def _when(text: str, name: str, tz: ZoneInfo) -> datetime:
    """An ISO date-time (without an offset: the center's time) or a date (its midnight)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "invalid", f"{name}: not an ISO date or date-time: {text[:40]!r}", name
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _range(request: web.Request) -> reports.Range:
    settings = request.app[SETTINGS]
    tz = ZoneInfo(settings.config.center.timezone)
    now = request.app[ENGINE].clock()
    q = request.query
    start_text, end_text = q.get("from", ""), q.get("to", "")
    today = rollup.bucket_start(now, "day", tz)
    start = _when(start_text, "from", tz) if start_text else today
    # Without `to`: to the end of today (or of `from`'s day, when that is later).
    end = _when(end_text, "to", tz) if end_text else rollup.bucket_end(max(start, today), "day", tz)
    if end_text and len(end_text) == 10:
        end += timedelta(days=1)  # a date as "to" includes that whole day
    group = q.get("group", "") or None
    by = q.get("by", "") or reports.default_by(start, end)
    return reports.Range(start, end, by, group)


def _wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format", "")
    if fmt and fmt not in ("json", "csv"):
        raise ApiError(400, "invalid", "format: json or csv", "format")
    if fmt:
        return fmt == "csv"
    return "text/csv" in request.headers.get("Accept", "")


async def summary(request: web.Request) -> web.StreamResponse:
    await require_supervisor(request)
    app = request.app
    wants_csv = _wants_csv(request)
    table = request.query.get("table", "groups")
    if table not in reports.TABLES:
        raise ApiError(400, "invalid", f"table: one of {', '.join(reports.TABLES)}", "table")
    try:
        report = await reports.summary(
            app[STORE],
            app[FEED],
            app[ENGINE].rollup,
            app[ENGINE].settings,
            _range(request),
            app[ENGINE].clock(),
        )
    except reports.ReportError as e:
        raise ApiError(400, "invalid", str(e), e.field) from None
    if not wants_csv:
        return web.json_response(report)
    name = f"switchboard-{table}-{report['from'][:10]}-{report['to'][:10]}.csv"
    return web.Response(
        text=reports.to_csv(report, table),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def staffing(request: web.Request) -> web.Response:
    await require_supervisor(request)
    app = request.app
    groups = await reports.staffing(
        app[STORE], app[FEED], app[ENGINE].settings, app[ENGINE].clock()
    )
    return web.json_response({"groups": groups})
