"""The pipeline worker threads: each runs its own pipeline (own parser, own compiled schemas), one run at a time.

A run is a few consecutive records of one partition: the worker goes through them until its time slice is
spent (then it stops after the record in hand, and the rest go back to the queue), so handing work over
costs one thread switch per run, not per record, and a worker is never held longer than a slice plus one
record. lxml releases the GIL while it parses and validates, so a worker busy with one participant's huge
message leaves the others (and the event loop, which talks to Kafka) room to run. A run that never ends
(a hang in C code cannot be interrupted) is abandoned: its thread is left to finish alone, out of the pool,
and a new worker with a fresh pipeline takes its place.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.errors import Rejection
from gateway.pipeline.chain import Pipeline
from gateway.pipeline.context import Submission
from gateway.pipeline.route import Output

__all__ = ["Job", "Outcome", "PipelineWorkers"]

log = structlog.get_logger(__name__)

Outcome = tuple[list[Output], Rejection | None, float]
"""What the pipeline made of one record: its outputs, its rejection (None: accepted), the seconds it took."""


@dataclass(eq=False)
class Job:
    """A run of submissions handed to a worker.

    The worker appends one :data:`Outcome` (or the exception the pipeline raised) to ``outcomes`` per record,
    in order, and resolves ``future`` on the event loop when it stops: every record done, its slice spent, or
    ``stop`` set by the loop (it then finishes the record in hand only).
    """

    submissions: list[Submission]
    records: list[Any]
    future: asyncio.Future[None]
    slice_seconds: float = 0.1
    outcomes: list[Outcome | BaseException] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    stop: bool = False
    given_up: tuple[int, Outcome] | None = None  # set by the loop: the record in hand and the outcome it gets
    worker: _Worker | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since the run was handed to its worker."""
        return time.monotonic() - self.started


class _Worker:
    def __init__(self, pipeline: Pipeline, name: str) -> None:
        self.pipeline = pipeline
        self.job: Job | None = None
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def give(self, job: Job) -> None:
        self.job = job
        job.worker = self
        self._inbox.put(job)

    def stop(self) -> None:
        self._inbox.put(None)

    def _run(self) -> None:
        while (job := self._inbox.get()) is not None:
            run_started = time.perf_counter()
            for i, submission in enumerate(job.submissions):
                if job.stop or (i and time.perf_counter() - run_started > job.slice_seconds):
                    break
                started = time.perf_counter()
                try:
                    outputs, rejection = self.pipeline(submission)
                    job.outcomes.append((outputs, rejection, time.perf_counter() - started))
                except BaseException as exc:  # noqa: BLE001 - handed to the loop, which parks the message
                    job.outcomes.append(exc)
            try:
                job.future.get_loop().call_soon_threadsafe(self._settle, job)
            except RuntimeError:  # the loop is closed: the process is stopping
                return

    def _settle(self, job: Job) -> None:  # on the event loop
        if self.job is job:
            self.job = None
        if not job.future.done():
            job.future.set_result(None)


class PipelineWorkers:
    """A fixed number of worker threads, each with a pipeline of its own.

    Args:
        make_pipeline: builds one pipeline (called once per worker, and for each replacement).
        size: how many workers.
    """

    def __init__(self, make_pipeline: Callable[[], Pipeline], size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._make = make_pipeline
        self._names = itertools.count(1)
        self._workers = [self._new() for _ in range(size)]

    def _new(self) -> _Worker:
        return _Worker(self._make(), f"oco-pipeline-{next(self._names)}")

    @property
    def idle(self) -> int:
        """How many workers have nothing to do."""
        return sum(1 for w in self._workers if w.job is None)

    def submit(self, submissions: list[Submission], records: list[Any], slice_seconds: float = 0.1) -> Job:
        """Hand a run to an idle worker (call from the event loop).

        Raises:
            RuntimeError: no worker is idle.
        """
        worker = next((w for w in self._workers if w.job is None), None)
        if worker is None:
            raise RuntimeError("no idle pipeline worker")
        job = Job(submissions, records, asyncio.get_running_loop().create_future(), slice_seconds)
        worker.give(job)
        return job

    def abandon(self, job: Job) -> None:
        """Give up on a run that does not end: its worker leaves the pool and a fresh one replaces it."""
        job.stop = True
        worker = job.worker
        if worker is None or worker not in self._workers or worker.job is not job:
            return
        self._workers[self._workers.index(worker)] = self._new()
        worker.stop()  # ends after the record in hand, if it ever does
        log.warning("pipeline_worker_abandoned", tracking_id=job.submissions[min(len(job.outcomes),
                                                                                 len(job.submissions) - 1)].tracking_id,
                    seconds=round(job.elapsed, 1))

    def close(self) -> None:
        """Let every worker end after its run in hand."""
        for worker in self._workers:
            worker.stop()
