"""SIGTERM to the gateway mid-stream, on the real broker: it stops fetching, finishes the batch in hand,
publishes its outputs, commits, leaves the group and exits 0, with no error logged; the next gateway takes
over where it stopped, so nothing is lost and, in both modes, nothing is answered twice."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.integration.conftest import Network
from tests.integration.test_crash import MODES, Stream

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def lines_after(path: Path, start: int) -> list[dict]:
    """The log lines written after byte ``start``, each parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in path.read_bytes()[start:].decode().splitlines() if line.strip()]


@pytest.mark.parametrize("mode", list(MODES))
class TestGatewaySigterm:
    async def test_sigterm_mid_stream_drains_and_exits_0(self, network: Network, tmp_path: Path, mode: str) -> None:
        async with Stream(network, f"term-{mode}", 2000) as stream:
            await stream.submit()
            first = network.gateway(tmp_path, "first", env=MODES[mode])
            first.start()
            done = await stream.wait_started()
            mark = first.log_path.stat().st_size
            first._process.send_signal(signal.SIGTERM)  # noqa: SLF001 - what Kubernetes sends
            assert first._process.wait(60) == 0, first.log_tail()  # noqa: SLF001
            problems = [line for line in lines_after(first.log_path, mark) if line["level"] in ("error", "critical")]
            assert not problems, problems[:3]
            print(f"{mode}: gateway stopped after {done} of {stream.total} replies")
            second = network.gateway(tmp_path, "second", env=MODES[mode])
            second.start()
            try:
                await stream.wait_finished()
            finally:
                second.stop()
            stream.check(mode)
            duplicates = stream.duplicates()
            assert not any(duplicates.values()), f"an orderly stop still answered twice: {duplicates}"


class TestGraceRunsOut:
    async def test_a_grace_too_short_hands_the_batch_back_and_loses_nothing(self, network: Network,
                                                                           tmp_path: Path) -> None:
        """gateway.shutdown_grace_seconds far shorter than a batch: the batch in hand is cancelled uncommitted, the
        process still exits 0, and the next gateway processes it again (at-least-once: nothing lost)."""
        async with Stream(network, "term-grace", 2000) as stream:
            await stream.submit()
            env = {"OCO_GATEWAY__SHUTDOWN_GRACE_SECONDS": "0.001"}
            first = network.gateway(tmp_path, "first", env=env)
            first.start()
            await stream.wait_started()
            first._process.send_signal(signal.SIGTERM)  # noqa: SLF001
            assert first._process.wait(60) == 0, first.log_tail()  # noqa: SLF001
            second = network.gateway(tmp_path, "second")
            second.start()
            try:
                await stream.wait_finished()
            finally:
                second.stop()
            stream.check("at_least_once")
