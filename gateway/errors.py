"""Every error the gateway raises on purpose, in one tree.

    GatewayError
    ├── ConfigError (ValueError)          configuration or profile files are wrong; fix and restart
    ├── ProfileError (ConfigError)        a schema profile folder cannot be loaded
    ├── BrokerError (RuntimeError)        the local Kafka broker cannot be fetched, started or reached
    ├── AdapterError                      a national connector failed to deliver (attributes: member, adapter)
    │   ├── AdapterUnavailable            down, slow, "try later": retried with backoff
    │   └── AdapterProtocolError          answered something unreadable: rejected and parked
    ├── PluginError (ConfigError)         an adapter plugin is broken or unknown
    └── Rejection                         control flow, not a crash: a message is refused
        ├── Unreadable                    not well-formed, too large, DTD/entities: dead-lettered
        ├── Unidentified                  no profile matches root namespace/version: dead-lettered
        ├── SchemaInvalid                 schema errors; the submitter gets each one
        ├── NotAllowed                    unknown member, or submitter not allowed for it
        ├── StageFailed                   a stage crashed (a bug): dead-lettered, never lost
        ├── TimedOut                      processing took longer than gateway.max_seconds_per_message: dead-lettered
        └── EventRefused                  a trusted-trader status event fails the trust checks: parked

A ``Rejection`` always ends as a rejected Response to the submitter; those with ``dead_letter = True``
are also parked in the dead-letter topic with their context.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ERRORS_TRUNCATED",
    "AdapterError",
    "AdapterProtocolError",
    "AdapterUnavailable",
    "BrokerError",
    "ConfigError",
    "EventRefused",
    "GatewayError",
    "Issue",
    "NotAllowed",
    "PluginError",
    "ProfileError",
    "Rejection",
    "SchemaInvalid",
    "StageFailed",
    "TimedOut",
    "Unidentified",
    "Unreadable",
    "truncated_issue",
]


class GatewayError(Exception):
    """Root of the gateway's own errors."""


class ConfigError(GatewayError, ValueError):
    """Configuration is invalid; the message says which file, which key and what to do."""


class ProfileError(ConfigError):
    """A schema profile (descriptor or XSD) cannot be loaded or compiled."""


class BrokerError(GatewayError, RuntimeError):
    """The local Kafka broker cannot be fetched, started, stopped or reached."""


class PluginError(ConfigError):
    """An adapter plugin cannot be used: no NAME, a NAME taken twice, not an Adapter, or not installed."""


class AdapterError(GatewayError):
    """A national connector could not deliver.

    Args:
        message: what failed, for operators.
        member: the member being delivered to, when known.
        adapter: the adapter's NAME, when known.
    """

    def __init__(self, message: str, *, member: str | None = None, adapter: str | None = None) -> None:
        super().__init__(message)
        self.member = member
        self.adapter = adapter


class AdapterUnavailable(AdapterError):
    """The national system is down, too slow, or asked to try later; the delivery will be retried."""


class AdapterProtocolError(AdapterError):
    """The national system answered something the adapter cannot read; retrying will not help."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason for a rejection, as the submitter will read it.

    Attributes:
        code: a stable machine-readable code (``SCHEMAV_ELEMENT_CONTENT``, ``OCO-UNKNOWN-MEMBER``...).
        message: what is wrong, in words.
        line: line number in the submitted document, when known.
        path: element path (XPath-like) of the faulty element, when known.
    """

    code: str
    message: str
    line: int | None = None
    path: str | None = None


ERRORS_TRUNCATED = "OCO-ERRORS-TRUNCATED"
"""Code of the Issue that ends a list of errors cut short (``gateway.max_schema_errors``)."""


def truncated_issue(listed: int, total: int) -> Issue:
    """Return the Issue that ends a list of ``listed`` errors out of ``total``.

    Args:
        listed: errors listed before it.
        total: errors found in all.
    """
    return Issue(ERRORS_TRUNCATED, f"... {total - listed} more errors, truncated: the first {listed} of {total} "
                                   "are listed; correct them and submit again to see the rest")


class Rejection(GatewayError):
    """A message is refused: the submitter is told why, and the gateway goes on.

    Args:
        issues: every reason, at least one.
        stage: the pipeline stage that refused the message.
    """

    dead_letter = False
    """Whether the message is also parked in the dead-letter topic."""

    def __init__(self, issues: list[Issue], *, stage: str = "") -> None:
        if not issues:
            raise ValueError("a Rejection needs at least one Issue")
        self.issues = issues
        self.stage = stage
        super().__init__("; ".join(i.message for i in issues))


class Unreadable(Rejection):
    """The payload is not a document we can safely read (size, well-formedness, DTD, entities)."""

    dead_letter = True


class Unidentified(Rejection):
    """The document is XML but no loaded profile matches its root namespace and version."""

    dead_letter = True


class SchemaInvalid(Rejection):
    """The document breaks its profile's XSD."""


class NotAllowed(Rejection):
    """The destination member is unknown, or the submitter may not submit for it."""


class StageFailed(Rejection):
    """A stage raised something unexpected: a bug, not bad input. The message is parked, not lost.

    Args:
        stage: name of the stage that raised.
        exc: the exception; kept as ``__cause__`` for the dead-letter headers and the log.
    """

    dead_letter = True

    def __init__(self, stage: str, exc: Exception) -> None:
        super().__init__(
            [Issue("OCO-INTERNAL-ERROR", f"the gateway failed at stage {stage}; the message is parked for the operators")],
            stage=stage,
        )
        self.__cause__ = exc


class TimedOut(Rejection):
    """The gateway gave up on a message still being processed after ``gateway.max_seconds_per_message``.

    The work itself cannot be interrupted (it runs in C, in a worker thread, which is replaced); the
    message ends rejected and parked all the same, so its partition moves on.

    Args:
        seconds: the limit that ran out.
    """

    dead_letter = True

    def __init__(self, seconds: float) -> None:
        super().__init__([Issue("OCO-TIMEOUT", f"the gateway gave up on the message after {seconds:g} s of "
                                               "processing; it is parked for the operators")], stage="timeout")
        self.seconds = seconds


class EventRefused(Rejection):
    """A trusted-trader (AEO) status event is refused: it never reaches the registry and is parked.

    Args:
        reason: one of :attr:`REASONS` (a bounded metric label).
        message: what is wrong, for the operators and the security log.
    """

    dead_letter = True
    REASONS = ("invalid", "unsigned", "bad_signature", "unknown_key", "retired_key", "replayed",
               "out_of_jurisdiction")

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__([Issue(f"OCO-AEO-{reason.upper().replace('_', '-')}", message)], stage="aeo")
        self.reason = reason
