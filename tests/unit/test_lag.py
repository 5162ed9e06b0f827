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
