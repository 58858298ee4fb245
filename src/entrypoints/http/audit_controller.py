"""`/api/v1/secrets/audit`: who did what to which secret, and when. Never a value."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream

from domain.audit import AuditAction, AuditOutcome, StoredAuditEvent
from domain.errors import InvalidInput
from domain.secrets import validate_filter
from domain.values import Principal
from entrypoints.http import documented as rules
from entrypoints.http import schemas
from entrypoints.http.responses import PROBLEM_RESPONSES
from services.audit_service import AuditService

Caller = NamedDependency[Principal]
Audit = NamedDependency[AuditService]
DateParam = Annotated[str | None, QueryParameter(description="ISO date (2024-01-01) or date-time")]
UserParam = Annotated[
    str | None, QueryParameter(description="admins only: another user's trail", schema_extra=rules.USER_ID)
]
CSV_COLUMNS = list(schemas.AuditLogRead.__struct_fields__)


class AuditController(Controller):
    path = "/api/v1/secrets/audit"
    tags = ["audit"]

    @get("/", summary="The caller's secret access history, newest first", responses=PROBLEM_RESPONSES)
    async def list_events(
        self,
        principal: Caller,
        audit_service: Audit,
        secret_key: Annotated[
            str | None, QueryParameter(description="only this secret", schema_extra=rules.FILTER)
        ] = None,
        action: Annotated[
            str | None,
            QueryParameter(
                description="e.g. read, update, delete", schema_extra={"enum": [str(a) for a in AuditAction]}
            ),
        ] = None,
        outcome: Annotated[
            str | None,
            QueryParameter(
                description="success, denied, not_found, ...", schema_extra={"enum": [str(o) for o in AuditOutcome]}
            ),
        ] = None,
        start_date: DateParam = None,
        end_date: DateParam = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
        user_id: UserParam = None,
    ) -> schemas.AuditLogPage:
        page = await audit_service.query(
            principal,
            user_id=user_id,
            secret_key=validate_filter(secret_key, field="secret_key"),
            action=action,
            outcome=outcome,
            start=_start(start_date),
            end=_end(end_date),
            limit=limit,
            cursor=cursor,
        )
        return schemas.AuditLogPage(logs=[_read(e) for e in page.events], next_cursor=page.next_cursor)

    @get("/export", summary="The trail for a date range as CSV or NDJSON", responses=PROBLEM_RESPONSES)
    async def export(
        self,
        principal: Caller,
        audit_service: Audit,
        format: Annotated[Literal["csv", "ndjson"], QueryParameter(description="csv or ndjson")] = "ndjson",
        start_date: DateParam = None,
        end_date: DateParam = None,
        user_id: UserParam = None,
    ) -> Response:
        events = await audit_service.export(principal, user_id=user_id, start=_start(start_date), end=_end(end_date))
        render = _csv_lines if format == "csv" else _ndjson_lines
        media_type = "text/csv" if format == "csv" else "application/x-ndjson"
        return Stream(
            render(events),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
        )


def _read(event: StoredAuditEvent) -> schemas.AuditLogRead:
    return schemas.AuditLogRead(
        id=event.id,
        action=str(event.action),
        outcome=str(event.outcome),
        secret=event.secret_key,
        secret_type=event.secret_type,
        version=event.version,
        timestamp=event.occurred_at,
        user_id=event.subject_user_id,
        actor=event.actor_id,
        actor_is_admin=event.actor_is_admin,
        ip=event.client_ip,
        user_agent=event.user_agent,
        request_id=event.request_id,
        trace_id=event.trace_id,
        reason=event.reason,
    )


async def _ndjson_lines(events: AsyncIterator[StoredAuditEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield msgspec.json.encode(_read(event)) + b"\n"


# OWASP's CSV injection rule: a cell a spreadsheet would read as a formula gets a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _csv_lines(events: AsyncIterator[StoredAuditEvent]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for event in events:
        row = msgspec.to_builtins(_read(event))
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _parse(raw: str, name: str) -> datetime | date:
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO date or date-time", field=name) from None


def _out_of_range(name: str) -> InvalidInput:
    # The first and last days of the calendar have no UTC instant on one side (a +14:00 offset on
    # 0001-01-01, the day after 9999-12-31): the caller's input, so a 422 and never an overflow.
    return InvalidInput(f"{name} is outside the dates the trail can be queried by", field=name)


def _as_utc(moment: datetime, name: str) -> datetime:
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(name) from None


def _start(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    parsed = _parse(raw, "start_date")
    if isinstance(parsed, datetime):
        return _as_utc(parsed, "start_date")
    return datetime.combine(parsed, time.min, UTC)


def _end(raw: str | None) -> datetime | None:
    """Exclusive; a bare date includes that whole day."""
    if raw is None:
        return None
    parsed = _parse(raw, "end_date")
    if isinstance(parsed, datetime):
        return _as_utc(parsed, "end_date")
    try:
        return datetime.combine(parsed + timedelta(days=1), time.min, UTC)
    except OverflowError:
        raise _out_of_range("end_date") from None
