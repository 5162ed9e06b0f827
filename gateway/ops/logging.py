"""structlog set-up: one stream, JSON lines for machines (containers), aligned key=value for people.

Every line goes through the same renderer: the gateway's own events (structlog) and those of the libraries
that log through the standard library (aiokafka, FastStream, uvicorn, asyncio), which get a ``logger``
field. Repeated warnings and errors are rate-limited per cause (:mod:`gateway.ops.repeats`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from gateway.ops.repeats import RepeatLimiter

__all__ = ["REPEAT_SECONDS", "configure_logging"]

REPEAT_SECONDS = 30.0  # one line per cause per this many seconds, for warnings and errors


def configure_logging(fmt: str = "console", level: str = "INFO", *, repeat_seconds: float = REPEAT_SECONDS) -> None:
    """Configure structlog and the standard library's logging once, at start-up.

    Args:
        fmt: ``json`` or ``console``.
        level: minimum level name (``INFO``...) of the gateway's own events; libraries log warnings and up.
        repeat_seconds: a warning or error of one cause is written once per this many seconds.
    """
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    limiter = RepeatLimiter(repeat_seconds)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _limit_repeats(limiter),
            stamp,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RepeatFilter(limiter))
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, stamp,
                           structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    renderer],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries (aiokafka, uvicorn) log through the standard library: keep their warnings, drop chatter.
    root.setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aiokafka"):
        library = logging.getLogger(name)
        library.handlers.clear()  # uvicorn installs plain-text handlers of its own
        library.propagate, library.disabled = True, False
        library.setLevel(logging.NOTSET)  # the root's level: warnings and up


def _limit_repeats(limiter: RepeatLimiter) -> Any:
    """A structlog processor: warnings and errors of one event (and error class) once per interval."""

    def limit(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("level") not in ("warning", "error", "critical"):
            return event
        cause = ("structlog", event.get("level"), event.get("event"), event.get("member"), _error_class(event))
        left_out = limiter.admit(cause)
        if left_out is None:
            raise structlog.DropEvent
        if left_out:
            event["repeated"] = left_out
        return event

    return limit


def _error_class(event: dict[str, Any]) -> str | None:
    error = event.get("error")
    return error.split("(", 1)[0] if isinstance(error, str) else None


# Errors aiokafka logs while a fresh broker creates __consumer_offsets or moves a leader: retried by the
# client and over in seconds, so warnings (still rate-limited), not errors that page someone.
_PASSING = ("GroupCoordinatorNotAvailable", "NotCoordinatorForGroup", "CoordinatorLoadInProgress",
            "NotLeaderForPartition", "LeaderNotAvailable", "UnknownTopicOrPartition")


class _RepeatFilter(logging.Filter):
    """The standard library's side: one cause is a logger, a level and a message template."""

    def __init__(self, limiter: RepeatLimiter) -> None:
        super().__init__()
        self._limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if record.levelno == logging.ERROR and record.name.startswith("aiokafka") and not record.exc_info:
            text = record.getMessage()
            if any(name in text for name in _PASSING):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        left_out = self._limiter.admit(("stdlib", record.name, record.levelno, str(record.msg)[:200]))
        if left_out is None:
            return False
        if left_out:
            record.repeated = left_out
        return True
