"""Fakes that ship beside the real parts, for tests that need no network (as httpx's MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gateway.sdk import (Adapter, AdapterProtocolError, AdapterUnavailable, Declaration, Issue, NationalAnswer,
                         Registration, too_many_items)

__all__ = ["FakeAdapter", "FakeNationalSystem"]


class FakeAdapter(Adapter):
    """An in-memory national system: registers each idempotency key once; can be told to fail.

    Settings (all optional): ``reject_lrns`` (list of LRNs to refuse), ``poison_lrns`` (LRNs whose answer is
    unreadable: AdapterProtocolError), ``delay`` (seconds per call),
    ``timeout`` (seconds; a slower answer raises AdapterUnavailable), ``max_items`` (the most goods items it
    takes: a declaration with more is rejected ``<MEMBER>-FAKE-TOO-MANY-ITEMS``, as a declaration it cannot take).
    Attributes ``down``, ``reject_next`` and ``calls`` are for tests to set and read.
    """

    NAME = "fake"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.reject_lrns = set(settings.get("reject_lrns", ()))
        self.poison_lrns = set(settings.get("poison_lrns", ()))
        self.delay = float(settings.get("delay", 0))
        self.timeout = float(settings.get("timeout", 30))
        self.max_items = int(settings["max_items"]) if settings.get("max_items") is not None else None
        self.down = False
        self.reject_next = False
        self.calls: list[Declaration] = []
        self.registered: dict[str, Registration] = {}

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Register the declaration, or refuse it, or fail as told."""
        self.calls.append(declaration)
        if self.delay:
            await asyncio.sleep(min(self.delay, self.timeout))
            if self.delay > self.timeout:
                raise AdapterUnavailable(f"fake national system of {self.member} timed out", member=self.member,
                                         adapter=self.NAME)
        if self.down:
            raise AdapterUnavailable(f"fake national system of {self.member} is down", member=self.member,
                                     adapter=self.NAME)
        if self.max_items is not None:
            refused = too_many_items(declaration.model, self.max_items, member=self.member, system="FAKE")
            if refused is not None:
                return refused
        if declaration.lrn in self.poison_lrns:
            raise AdapterProtocolError(f"unreadable answer for {declaration.lrn}", member=self.member, adapter=self.NAME)
        if self.reject_next or declaration.lrn in self.reject_lrns:
            self.reject_next = False
            return NationalAnswer(False, issues=(Issue("FAKE-REJECT", f"LRN {declaration.lrn} refused"),))
        known = self.registered.get(declaration.idempotency_key)
        if known:
            return NationalAnswer(True, registration=known, duplicate=True)
        reg = Registration(reference=f"{self.member}-{len(self.registered) + 1:06d}", number=str(len(self.registered) + 1))
        self.registered[declaration.idempotency_key] = reg
        return NationalAnswer(True, registration=reg)

    async def aclose(self) -> None:
        """Nothing to release."""


class FakeNationalSystem:
    """The contract kit's control handle over a :class:`FakeAdapter`."""

    def __init__(self, adapter: FakeAdapter) -> None:
        self.adapter = adapter

    async def reject_next(self) -> None:
        """Refuse the next declaration."""
        self.adapter.reject_next = True

    async def set_delay(self, seconds: float) -> None:
        """Answer after ``seconds``."""
        self.adapter.delay = seconds

    async def set_down(self, down: bool) -> None:
        """Fail every call while down."""
        self.adapter.down = down

    async def registrations(self, key: str) -> int:
        """Registrations under ``key`` (0 or 1: the fake registers a key once)."""
        return int(key in self.adapter.registered)
