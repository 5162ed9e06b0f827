"""Waiting in tests: poll until the event happened, with a generous deadline; never assume a pace.

A loaded 2-core machine is slow, never wrong: a deadline that runs out fails the test naming what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

import pytest

__all__ = ["until", "wait_until"]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120.0, *, every: float = 0.1) -> None:
    """Block until ``condition()`` holds.

    Args:
        condition: checked every ``every`` seconds.
        what: the event, for the failure message.
        timeout: seconds before the test fails.
        every: seconds between two checks.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(every)


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 120.0, *,
                every: float = 0.1, blocking: bool = False) -> None:
    """Wait, without blocking the event loop, until ``condition()`` holds.

    Args:
        condition: a function returning a bool, or an awaitable of one (a coroutine function).
        what: the event, for the failure message.
        timeout: seconds before the test fails.
        every: seconds between two checks.
        blocking: ``condition`` blocks (an HTTP call...): run it in a thread.
    """
    async def holds() -> bool:
        result = await asyncio.to_thread(condition) if blocking else condition()
        return bool(await result) if inspect.isawaitable(result) else bool(result)

    deadline = time.monotonic() + timeout
    while not await holds():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(every)
