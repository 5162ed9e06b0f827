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

The cases, each a test method the subclass inherits:

==========================================  ============================================================================
happy path                                  registered once, with a customs reference
national rejection                          not accepted, coded reasons, nothing registered
timeout                                     a system slower than any library default (:data:`SLOW` s) makes
                                            ``deliver`` raise AdapterUnavailable within ``TIMEOUT * 2.5 + 2`` s;
                                            an adapter with no timeout of its own fails fast, it does not hang
outage and recovery                         AdapterUnavailable while down; registered once when back
duplicate                                   a redelivery registers nothing new, answers the same reference, and is
                                            flagged: first ``duplicate=False``, then ``duplicate=True``
non-ASCII LRN                               reaches the system intact, registered once
cannot take                                 :meth:`AdapterContract.cannot_take_declaration` (the subclass MUST
                                            override it) is rejected with an issue the trader can act on: a code
                                            ``<MEMBER>-<SYSTEM>-<REASON>``, a pointer (``POINTER`` form) to an
                                            element of the submitted document, and nothing registered
mixed currencies                            items whose customs values and tax lines are in several currencies are
                                            either registered with each tax line's currency stated, or refused as
                                            under "cannot take"
==========================================  ============================================================================

It proves behaviour over the adapter's real transport, so it needs a real endpoint. After the timeout case the
delay is set back to 0; a request the system is still sleeping on must not hold up the next test (a simulator
built on ``gateway.sdk.simkit`` answers each request in its own task).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the adapter contract kit needs pytest: pip install 'oco-gateway[test]'") from exc

from lxml import etree

from gateway.samples import make_declaration
from gateway.sdk import POINTER, Adapter, AdapterUnavailable, Declaration, NationalAnswer, idempotency_key, issue_code

__all__ = ["MIXED_CURRENCIES", "SLOW", "AdapterContract", "NationalSystem", "follows_issue_code", "resolve_pointer"]

_SEQ = itertools.count(1)

SLOW = 60.0
"""Seconds the national system takes in the timeout case: longer than any client library's default timeout
(httpx 5 s, aiokafka's request timeout 40 s), so only the adapter's own ``TIMEOUT`` can end the wait."""

