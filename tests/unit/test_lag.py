"""Tests for gateway.ops.lag's arithmetic: lag per partition of a group, from committed and end offsets."""

from __future__ import annotations

from aiokafka import TopicPartition

from gateway.ops.lag import partition_lags

T0, T1, T2 = (TopicPartition("oco.deliver.FJ", p) for p in range(3))


class TestPartitionLags:
    def test_lag_is_end_minus_committed_and_never_negative(self) -> None:
        lags = partition_lags("oco-deliver-FJ", {T0: 5, T1: 9}, {T0: 22, T1: 9}, {})
        assert [(lag.partition, lag.records) for lag in lags] == [(T0, 17), (T1, 0)]

    def test_a_partition_never_committed_counts_from_its_earliest_record(self) -> None:
        """The group has read nothing of it yet: every record still there waits (those removed by retention
        do not)."""
        lags = partition_lags("g", {T0: -1}, {T0: 40, T2: 12}, {T0: 10, T2: 0})
        assert [(lag.partition, lag.committed, lag.records) for lag in lags] == [(T0, 10, 30), (T2, 0, 12)]

    def test_a_commit_beyond_the_end_is_no_lag(self) -> None:
        """A read_committed end (last stable offset) may sit behind a commit made in the same transaction."""
        (lag,) = partition_lags("g", {T0: 8}, {T0: 7}, {})
        assert lag.records == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestProgress:
    def test_a_partition_with_records_waiting_and_the_same_commit_is_stalled_for_that_long(self) -> None:
        from gateway.ops.lag import Progress

        clock = Clock()
        progress = Progress(clock)
        progress.update(partition_lags("g", {T0: 5, T1: 9}, {T0: 20, T1: 9}, {}))
        clock.now = 30.0
        progress.update(partition_lags("g", {T0: 5, T1: 9}, {T0: 25, T1: 12}, {}))
        assert progress.stalled_for() == 30.0  # T0 stuck at 5 with records waiting; T1 waits since now only
        clock.now = 40.0
        progress.update(partition_lags("g", {T0: 6, T1: 9}, {T0: 25, T1: 12}, {}))
        assert progress.stalled_for() == 40.0  # T0 moved; T1 at 9 since 0 s, records waiting since 30 s
        progress.update(partition_lags("g", {T0: 25, T1: 12}, {T0: 25, T1: 12}, {}))
        assert progress.stalled_for() == 0.0  # nothing waits: nothing is stalled
