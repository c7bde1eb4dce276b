"""Structured logging (structlog) with a last line of defence: anything shaped like a CPR is masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

from gateway.domain.cpr import looks_like_cpr, percent_decoded, redact


def _redact_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _trace_ids(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current span's trace and span ids (OpenTelemetry, ``gateway.tracing``), when there is one."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event["trace_id"] = format(span_context.trace_id, "032x")
        event["span_id"] = format(span_context.span_id, "016x")
    return event


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _masked(text: str) -> str:
    """``redact``, and for a CPR hidden by percent-encoding (a URL's ``%221507804321%22``) the decoded text redacted,
    its control characters escaped (a decoded ``%0A`` must not start a forged log line)."""
    text = redact(text)
    if not looks_like_cpr(text):
        return text
    return redact(percent_decoded(text)).encode("unicode_escape").decode("ascii")


class _RedactingFilter(logging.Filter):
    """The same defence for loggers whose handlers are not ours: uvicorn configures its own for ``uvicorn.access``
    (whose line holds the request's URL, query string included) and ``uvicorn.error`` (a traceback's exception
    message may quote SQL parameters). The record's message and traceback are rendered and masked in place, so
    whatever formatter handles it prints the masked text."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Argument by argument: uvicorn's access formatter reads the arguments (address, method, path, …).
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _masked(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# Loggers that keep handlers of their own (uvicorn's logging config does not let them propagate to the root's).
_OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "uvicorn.asgi")


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
    # APScheduler announces every run of every job at INFO; the worker logs its own line per sweep.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _trace_ids,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        # Not cached: a cached logger ignores later configuration (e.g. structlog.testing.capture_logs), and
        # there are few log lines per request.
        cache_logger_on_first_use=False,
    )
