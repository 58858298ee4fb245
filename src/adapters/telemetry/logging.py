"""Structured logs: one JSON object per line, with a redaction step no record can skip.

    configure_logging(level="INFO", json_output=True)

installs one handler on the root logger. The handler carries a `RedactingFilter`, so every record
that reaches it, from any logger that propagates (ours, Litestar's, uvicorn's, hvac's, httpx's),
is scrubbed before it is formatted: the final message, the arguments, the exception text, the
stack text and any `extra=` fields. The JSON formatter adds the current OpenTelemetry trace and
span ids and the request id from `request_id_var`.

What is masked (replaced by ``[REDACTED]``):

- bearer credentials (``Bearer <anything>``) and JWTs (``eyJ...`` three base64url parts);
- Vault/OpenBao tokens: ``hvs.``/``hvb.``/``hvr.`` + 20 or more characters, and the legacy
  ``s.``/``b.``/``r.`` + 24 or more characters;
- GitHub tokens: ``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``;
- the value after ``Authorization:``/``Proxy-Authorization:``/``X-Vault-Token:`` (also
  ``'Authorization': '...'`` as printed from a dict);
- the value after ``password=``/``password:`` and its relatives (``passwd``, ``secret``,
  ``secret_id``, ``client_secret``, ``token``, ``access_token``, ``refresh_token``, ``api_key``);
- any string registered at runtime with `register_secret` (exact substrings; a bounded set, the
  oldest registrations are forgotten first).

Uvicorn
-------
Uvicorn configures its own loggers (``uvicorn``, ``uvicorn.error``, ``uvicorn.access``) with
their own handlers and ``propagate=False`` unless it is told not to. Run it with
``log_config=None`` (``uvicorn.run(..., log_config=None)``, or ``--log-config`` pointing at a file
made from `uvicorn_log_config()`): it then leaves logging alone, and `configure_logging` - called
in every worker process, e.g. from the ASGI factory - resets those loggers to propagate into the
redacting root handler. Litestar likewise must be built with ``logging_config=None`` or it
replaces the root handlers with its own queue handler.

Off the event loop
------------------
``configure_logging(off_loop=True)`` (what the served app uses) puts a `QueueHandler` on the root
logger instead: a log call on the event loop only renders the message, captures the trace and
request ids (they live in context variables the writer thread can't see) and enqueues the record;
redaction, JSON formatting and the write to stderr happen in a `QueueListener` thread. Records
reach the redacting handler exactly as before, so nothing skips redaction.

Access-log sampling
-------------------
`AccessLogSampler` (attached to ``uvicorn.access`` with ``access_sample`` < 1) keeps every access
line of a 4xx/5xx answer and one in ``1/access_sample`` of the others: the audit trail already
records every secret operation, and a line per successful read costs about a tenth of a worker's
CPU under load.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import sys
import threading
import traceback
from collections import OrderedDict
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

__all__ = [
    "MASK",
    "JsonFormatter",
    "RedactingFilter",
    "clear_registered_secrets",
    "configure_logging",
    "redact",
    "register_secret",
    "request_id_var",
    "uvicorn_log_config",
]

MASK = "[REDACTED]"

request_id_var: ContextVar[str | None] = ContextVar("mirage_request_id", default=None)
"""The current request's id, when something sets it. When it is unset the formatter falls back to
`domain.request_context.current_request` (set by `entrypoints.http.request_context`), so the
existing request-context middleware is enough and nothing has to set both."""


def current_request_id() -> str | None:
    request_id = request_id_var.get()
    if request_id:
        return request_id
    try:
        from domain.request_context import current_request
    except ImportError:  # pragma: no cover - the module is optional for this adapter
        return None
    return getattr(current_request.get(), "request_id", None)


# Loggers that third-party servers configure for themselves; `configure_logging` points them at root.
_SERVER_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "litestar",
    "granian",
    "_granian",
    "granian.access",
    "gunicorn.error",
)
_ACCESS_LOGGERS = ("uvicorn.access", "granian.access")

# -- patterns ----------------------------------------------------------------------------------

_HEADER_VALUE = r"""(?P<value>[^\r\n'"]+)"""
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Header lines or dict reprs: keep the name, drop everything after it up to the end of the value.
    (
        re.compile(
            r"""(?P<name>\b(?:proxy-)?authorization|\bx-vault-token)(?P<sep>['"]?\s*[:=]\s*['"]?)""" + _HEADER_VALUE,
            re.IGNORECASE,
        ),
        rf"\g<name>\g<sep>{MASK}",
    ),
    (re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), f"Bearer {MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"), MASK),
    (re.compile(r"(?<![A-Za-z0-9_.-])[sbr]\.[A-Za-z0-9]{24,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{16,}"), MASK),
    # key=value / key: value / "key": "value" for names that announce a secret.
    (
        re.compile(
            r"""(?P<name>(?<![A-Za-z0-9_])(?:password|passwd|pwd|secret|secret_id|client_secret|token|"""
            r"""access_token|refresh_token|api_key|apikey|private_key)(?![A-Za-z0-9_]))"""
            r"""(?P<sep>['"]?\s*[:=]\s*['"]?)(?P<value>[^\s&,;'"}\]]+)""",
            re.IGNORECASE,
        ),
        rf"\g<name>\g<sep>{MASK}",
    ),
]

