"""structlog set-up: JSON lines with bound ids; secrets are never passed to a logger."""

from __future__ import annotations

import logging
import sys

import structlog

from invoicesync_shared.tracing import current_trace_id

_SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "api_key",
        "secret",
        "password",
        "access_key",
        "authorization",
    }
)


def _drop_secrets(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A last guard: a key that names a secret never reaches the output."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
    return event


def add_trace_id(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The current trace's id, so a log line leads to its trace."""
    trace_id = current_trace_id()
    if trace_id is not None:
        event.setdefault("trace_id", trace_id)
    return event


def configure_logging(service: str, level: str = "info", json: bool = True) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_trace_id,
            structlog.processors.TimeStamper(fmt="iso"),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    structlog.contextvars.bind_contextvars(service=service)
    # aiokafka (group joins) and httpx (every request) are chatty at INFO.
    for name in ("aiokafka", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
