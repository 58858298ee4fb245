"""JSON logs and the redaction step: shape, trace/request ids, and every secret pattern masked."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from adapters.telemetry.logging import (
    MASK,
    JsonFormatter,
    RedactingFilter,
    clear_registered_secrets,
    configure_logging,
    redact,
    register_secret,
    request_id_var,
    uvicorn_log_config,
)
from domain.values import SecretValue

pytestmark = pytest.mark.unit


JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQtaGVyZQ"


@pytest.fixture
def capture():
    """A private logger with the production handler setup (filter on the handler, JSON out)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mirage.test.telemetry")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines, stream
    logger.handlers = []
    logger.propagate = True
    clear_registered_secrets()


def test_one_json_object_per_line_with_the_expected_fields(capture):
    logger, lines, stream = capture
    logger.info("hello %s", "world")
    logger.warning("second\nline")
    records = lines()
    assert len(stream.getvalue().splitlines()) == 2
    first = records[0]
    assert set(first) >= {"time", "level", "logger", "message", "trace_id", "span_id", "request_id"}
    assert first["message"] == "hello world"
    assert first["level"] == "INFO"
    assert first["logger"] == "mirage.test.telemetry"
    assert first["trace_id"] is None and first["span_id"] is None and first["request_id"] is None
    assert first["time"].endswith("+00:00")
    assert records[1]["message"] == "second\nline"


def test_trace_and_span_ids_come_from_the_current_span(capture):
    logger, lines, _ = capture
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logger.info("inside")
        context = span.get_span_context()
    logger.info("outside")
    inside, outside = lines()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert len(inside["trace_id"]) == 32 and len(inside["span_id"]) == 16
    assert outside["trace_id"] is None


def test_request_id_from_the_context_variable(capture):
    logger, lines, _ = capture
    token = request_id_var.set("req-42")
    try:
        logger.info("during")
    finally:
        request_id_var.reset(token)
    logger.info("after")
    during, after = lines()
    assert during["request_id"] == "req-42"
    assert after["request_id"] is None