# -- registered secrets --------------------------------------------------------------------------

MIN_REGISTERED_LENGTH = 4
MAX_REGISTERED_SECRETS = 1024

_registered: OrderedDict[str, None] = OrderedDict()
_registered_snapshot: tuple[str, ...] = ()
_registered_lock = threading.Lock()


def register_secret(text: Any) -> None:
    """Mask every later occurrence of `text` (a str, or anything with `reveal()` such as
    `SecretValue`). Strings shorter than 4 characters are ignored (masking them everywhere would
    shred the logs); at most `MAX_REGISTERED_SECRETS` are kept, least recently registered out."""
    global _registered_snapshot
    if hasattr(text, "reveal"):
        text = text.reveal()
    if not isinstance(text, str) or len(text) < MIN_REGISTERED_LENGTH:
        return
    with _registered_lock:
        _registered[text] = None
        _registered.move_to_end(text)
        while len(_registered) > MAX_REGISTERED_SECRETS:
            _registered.popitem(last=False)
        # Longest first, so a secret containing another is masked whole.
        _registered_snapshot = tuple(sorted(_registered, key=len, reverse=True))


def clear_registered_secrets() -> None:
    global _registered_snapshot
    with _registered_lock:
        _registered.clear()
        _registered_snapshot = ()


def redact(text: str) -> str:
    """`text` with every secret-looking part replaced by ``[REDACTED]``."""
    if not text:
        return text
    for secret in _registered_snapshot:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break logging
        return f"<unprintable {type(value).__name__}>"


