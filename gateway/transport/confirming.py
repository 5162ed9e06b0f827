"""Confirm batches in the background: the next batch is fetched and processed while the broker acknowledges this one.

Without this, the consume loop waits after every batch for the producer's linger, the acknowledgement of every
output (``acks=all``) and the offset commit, one round trip after the other, before it fetches again; at half
load that wait, not the work, set the latency (docs/benchmark.md, *Latency*).

At-least-once is kept: a batch's offsets are committed only after every output of it was acknowledged, and
batches are committed in the order they were consumed (each confirmation waits for the one before). When a
confirmation fails (an error that may heal: the broker unreachable, a topic missing, no permission), nothing
after it is committed and every partition goes back to the first record not yet confirmed, so the failed batch
and those behind it are processed again: duplicates are possible, loss is not. The rewind happens at once
when the loop is between batches, otherwise at the end of the batch in hand, which then is not committed either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition

from gateway.transport.handler import MessageResult, PublishedBatch

__all__ = ["Confirmations", "Confirming", "DrainOnRevoke", "OffsetConsumer"]

log = structlog.get_logger(__name__)


class OffsetConsumer(Protocol):
    """What confirming needs of the consumer (aiokafka's ``AIOKafkaConsumer``)."""

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


@dataclass(eq=False)
class Confirming:
    """What the handler returns for one batch: its results, and a future set once they are acknowledged and
    committed (metrics count a batch then, see ``gateway.ops.middleware``).

    Attributes:
        results: one per message answered in the batch.
        confirmed: done when every output was acknowledged and the offsets committed (or failed).
    """

    results: list[MessageResult]
    confirmed: asyncio.Future[None]


@dataclass(eq=False)
class _Pending:
    offsets: dict[TopicPartition, tuple[int, int]]
    epoch: int
    merged: asyncio.Future[None]  # done once its offsets are among those to commit (or it failed)


class Confirmations:
    """The batches consumed but not yet confirmed, confirmed in the background and committed in order.

    A batch's offsets join those to commit once its outputs are acknowledged and every batch before it joined;
    one commit at a time is in flight, carrying every offset that joined meanwhile (so small batches cost fewer
    commits than batches, and the commits never queue up behind a slow coordinator).
    """

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._last: _Pending | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready: dict[TopicPartition, int] = {}
        self._committing = asyncio.Lock()
        self._epoch = 0
        self._failed: BaseException | None = None
        self._busy = False
        self._finishing = False

    async def __call__(self, publish: Callable[[], Awaitable[PublishedBatch]], records: Sequence[Any],
                       consumer: OffsetConsumer) -> Confirming:
        """Process one batch (``publish``), then confirm it in the background; return at once.

        Args:
            publish: processes the batch and hands its outputs to the producer (``BatchHandler.publish``).
            records: the batch's records (where to go back to if it cannot be confirmed).
            consumer: the consumer that fetched them.

        Raises:
            Exception: this batch, or one before it, could not be published or confirmed; every partition was
                put back at its first record not confirmed, and nothing of this batch will be committed.
        """
        self._busy = True
        try:
            batch = None
            if self._failed is None:
                try:
                    batch = await publish()
                except Exception as exc:
                    self._failed = exc
            if self._failed is not None or batch is None:
                error = self._failed
                self._rewind(consumer, _firsts(records))
                assert error is not None
                raise error
            loop = asyncio.get_running_loop()
            pending = _Pending(batch.offsets, self._epoch, loop.create_future())
            self._pending.append(pending)
            confirmed: asyncio.Future[None] = loop.create_future()
            previous, self._last = self._last, pending
            task = asyncio.create_task(self._confirm(previous, batch, pending, consumer, confirmed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self._finishing:  # stopping: the consumer closes once this returns
                await asyncio.wait({task})
            return Confirming(batch.results, confirmed)
        finally:
            self._busy = False

    async def _confirm(self, previous: _Pending | None, batch: PublishedBatch, pending: _Pending,
                       consumer: OffsetConsumer, confirmed: asyncio.Future[None]) -> None:
        error: BaseException | None = None
        try:
            await batch.confirm()  # the acks may all come back while the batch before still waits for its own
            if previous is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(previous.merged)  # offsets join in consumption order
            if pending.epoch != self._epoch or self._failed is not None:
                error = RuntimeError("an earlier batch could not be confirmed: this one is consumed again")
                return
            for tp, (_, end) in pending.offsets.items():
                self._ready[tp] = end
            self._pending.remove(pending)
            pending.merged.set_result(None)
            await self._commit(consumer)
        except asyncio.CancelledError as exc:  # stopping: not committed, consumed again after the restart
            error = exc
            raise
        except Exception as exc:  # noqa: BLE001 - may heal: the batch is consumed again
            error = exc
            if pending.epoch == self._epoch and self._failed is None:
                self._failed = exc
                log.warning("batch_not_confirmed_will_retry", error=repr(exc))
                if not self._busy:  # between batches: go back now (otherwise the batch in hand does it)
                    self._rewind(consumer, {})
        finally:
            for future in (pending.merged, confirmed):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
                    future.exception()  # retrieved: the middleware reports it, nobody else awaits it

    async def _commit(self, consumer: OffsetConsumer) -> None:
        async with self._committing:
            if not self._ready:
                return  # the commit before this one carried these offsets
            offsets, self._ready = self._ready, {}
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # noqa: BLE001 - outputs are acknowledged; the next commit goes further
                # A rebalance took the partitions (their new owner starts from the last commit), or the coordinator
                # moved: a restart replays at worst what is uncommitted.
                log.warning("commit_failed", error=repr(exc), partitions=len(offsets))

    def _rewind(self, consumer: OffsetConsumer, also: dict[TopicPartition, int]) -> None:
        """Put every partition back at its first record not confirmed; start a new epoch."""
        back = dict(also)
        for pending in self._pending:
            for tp, (first, _) in pending.offsets.items():
                back[tp] = min(back.get(tp, first), first)
        for tp, offset in back.items():
            try:
                consumer.seek(tp, offset)
            except Exception as exc:  # noqa: BLE001 - revoked meanwhile: its new owner starts from the commit
                log.warning("rewind_failed", topic=tp.topic, partition=tp.partition, error=repr(exc))
        log.warning("batches_rewound", partitions=len(back), batches=len(self._pending))
        self._pending.clear()
        self._epoch += 1
        self._failed = None

    async def finish(self, timeout: float) -> None:
        """Before stopping: from now on each batch returns only once it is committed, and the confirmations
        in flight are waited for (up to ``timeout`` seconds).

        Args:
            timeout: seconds to wait at most.
        """
        self._finishing = True
        await self.drain(timeout)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds) for the confirmations in flight: before stopping, so that what was
        answered is committed.

        Args:
            timeout: seconds to wait at most.
        """
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions go to another gateway, let the confirmations in flight commit what was answered, so the
    new owner does not answer it again.

    Args:
        confirmations: the subscriber's confirmations.
        timeout: seconds the rebalance waits for them at most.
    """

    def __init__(self, confirmations: Confirmations, timeout: float = 5.0) -> None:
        self._confirmations = confirmations
        self._timeout = timeout

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Wait for the confirmations in flight (the consumer may still commit for these partitions)."""
        await self._confirmations.drain(self._timeout)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Nothing to do: a partition starts from its committed offset."""


def _firsts(records: Sequence[Any]) -> dict[TopicPartition, int]:
    found: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        found[tp] = min(found.get(tp, r.offset), r.offset)
    return found