SECRETS = {
    "jwt": (f"token was {JWT} ok", JWT),
    "bearer": ("Bearer abcdef0123456789.opaque-token", "abcdef0123456789.opaque-token"),
    "vault hvs": ("vault said hvs.CAESIJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6", "hvs.CAESIJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6"),
    "vault hvb": ("batch hvb.AAAAAQJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6", "hvb.AAAAAQJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6"),
    "vault legacy s.": ("legacy s.Qw3rTy8uIoPaSdFgHjKlZxCv then", "s.Qw3rTy8uIoPaSdFgHjKlZxCv"),
    "vault legacy b.": ("legacy b.AAAAAQKoP5b3c9Ru7Lm2Nx4Vz8Wq then", "b.AAAAAQKoP5b3c9Ru7Lm2Nx4Vz8Wq"),
    "ghp": ("pat ghp_16C7e42F292c6912E7710c838347Ae178B4a here", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    "gho": ("oauth gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    "ghu": ("user ghu_16C7e42F292c6912E7710c838347Ae178B4a", "ghu_16C7e42F292c6912E7710c838347Ae178B4a"),
    "ghs": ("server ghs_16C7e42F292c6912E7710c838347Ae178B4a", "ghs_16C7e42F292c6912E7710c838347Ae178B4a"),
    "ghr": ("refresh ghr_16C7e42F292c6912E7710c838347Ae178B4a", "ghr_16C7e42F292c6912E7710c838347Ae178B4a"),
    "github_pat": (
        "fine-grained github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    "authorization header": ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    "authorization in a dict": ("headers={'Authorization': 'Token opaque-value-1', 'Host': 'x'}", "opaque-value-1"),
    "x-vault-token header": ("X-Vault-Token: some-opaque-vault-credential", "some-opaque-vault-credential"),
    "password=": ("login user=bob password=hunter2-canary&next=1", "hunter2-canary"),
    "password in json": ('{"username": "bob", "password": "hunter3-canary"}', "hunter3-canary"),
    "secret_id=": ("approle secret_id=6a1d9f1e-canary role_id=abc", "6a1d9f1e-canary"),
}


@pytest.mark.parametrize("case", sorted(SECRETS))
def test_every_pattern_is_masked(capture, case):
    logger, lines, stream = capture
    text, secret = SECRETS[case]
    assert secret not in redact(text)
    logger.info(text)
    assert secret not in stream.getvalue()
    assert MASK in lines()[0]["message"]


def test_harmless_text_is_left_alone():
    text = "read users/alice/custom/db_url v3 secret_type=custom tokens=5 s.short status=200"
    assert redact(text) == text


def test_registered_secrets_are_masked_as_exact_substrings(capture):
    logger, lines, _stream = capture
    register_secret("correct-horse-battery-staple")
    register_secret(SecretValue("plain-env-value-7"))
    register_secret("abc")  # too short to register: would shred every log line
    logger.info("values: correct-horse-battery-staple, xplain-env-value-7x, abc")
    message = lines()[0]["message"]
    assert "correct-horse-battery-staple" not in message
    assert "plain-env-value-7" not in message
    assert message == f"values: {MASK}, x{MASK}x, abc"
    clear_registered_secrets()
    logger.info("correct-horse-battery-staple")
    assert lines()[1]["message"] == "correct-horse-battery-staple"


def test_the_registered_set_is_bounded(monkeypatch):
    from adapters.telemetry import logging as telemetry_logging

    monkeypatch.setattr(telemetry_logging, "MAX_REGISTERED_SECRETS", 3)
    try:
        for index in range(5):
            register_secret(f"bounded-secret-{index}")
        assert "bounded-secret-0" in redact("bounded-secret-0")  # forgotten, oldest first
        assert redact("bounded-secret-4") == MASK
        assert len(telemetry_logging._registered_snapshot) == 3
    finally:
        clear_registered_secrets()


def test_args_are_redacted_and_dropped(capture):
    logger, _, stream = capture
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    keep = Keep()
    keep.addFilter(RedactingFilter())
    logger.addHandler(keep)
    register_secret("arg-canary-value-99")
    # The secret is split between the template and an argument: only the final text shows it.
    logger.info(
        "Authorization: %s, extra %s, %r", "Bearer tok-123", "arg-canary-value-99", {"pw": "arg-canary-value-99"}
    )
    record = seen[0]
    assert record.args is None
    assert "tok-123" not in record.getMessage()
    assert "arg-canary-value-99" not in record.getMessage()
    assert "arg-canary-value-99" not in stream.getvalue()
    assert "tok-123" not in stream.getvalue()


def test_extra_fields_are_redacted(capture):
    logger, lines, _ = capture
    logger.info("with extra", extra={"header": f"Bearer {JWT}", "attempt": 3})
    record = lines()[0]
    assert JWT not in json.dumps(record)
    assert record["attempt"] == 3


def test_exception_text_is_redacted(capture):
    logger, lines, stream = capture
    register_secret("exception-canary-31337")
    try:
        raise RuntimeError(f"vault answered with hvs.CAESIJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6 for exception-canary-31337 {JWT}")
    except RuntimeError:
        logger.exception("call failed")
    record = lines()[0]
    assert "RuntimeError" in record["exception"]
    assert "Traceback" in record["exception"]
    for leaked in ("hvs.CAESIJ3x9qR2uVtY8wZz1Lm4nOpQ5rS6", "exception-canary-31337", JWT):
        assert leaked not in stream.getvalue()


def test_stack_info_is_redacted(capture):
    logger, _, stream = capture
    register_secret("stack-canary-5150")
    logger.info("stack-canary-5150", stack_info=True)
    assert "stack-canary-5150" not in stream.getvalue()
    assert "stack" in json.loads(stream.getvalue())


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "litestar")
    }
    yield
    for handler in list(root.handlers):
        if handler not in saved_root[0]:
            root.removeHandler(handler)
    root.setLevel(saved_root[1])
    for name, (handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers = handlers
        logger.propagate = propagate
    clear_registered_secrets()


def test_configure_logging_routes_uvicorn_through_the_redacting_root_handler(restore_logging):
    # What uvicorn does with its default log config: its own handler, no propagation.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.addHandler(logging.NullHandler())
    uvicorn_access.propagate = False
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream)
    configure_logging(level="INFO", stream=stream)  # idempotent: one handler, not two
    assert sum(1 for h in logging.getLogger().handlers if getattr(h, "_mirage_telemetry_handler", False)) == 1
    assert uvicorn_access.handlers == [] and uvicorn_access.propagate
    # uvicorn's access line: the query string can carry credentials.
    uvicorn_access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/cb?token=gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "1.1",
        200,
    )
    logging.getLogger("uvicorn.error").info("Authorization: Bearer %s", JWT)
    output = stream.getvalue()
    assert "gho_16C7e42F292c6912E7710c838347Ae178B4a" not in output
    assert JWT not in output
    records = [json.loads(line) for line in output.splitlines()]
    assert [r["logger"] for r in records] == ["uvicorn.access", "uvicorn.error"]


