"""The contract every national adapter must meet, as a reusable pytest suite (pytest is needed to use it).

An adapter's test module subclasses :class:`AdapterContract` and provides two fixtures:

- ``national``: a :class:`NationalSystem`, the control handle of the real system or simulator behind
  the adapter (it can be made to reject, go slow, go down, and counts registrations);
- ``adapter``: the adapter under test, configured against it with a timeout of ``TIMEOUT`` seconds.

Example::

    class TestMyAdapter(AdapterContract):
        MEMBER = "FJ"
        TIMEOUT = 1.0

        @pytest.fixture
        async def national(self): ...

        @pytest.fixture
        async def adapter(self, national): ...

The suite covers the happy path, a national rejection, a timeout, an outage and recovery, duplicate
delivery, and an LRN that is not ASCII. It proves behaviour over the adapter's real transport, so it needs a real endpoint.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Protocol

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the adapter contract kit needs pytest: pip install 'oco-gateway[test]'") from exc

from gateway.sdk import Adapter, AdapterUnavailable, Declaration, idempotency_key
from gateway.samples import make_declaration

__all__ = ["AdapterContract", "NationalSystem"]

_SEQ = itertools.count(1)


class NationalSystem(Protocol):
    """Control of the national system (or its simulator) behind the adapter under test."""

    async def reject_next(self) -> None:
        """Make the system refuse the next declaration under its own business rules."""

    async def set_delay(self, seconds: float) -> None:
        """Make every answer take this long (0 for normal)."""

    async def set_down(self, down: bool) -> None:
        """Take the system off the network (True) or bring it back (False)."""

    async def registrations(self, key: str) -> int:
        """Return how many times the system registered a declaration under this idempotency key."""


class AdapterContract:
    """Base class of an adapter's contract tests; see the module docstring."""

    MEMBER = "FJ"
    TIMEOUT = 1.0
    """The adapter's timeout in the ``adapter`` fixture; the timeout test waits a little longer."""

    def declaration(self, *, lrn: str | None = None, items: int = 2, attempt: int = 1) -> Declaration:
        """Return a valid declaration for ``MEMBER`` with a fresh LRN (override for other profiles)."""
        lrn = lrn or f"CONTRACT-{time.time_ns() % 10**9}-{next(_SEQ)}"
        payload = make_declaration(member=self.MEMBER, lrn=lrn, items=items, seed=next(_SEQ))
        return Declaration(payload=payload, member=self.MEMBER, participant="contract-tester", lrn=lrn,
                           function_code="9", tracking_id=f"contract-{lrn}", type_code="IMA", attempt=attempt,
                           idempotency_key=idempotency_key("contract-tester", lrn, "9", payload))

    async def test_happy_path_registers_once(self, adapter: Adapter, national: NationalSystem) -> None:
        """A valid declaration is registered, with a customs reference, exactly once."""
        declaration = self.declaration()
        answer = await adapter.deliver(declaration)
        assert answer.accepted, answer.issues
        assert answer.registration is not None and answer.registration.reference
        assert await national.registrations(declaration.idempotency_key) == 1

    async def test_national_rejection_is_an_answer_with_reasons(self, adapter: Adapter,
                                                                 national: NationalSystem) -> None:
        """A declaration the national system refuses comes back as a rejected answer with coded reasons."""
        await national.reject_next()
        declaration = self.declaration()
        answer = await adapter.deliver(declaration)
        assert not answer.accepted
        assert answer.issues and all(i.code and i.message for i in answer.issues)
        assert await national.registrations(declaration.idempotency_key) == 0

    async def test_timeout_is_unavailable(self, adapter: Adapter, national: NationalSystem) -> None:
        """A system slower than the adapter's timeout raises AdapterUnavailable, in bounded time."""
        await national.set_delay(self.TIMEOUT * 3)
        started = time.monotonic()
        with pytest.raises(AdapterUnavailable):
            await adapter.deliver(self.declaration())
        assert time.monotonic() - started < self.TIMEOUT * 2.5
        await national.set_delay(0)

    async def test_outage_then_recovery(self, adapter: Adapter, national: NationalSystem) -> None:
        """While the system is down delivery raises AdapterUnavailable; once back, the same declaration
        is registered once."""
        declaration = self.declaration()
        await national.set_down(True)
        with pytest.raises(AdapterUnavailable):
            await adapter.deliver(declaration)
        await national.set_down(False)
        answer = await adapter.deliver(declaration)
        assert answer.accepted
        assert await national.registrations(declaration.idempotency_key) == 1

    async def test_duplicate_delivery_registers_once(self, adapter: Adapter, national: NationalSystem) -> None:
        """Delivering the same declaration twice (a redelivery) yields one registration and the same reference."""
        declaration = self.declaration()
        first = await adapter.deliver(declaration)
        again = await adapter.deliver(Declaration(**{**_fields(declaration), "attempt": 2}))
        assert first.accepted and again.accepted
        assert first.registration and again.registration
        assert again.registration.reference == first.registration.reference
        assert await national.registrations(declaration.idempotency_key) == 1


    async def test_non_ascii_lrn_registers_once(self, adapter: Adapter, national: NationalSystem) -> None:
        """An LRN with non-ASCII letters (the WCO LRN is any text, an..35) reaches the national system intact:
        registered once, under its idempotency key, and a redelivery gets the same reference."""
        lrn = f"ÑÅ-Tōkyō-東京-{time.time_ns() % 10**6}-{next(_SEQ)}"
        declaration = self.declaration(lrn=lrn)
        first = await adapter.deliver(declaration)
        again = await adapter.deliver(Declaration(**{**_fields(declaration), "attempt": 2}))
        assert first.accepted, first.issues
        assert first.registration and again.registration
        assert again.registration.reference == first.registration.reference
        assert await national.registrations(declaration.idempotency_key) == 1


def _fields(declaration: Declaration) -> dict[str, object]:
    return {f.name: getattr(declaration, f.name) for f in dataclasses.fields(declaration) if f.init}
