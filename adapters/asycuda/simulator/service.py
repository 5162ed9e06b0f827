"""The simulated ASYCUDA World: checks, registers and assesses one declaration, idempotently.

The HTTP front-end (:mod:`.app`) and the hot-folder watcher (:mod:`.watcher`) both hand documents here;
each front-end plays "down" and "failure" its own way, the delay is played here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from lxml import etree

from adapters.asycuda._xml import XMLError, parse_xml
from adapters.asycuda.layout import Layout
from adapters.asycuda.simulator.assess import Numbers, assess
from adapters.asycuda.simulator.checks import Problem, check_declaration, errors_document
from adapters.asycuda.simulator.rates import Tariff
from adapters.asycuda.simulator.state import Record, SimulatorState

__all__ = ["AsycudaSimulator", "Outcome"]


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
        self._instances = itertools.count(5_000_001 + sum(r.registrations for r in state.records.values()))

    async def submit(self, document: bytes, key: str | None) -> Outcome:
        """Register and assess ``document``, or refuse it; a known ``key`` gets its first answer again.

        Args:
            document: the ASYCUDA declaration XML.
            key: the idempotency key (HTTP header, or the hot-folder file name); None registers every time.
        """
        await self.state.controls.pause()
        # No await from here on: the check-then-register below is atomic under asyncio, so two copies of
        # one declaration racing each other still register once.
        known = self.state.records.get(key) if key else None
        if known is not None:
            known.replays += 1
            return Outcome(True, known.document, replayed=True)
        try:
            root = parse_xml(document)
        except XMLError as exc:
            return self._refuse([Problem("ASY-XML-MALFORMED", f"The document is not well-formed XML: {exc}")])
        problems = [Problem("ASY-XML-LAYOUT", f"Not in this installation's layout ({self.layout.name}): {found}")
                    for found in self.layout.check(root)[:20]] if self.layout else []
        problems += check_declaration(root, self.member, self.rates)
        if problems:
            return self._refuse(problems)
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
        if key:
            self.state.records[key] = Record(answer)
        self.state.save()
        return Outcome(True, answer)

    def registrations(self, key: str) -> int:
        """Return how many times ``key`` was registered (0 or 1: that is the point).

        Args:
            key: the idempotency key (hot folder: the file name without ``.xml``).
        """
        record = self.state.records.get(key)
        return record.registrations if record else 0

    @staticmethod
    def _refuse(problems: list[Problem]) -> Outcome:
        return Outcome(False, errors_document(problems))
