"""Keep the idempotent producer usable after the broker refuses a record for good.

aiokafka numbers each partition's batches for the broker (idempotence) and counts a batch the broker
refused (``MessageSizeTooLarge``: a topic whose ``max.message.bytes`` is below what the gateway expects) as
sent. Every later batch to that partition then carries a sequence number the broker does not expect and
fails with ``OutOfOrderSequenceNumber``, for ever: one refused record would stop every output to its
partition. The Java client recovers by bumping the producer's epoch; aiokafka does not, so the gateway
does the equivalent: on a refusal it drops the producer id, and the producer asks the broker for a new one
(sequence numbers start again from 0) before it sends the next batch.

It must happen before the producer drains the partition's next batch. A record's future is failed, and
its callbacks scheduled, before the producer's sender task learns that the request finished, so a done
callback on the record's future (:func:`guard`) runs first. Relies on aiokafka's private producer state
(pinned ``aiokafka>=0.14,<0.15``); ``tests/integration/test_hostile.py`` checks it on the real broker.
Below transport and delivery alike (as ``gateway.kafka_errors``): every idempotent producer needs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.errors import OutOfOrderSequenceNumber

__all__ = ["aiokafka_producer_of", "guard", "reset_producer_id"]

log = structlog.get_logger(__name__)


def reset_producer_id(producer: Any) -> bool:
    """Make an idempotent (not transactional) aiokafka producer fetch a new producer id before its next batch.

    Args:
        producer: an ``AIOKafkaProducer``.

    Returns:
        Whether it was reset (False: not idempotent, transactional, no id yet, or an unknown aiokafka).
    """
    manager = getattr(producer, "_txn_manager", None)
    if manager is None or getattr(manager, "transactional_id", None) is not None or not manager.has_pid():
        return False
    try:
        from aiokafka.producer.transaction_manager import PidAndEpoch  # noqa: PLC0415 - private module

        manager._pid_and_epoch = PidAndEpoch(-1, -1)  # noqa: SLF001
        manager._pid_waiter = asyncio.get_running_loop().create_future()  # noqa: SLF001
        manager._sequence_numbers.clear()  # noqa: SLF001
    except (AttributeError, ImportError, RuntimeError) as exc:  # pragma: no cover - another aiokafka
        log.error("producer_id_reset_failed", error=repr(exc))
        return False
    return True


def guard(get_producer: Callable[[], Any], refused: Callable[[BaseException], bool]) -> Callable[[Any], None]:
    """Return a callback for record futures: after a refusal for good, reset the producer's id.

    Args:
        get_producer: returns the ``AIOKafkaProducer`` behind the futures (looked up at each refusal).
        refused: tells a refusal for good from an error the producer retries by itself.
    """
    def check(future: Any) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None or not (refused(exc) or isinstance(exc, OutOfOrderSequenceNumber)):
            return
        producer = get_producer()
        if reset_producer_id(producer):
            log.warning("producer_id_reset", error=repr(exc))

    return check


def aiokafka_producer_of(faststream_broker: Any) -> Any:
    """Return the ``AIOKafkaProducer`` inside a connected FastStream ``KafkaBroker`` (None if not found)."""
    state = getattr(getattr(faststream_broker.config, "producer", None), "_producer", None)
    return getattr(state, "producer", None)