def _redact_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = value if isinstance(value, str) else _safe_str(value)
    cleaned = redact(text)
    if isinstance(value, str) or cleaned != text:
        return cleaned
    return value


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactingFilter(logging.Filter):
    """Scrubs a record in place. Attach it to handlers (a handler filter sees records from every
    propagating logger; a logger filter only sees that logger's own records).

    The message is formatted first and the result redacted as a whole (a secret can be split
    between the template and an argument: ``"Authorization: %s"``), then ``args`` are dropped so
    nothing can format the raw arguments again. The exception and stack text are rendered and
    redacted too, and ``exc_info`` removed, for the same reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format string: keep the template and the arguments' text
            message = f"{_safe_str(record.msg)} {_safe_str(record.args)}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                setattr(record, name, _redact_value(value))
        return True


def current_trace_ids(record: logging.LogRecord | None = None) -> tuple[str | None, str | None]:
    """(trace_id, span_id) of the current span as W3C hex, or (None, None) outside a span.

    A record queued by `_ContextQueueHandler` carries the ids captured where it was logged."""
    captured = getattr(record, "_mirage_ids", None)
    if captured is not None:
        return captured[0], captured[1]
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace_id, span_id, request_id,
    exception (when there is one) and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = current_trace_ids(record)
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": trace_id,
            "span_id": span_id,
            "request_id": _request_id(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_") and name not in payload:
                payload[name] = value
        return json.dumps(payload, default=_safe_str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the same ids."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, _ = current_trace_ids(record)
        record.trace_suffix = f" trace={trace_id}" if trace_id else ""
        request_id = _request_id(record)
        record.request_suffix = f" request={request_id}" if request_id else ""
        try:
            return super().format(record)
        finally:
            delattr(record, "trace_suffix")
            delattr(record, "request_suffix")


def _request_id(record: logging.LogRecord) -> str | None:
    captured = getattr(record, "_mirage_ids", None)
    return captured[2] if captured is not None else current_request_id()


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Enqueues a copy of the record with its message rendered and its context ids captured.

    Unlike the stock `prepare`, the exception stays in `exc_text` (not folded into the message),
    so the formatter still reports it in its own field, after redaction, in the listener thread.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = logging.makeLogRecord(record.__dict__)
        try:
            record.msg = record.getMessage()
        except Exception:  # bad format string: keep the template and the arguments' text
            record.msg = f"{_safe_str(record.msg)} {_safe_str(record.args)}"
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None
        trace_id, span_id = current_trace_ids()
        record._mirage_ids = (trace_id, span_id, current_request_id())
        return record


class AccessLogSampler(logging.Filter):
    """Keeps every access line (uvicorn's or granian's) of a 4xx/5xx, and one in `every` of the others."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._every = round(1 / rate) if rate > 0 else 0
        self._seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5:
            status = args[4]  # uvicorn: (client, method, path, http version, status)
        elif isinstance(args, dict):
            status = args.get("status")  # granian: a mapping of named fields
        else:
            status = None
        if not isinstance(status, int) or status >= 400:
            return True
        if self._every == 0:
            return False
        self._seen += 1
        return self._seen % self._every == 1 or self._every == 1


_HANDLER_MARK = "_mirage_telemetry_handler"
_listener: logging.handlers.QueueListener | None = None


def stop_log_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # drains the queue: nothing logged before exit is lost
        _listener = None


def configure_logging(
    *,
    level: str | int = "INFO",
    json_output: bool = True,
    stream: TextIO | None = None,
    off_loop: bool = False,
    access_sample: float = 1.0,
) -> logging.Handler:
    """Install the redacting handler on the root logger (idempotent: a second call replaces the
    first one's handler). Server loggers (uvicorn, litestar) are reset to propagate into it.
    Returns the handler (tests attach their own stream through `stream`).

    `off_loop`: the handler runs in a listener thread behind a queue (see the module docstring).
    `access_sample`: the share of successful uvicorn access lines kept (1: all)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
            existing.close()
    stop_log_listener()
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter())
    if json_output:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s%(trace_suffix)s%(request_suffix)s")
        )
    if off_loop:
        global _listener
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        front = _ContextQueueHandler(records)
        setattr(front, _HANDLER_MARK, True)
        _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=True)
        _listener.start()
        atexit.register(stop_log_listener)
        root.addHandler(front)
    else:
        root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        for existing in list(server_logger.handlers):
            server_logger.removeHandler(existing)
        for existing_filter in list(server_logger.filters):
            if isinstance(existing_filter, AccessLogSampler):
                server_logger.removeFilter(existing_filter)
        server_logger.propagate = True
    if access_sample < 1:
        sampler = AccessLogSampler(access_sample)  # one count across both servers' loggers
        for name in _ACCESS_LOGGERS:
            logging.getLogger(name).addFilter(sampler)
    return handler


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's ``log_config=`` that keeps uvicorn's loggers
    handler-less and propagating, so their records reach the redacting root handler.

    Prefer ``log_config=None``. This dict is for ``uvicorn --log-config file.json``: it leaves the
    root logger alone (no ``root`` key, ``disable_existing_loggers=False``), so `configure_logging`
    must still run in each worker, after uvicorn applied it (the ASGI factory is the place)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
