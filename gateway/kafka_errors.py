"""Which errors from Kafka no retry can change: the record is refused for good, so it must be parked, not retried.

Kept below transport and delivery alike: both publish, and neither may retry such a record forever (it would
hold its partition and answer the same input again and again).
"""

from __future__ import annotations

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)

__all__ = ["refused_for_good", "refused_for_good_or_forbidden"]

_REFUSED = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError, CorruptRecordException,
            InvalidTimestampError, UnsupportedForMessageFormatError, InvalidTopicError)
_REFUSED_ERRNOS = frozenset({2, 10, 17, 18, 32, 43, 87})  # 87: INVALID_RECORD, which aiokafka has no class for
_FORBIDDEN_ERRNOS = frozenset({29})  # TOPIC_AUTHORIZATION_FAILED


def refused_for_good(exc: BaseException) -> bool:
    """Tell whether the broker (or the producer) refused a record in a way no retry can change: too large,
    corrupt, an invalid topic name."""
    return isinstance(exc, _REFUSED) or getattr(exc, "errno", None) in _REFUSED_ERRNOS


def refused_for_good_or_forbidden(exc: BaseException) -> bool:
    """Like :func:`refused_for_good`, and also when this identity may not write the topic (an ACL an operator
    removed, a participant no longer among a member's submitters): waiting for an operator must not hold a
    partition; the record is parked where it can be replayed once the ACL is back."""
    return (refused_for_good(exc) or isinstance(exc, TopicAuthorizationFailedError)
            or getattr(exc, "errno", None) in _FORBIDDEN_ERRNOS)