MIXED_CURRENCIES = ("USD", "EUR")
"""Currencies of the mixed-currency case, beside the member's own: items take the member's currency, then these."""


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

    def declaration(self, *, lrn: str | None = None, items: int = 2, attempt: int = 1,
                    edit: Callable[[bytes], bytes] | None = None, **options: Any) -> Declaration:
        """Return a valid declaration for ``MEMBER`` with a fresh LRN (override for other profiles).

        Args:
            lrn: the LRN; a fresh one by default.
            items: number of goods items.
            attempt: the delivery attempt.
            edit: changes the sample document's bytes (the LRN stays where it is), for a case of your own.
            options: more keyword arguments of :func:`gateway.samples.make_declaration` (``currencies``...).
        """
        lrn = lrn or f"CONTRACT-{time.time_ns() % 10**9}-{next(_SEQ)}"
        payload = make_declaration(member=self.MEMBER, lrn=lrn, items=items, seed=next(_SEQ), **options)
        if edit is not None:
            payload = edit(payload)
        return Declaration(payload=payload, member=self.MEMBER, participant="contract-tester", lrn=lrn,
                           function_code="9", tracking_id=f"contract-{lrn}", type_code="IMA", attempt=attempt,
                           idempotency_key=idempotency_key("contract-tester", lrn, "9", payload))

    def cannot_take_declaration(self) -> Declaration:
        """Return a declaration that passes the member's profile but that YOUR national system cannot take.

        Override it: every national format has limits the WCO data model does not (a field it has no room for,
        a currency it does not value in, a code the installation does not know, a number of items it refuses).
        Build the declaration with :meth:`declaration` (``items=``, ``edit=``, ``currencies=``...) so that it
        crosses one of them under the ``adapter`` fixture's settings. The adapter must answer it with
        :func:`gateway.sdk.cannot_take` (before calling, when it can tell) or read the system's refusal as such:
        not accepted, an issue coded ``<MEMBER>-<SYSTEM>-<REASON>`` with a pointer to the element to change,
        nothing registered. The default fails the case: an adapter that claims no limit has not looked.
        """
        pytest.fail(f"{type(self).__name__} does not override cannot_take_declaration(): return a declaration "
                    f"your national system cannot take (a field too long for its format, a currency or code it "
                    f"does not know, too many items...) so the contract can check the trader gets a reason to act "
                    f"on; see gateway.sdk.contract", pytrace=False)

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
        """A system slower than any library default raises AdapterUnavailable within the adapter's own
        TIMEOUT (with a generous margin); an adapter with no timeout of its own fails here, it does not hang."""
        bound = self.TIMEOUT * 2.5 + 2
        await national.set_delay(max(SLOW, bound * 4))
        try:
            started = time.monotonic()
            try:
                async with asyncio.timeout(bound):
                    with pytest.raises(AdapterUnavailable):
                        await adapter.deliver(self.declaration())
            except TimeoutError:
                pytest.fail(f"deliver() was still waiting {bound:g} s into a national system that answers after "
                            f"{max(SLOW, bound * 4):g} s: the adapter has no timeout of its own (TIMEOUT = "
                            f"{self.TIMEOUT:g} s); bound the whole call (asyncio.timeout) and raise "
                            f"AdapterUnavailable", pytrace=False)
            assert time.monotonic() - started < bound
        finally:
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
        """Delivering the same declaration twice (a redelivery) yields one registration and the same reference,
        and the redelivery's answer is flagged ``duplicate`` (the first is not): the submitter's Response says
        it was a replay."""
        declaration = self.declaration()
        first = await adapter.deliver(declaration)
        again = await adapter.deliver(Declaration(**{**_fields(declaration), "attempt": 2}))
        assert first.accepted and again.accepted
        assert first.registration and again.registration
        assert again.registration.reference == first.registration.reference
        assert await national.registrations(declaration.idempotency_key) == 1
        assert not first.duplicate, "the first delivery was answered duplicate=True: nothing was registered before"
        assert again.duplicate, ("the redelivery was answered duplicate=False: set NationalAnswer.duplicate when the "
                                 "national system says it replayed an earlier registration (a replay header, "
                                 "a known-key status...)")

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

    async def test_cannot_take_is_a_rejection_the_trader_can_act_on(self, adapter: Adapter,
                                                                      national: NationalSystem) -> None:
        """A declaration the national system cannot take is rejected with a coded reason and a pointer into the
        submitted document, and nothing is registered (see :meth:`cannot_take_declaration`)."""
        declaration = self.cannot_take_declaration()
        answer = await adapter.deliver(declaration)
        assert not answer.accepted, "the declaration the national system cannot take was registered"
        self._assert_actionable(answer, declaration)
        assert await national.registrations(declaration.idempotency_key) == 0

    async def test_mixed_currencies_are_kept_apart_or_refused(self, adapter: Adapter,
                                                              national: NationalSystem) -> None:
        """Items valued (and taxed) in several currencies are either registered, each assessed tax line
        stating its currency, or refused with an issue the trader can act on (as a declaration the system
        cannot take); never registered with one currency's amounts read as another's."""
        declaration = self.declaration(items=3, currencies=MIXED_CURRENCIES)
        answer = await adapter.deliver(declaration)
        if not answer.accepted:
            self._assert_actionable(answer, declaration)
            assert await national.registrations(declaration.idempotency_key) == 0
            return
        assert answer.registration and answer.registration.reference
        assert await national.registrations(declaration.idempotency_key) == 1
        if answer.assessment is not None:
            currencies = {line.currency or answer.assessment.currency for line in answer.assessment.taxes}
            assert all(_CURRENCY.fullmatch(c or "") for c in currencies), (
                f"an assessed tax line states no ISO 4217 currency: {answer.assessment}")

    def _assert_actionable(self, answer: NationalAnswer, declaration: Declaration) -> None:
        assert answer.issues, "a refusal without an issue: the trader cannot tell what to change"
        codes = [i.code for i in answer.issues]
        assert any(follows_issue_code(c, self.MEMBER) for c in codes), (
            f"no issue code follows <MEMBER>-<SYSTEM>-<REASON> for {self.MEMBER} (gateway.sdk.issue_code): {codes}")
        pointers = [i.path for i in answer.issues if i.path]
        assert pointers, "no issue points at the element to change (Issue.path, gateway.sdk.POINTER form)"
        for pointer in pointers:
            assert POINTER.fullmatch(pointer), f"{pointer!r} is not in the POINTER form (/MetaData/Declaration/...)"
            assert resolve_pointer(declaration.payload, pointer) is not None, (
                f"{pointer!r} names no element of the submitted document")


_CURRENCY = re.compile(r"[A-Z]{3}")
_STEP = re.compile(r"([^/\[]+)(?:\[(\d+)\])?")


def follows_issue_code(code: str, member: str) -> bool:
    """Return whether ``code`` is ``<member>-<SYSTEM>-<REASON>`` as :func:`gateway.sdk.issue_code` builds it.

    Args:
        code: an issue's code.
        member: the destination member.
    """
    parts = code.split("-", 2)
    if len(parts) < 3 or parts[0] != member:
        return False
    try:
        return issue_code(*parts) == code
    except ValueError:
        return False


def resolve_pointer(payload: bytes, pointer: str) -> Any:
    """Return the element a pointer names in a document, or None.

    Steps are local names from the root; ``[n]`` is the n-th same-named child (1-based), no position the first.

    Args:
        payload: the document as submitted.
        pointer: a path in the :data:`gateway.sdk.POINTER` form.
    """
    node = etree.fromstring(payload, etree.XMLParser(resolve_entities=False, no_network=True))
    steps = pointer.strip("/").split("/")
    first = _STEP.fullmatch(steps[0])
    if first is None or etree.QName(node).localname != first.group(1) or (first.group(2) or "1") != "1":
        return None
    for step in steps[1:]:
        match = _STEP.fullmatch(step)
        if match is None:
            return None
        same = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == match.group(1)]
        position = int(match.group(2) or 1)
        if not 1 <= position <= len(same):
            return None
        node = same[position - 1]
    return node


def _fields(declaration: Declaration) -> dict[str, object]:
    return {f.name: getattr(declaration, f.name) for f in dataclasses.fields(declaration) if f.init}
