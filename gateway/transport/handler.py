"""The batch handler: run the pipeline over a batch of records, publish every output, then let it commit.

At-least-once: the offsets of a batch are committed (by the subscriber's ack policy) only after this
returns, i.e. after the broker acknowledged every output. Any failure raises, the batch is NACKed (the
consumer seeks back) and processed again: duplicates are possible, loss is not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway import headers as h
from gateway.errors import Rejection
from gateway.pipeline.chain import Pipeline, tracking_id_for
from gateway.pipeline.context import SourceRef, Submission
from gateway.pipeline.route import Output
from gateway.topics import participant_of

__all__ = ["BatchHandler", "MessageResult", "Publish"]

Publish = Callable[[Output], Awaitable[Awaitable[Any]]]
"""Hands one record to the producer (in call order) and returns the awaitable of the broker's ack."""

_CHUNK = 50  # records validated per hand-off to the worker thread


@dataclass(frozen=True, slots=True)
class MessageResult:
    """What became of one input record: for metrics and logs."""

    participant: str
    tracking_id: str
    outputs: tuple[Output, ...]
    rejection: Rejection | None
    seconds: float
    size: int
    timestamp_ms: int | None


class BatchHandler:
    """Process a batch of submit-topic records and publish the outputs.

    Args:
        pipeline: the stage runner.
        publish: hands one output to the producer (called in order, so per-key order holds) and returns
            its acknowledgement, which is awaited with all the others before the batch may be committed.
    """

    def __init__(self, pipeline: Pipeline, publish: Publish) -> None:
        self._pipeline = pipeline
        self._publish = publish
        # One worker thread: lxml parsers and schemas are not shared across threads, and the
        # event loop stays free for Kafka heartbeats and fetches while a batch is validated.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oco-pipeline")

    async def __call__(self, records: Sequence[Any]) -> list[MessageResult]:
        """Process records (aiokafka ``ConsumerRecord``s) and publish their outputs.

        Args:
            records: one consumed batch.

        Raises:
            Exception: whatever publishing raised; the caller must not commit the batch.
        """
        loop = asyncio.get_running_loop()
        chunks = [records[i:i + _CHUNK] for i in range(0, len(records), _CHUNK)]
        results: list[MessageResult] = []
        acks: list[Awaitable[Any]] = []
        upcoming = loop.run_in_executor(self._executor, self._process_all, chunks[0]) if chunks else None
        for i in range(len(chunks)):
            assert upcoming is not None
            done = await upcoming
            # Validate the next chunk in the worker thread while this one's outputs go to the producer.
            upcoming = loop.run_in_executor(self._executor, self._process_all, chunks[i + 1]) if i + 1 < len(chunks) else None
            for result in done:
                for output in result.outputs:  # handed over one by one: keeps per-key order
                    acks.append(await self._publish(output))
            results += done
        await asyncio.gather(*acks)
        return results

    def _process_all(self, records: Sequence[Any]) -> list[MessageResult]:
        return [self._process(record) for record in records]

    def _process(self, record: Any) -> MessageResult:
        started = time.perf_counter()
        source = SourceRef(record.topic, record.partition, record.offset)
        headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
        payload = record.value or b""
        submission = Submission(
            payload=payload,
            participant=participant_of(record.topic),
            tracking_id=tracking_id_for(source, headers.get(h.TRACKING_ID)),
            source=source,
            headers=headers,
        )
        outputs, rejection = self._pipeline(submission)
        return MessageResult(
            participant=submission.participant,
            tracking_id=submission.tracking_id,
            outputs=tuple(outputs),
            rejection=rejection,
            seconds=time.perf_counter() - started,
            size=len(payload),
            timestamp_ms=record.timestamp,
        )

    def close(self) -> None:
        """Release the worker thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
