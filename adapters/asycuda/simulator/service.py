"""The simulated ASYCUDA World: checks, registers and assesses one declaration, idempotently.

The HTTP front-end (:mod:`.app`) and the hot-folder watcher (:mod:`.watcher`) both hand documents here;
each front-end plays "down" and "failure" its own way, the delay is played here.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date

from lxml import etree

from adapters.asycuda._xml import XMLError, child_text, parse_xml
from adapters.asycuda.layout import Layout
from adapters.asycuda.simulator.assess import Numbers, assess
from adapters.asycuda.simulator.checks import Problem, check_declaration, errors_document
from adapters.asycuda.simulator.rates import Tariff
from adapters.asycuda.simulator.state import SimulatorState
from gateway.sdk.registry import ORIGINAL, content_digest

__all__ = ["AsycudaSimulator", "Outcome", "function_code_of"]

DUPLICATE_REFERENCE = "ASY-DEC-REF-EXISTS"
"""The error code of an original declaration whose declarant reference (LRN) the declarant already used."""
REFERENCE_FIELD = "ASYCUDA/Declarant/Reference/Number"
# The gateway's key ends ":<function code>:<16 hex digits>"; a hot-folder file name derived from it,
# "_<fc>_<hex>-<hex>".
_KEY_FUNCTION = re.compile(r"[:_](\d{1,2})[:_][0-9a-f]{16}(?:-[0-9a-f]{12})?$")


def function_code_of(key: str | None) -> str:
    """Return the function code an idempotency key (or a hot-folder name derived from it) carries; 9 when none.

    ASYCUDA documents do not carry the WCO function code; the gateway's key does
    (``participant:lrn:function_code:version``, :func:`gateway.sdk.idempotency_key`), and so does the hot
    folder's file name derived from it (its end is kept whatever the key's length).

    Args:
        key: the ``Idempotency-Key`` header, or the hot-folder file's name.
    """
    found = _KEY_FUNCTION.search(key or "")
    return found.group(1) if found else ORIGINAL


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one submission.

    Attributes:
        accepted: registered (now or before), else refused.
        document: the assessed declaration, or the ``ASYCUDA_ERRORS`` document.
        replayed: the key was registered before; ``document`` is that registration.
    """

    accepted: bool
    document: bytes
    replayed: bool = False


class AsycudaSimulator:
    """One member's ASYCUDA World.

    Args:
        member: the member code (``FJ``).
        tariff: the rate table; must have the member.
        state: controls, registrations and counters.
        layout: the installation's layout: a document that does not follow it is refused (ASY-XML-LAYOUT).

    Raises:
        ValueError: the tariff has no rates for ``member``.
    """

    def __init__(self, member: str, tariff: Tariff, state: SimulatorState, layout: Layout | None = None) -> None:
        if member not in tariff.members:
            raise ValueError(f"the rate table has no member {member}; members: {', '.join(sorted(tariff.members))}")
        self.member = member
        self.tariff = tariff
        self.rates = tariff.members[member]
        self.state = state
        self.layout = layout
        self._instances = itertools.count(5_000_001 + int(state.book.totals()["total"]))

    async def submit(self, document: bytes, key: str | None) -> Outcome:
        """Register and assess ``document``, or refuse it; a known ``key`` gets its first answer again.

        Args:
            document: the ASYCUDA declaration XML.
            key: the idempotency key (HTTP header, or the hot-folder file name); None registers every time.
        """
        await self.state.controls.pause()
        # No await from here on: the check-then-register below is atomic under asyncio, so two copies of
        # one declaration racing each other still register once.
        known = self.state.book.replay(key) if key else None
        if known is not None:
            return Outcome(True, known.answer, replayed=True)
        try:
            root = parse_xml(document)
        except XMLError as exc:
            return self._refuse([Problem("ASY-XML-MALFORMED", f"The document is not well-formed XML: {exc}")])
        problems = [Problem("ASY-XML-LAYOUT", f"Not in this installation's layout ({self.layout.name}): {found}")
                    for found in self.layout.check(root)[:20]] if self.layout else []
        problems += check_declaration(root, self.member, self.rates)
        if problems:
            return self._refuse(problems)
        declarant, lrn = child_text(root, "Declarant/Declarant_code"), child_text(root, "Declarant/Reference/Number")
        function_code, digest = function_code_of(key), content_digest(document)
        taken = self.state.book.conflict(declarant, lrn, function_code, digest) if lrn else None
        if taken is not None:
            self.state.book.bump("refused:duplicate-reference")
            return self._refuse([Problem(DUPLICATE_REFERENCE, f"Declarant reference {lrn} already exists for "
                                         f"declarant {declarant} (declaration {taken.reference}): a new declaration "
                                         "needs a new reference; amend the registered one to change it",
                                         REFERENCE_FIELD)])
        if self.state.controls.take_rejection():
            return self._refuse([Problem("ASY-DECLARANT-REFUSED", "The declarant is not authorised to lodge "
                                         "declarations at this office (business rule)",
                                         "ASYCUDA/Declarant/Declarant_code")])
        today = date.today()
        numbers = Numbers(registration=self.state.next_number("registration", today.year),
                          assessment=self.state.next_number("assessment", today.year), day=today,
                          instance=next(self._instances))
        assess(root, self.tariff, self.rates, numbers)
        etree.indent(root)  # the lines added by the assessment, laid out like the rest
        answer = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        office = child_text(root, "Identification/Office_segment/Customs_clearance_office_code")
        self.state.book.register(key or None, declarant=declarant, lrn=lrn, function_code=function_code,
                                 digest=digest, reference=f"{office} C {numbers.registration} {today.year}",
                                 answer=answer)
        return Outcome(True, answer)

    def registrations(self, key: str) -> int:
        """Return how many times ``key`` was registered (0 or 1: that is the point).

        Args:
            key: the idempotency key (hot folder: the file name without ``.xml``).
        """
        return self.state.book.count(key)

    @staticmethod
    def _refuse(problems: list[Problem]) -> Outcome:
        return Outcome(False, errors_document(problems))