def test_text_output_mode(restore_logging):
    stream = io.StringIO()
    configure_logging(level="DEBUG", json_output=False, stream=stream)
    logging.getLogger("mirage.test.text").debug("password=hunter2")
    assert "password=[REDACTED]" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()


def test_uvicorn_dict_config_keeps_loggers_propagating():
    config = uvicorn_log_config("WARNING")
    assert config["disable_existing_loggers"] is False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name] == {"handlers": [], "level": "WARNING", "propagate": True}


def test_request_id_falls_back_to_the_audit_request_context(capture):
    from domain.request_context import RequestContext, current_request

    logger, lines, _ = capture
    token = current_request.set(RequestContext(request_id="ctx-7"))
    try:
        logger.info("from the request context")
    finally:
        current_request.reset(token)
    assert lines()[0]["request_id"] == "ctx-7"


def _access_line(status: int) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/v1/secrets/k?token=" + JWT, "1.1", status
    )


def test_off_loop_logging_keeps_ids_redaction_and_the_exception_field(restore_logging):
    from adapters.telemetry.logging import stop_log_listener

    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, off_loop=True)
    token = request_id_var.set("req-off-loop")
    try:
        logging.getLogger("mirage.test.queue").info("Authorization: Bearer %s", JWT)
        try:
            raise RuntimeError(f"failed with {JWT}")
        except RuntimeError:
            logging.getLogger("mirage.test.queue").exception("it broke")
        _access_line(200)
    finally:
        request_id_var.reset(token)
    stop_log_listener()  # drains the queue

    output = stream.getvalue()
    assert JWT not in output
    records = [json.loads(line) for line in output.splitlines()]
    assert [r["logger"] for r in records] == ["mirage.test.queue", "mirage.test.queue", "uvicorn.access"]
    assert all(r["request_id"] == "req-off-loop" for r in records)
    assert "RuntimeError" in records[1]["exception"] and records[1]["message"] == "it broke"


def test_access_lines_are_sampled_but_every_error_is_kept(restore_logging):
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, access_sample=0.01)
    for _ in range(300):
        _access_line(200)
    for status in (404, 503):
        _access_line(status)
    statuses = [json.loads(line)["message"].rsplit(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert statuses == ["200", "200", "200", "404", "503"]
    configure_logging(level="INFO", stream=stream, access_sample=1)  # reconfigured: the sampler goes
    before = len(stream.getvalue().splitlines())
    for _ in range(5):
        _access_line(200)
    assert len(stream.getvalue().splitlines()) == before + 5


def test_granian_access_lines_are_sampled_the_same_way(restore_logging):
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, access_sample=0.5)
    access = logging.getLogger("granian.access")
    for status in (200, 200, 200, 200, 500):
        access.info('"%(method)s %(path)s" %(status)d', {"method": "GET", "path": "/api/v1/secrets", "status": status})
    statuses = [json.loads(line)["message"].rsplit(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert statuses == ["200", "200", "500"]
