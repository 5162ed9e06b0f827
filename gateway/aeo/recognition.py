"""Mutual recognition: does a destination member recognise a trader's AEO programme and category?

One regional arrangement by default (every member recognises every member's programme, in the configured
categories), exceptions per member and per category, and MRAs with partners outside the network, all as
configuration (``aeo.recognition``, ``aeo.partners``). A member always recognises its own programme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from gateway.aeo.status import TraderStatus
from gateway.config import AeoSettings
from gateway.routing import AeoHolder

__all__ = ["Recognition", "RecognitionPolicy"]


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the destination member makes of a declaration's AEO holders.

    Attributes:
        priority: whether the declaration goes to the member's priority lane.
        trader_id: the recognised holder (when ``priority``).
        category: its certified category.
        issuer: who certified it.
        basis: why the destination recognises it (own programme, regional arrangement, an MRA).
        reasons: for each claimed holder that gave no priority, why.
    """

    priority: bool
    trader_id: str | None = None
    category: str | None = None
    issuer: str | None = None
    basis: str | None = None
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        """One sentence for the submitter's Response."""
        if self.priority:
            return (f"priority: {self.trader_id} holds {self.issuer}'s {self.category} certificate, "
                    f"recognised under {self.basis}")
        return "no priority: " + "; ".join(self.reasons)

    def header(self) -> str:
        """The value of the ``oco-aeo-recognised`` header: trader, category, issuer."""
        return f"{self.trader_id} {self.category} {self.issuer}"


class RecognitionPolicy:
    """The MRA configuration, asked per (destination, issuer, category).

    Args:
        settings: ``aeo`` settings.
        members: the member codes of the network.
    """

    def __init__(self, settings: AeoSettings, members: Iterable[str]) -> None:
        self._settings = settings
        self._members = frozenset(members)

    def basis(self, destination: str, issuer: str, category: str) -> str | None:
        """Return why ``destination`` recognises ``issuer``'s ``category`` certificates, or None if it does not."""
        if issuer == destination:
            return f"{destination}'s own programme"
        partner = self._settings.partners.get(issuer)
        if partner is not None:
            if destination in partner.recognised_by and category in partner.categories:
                return f"the mutual recognition arrangement between {destination} and {issuer} ({partner.name})"
            return None
        if issuer not in self._members:
            return None
        rec = self._settings.recognition
        own = rec.members.get(destination)
        if own is not None and issuer in own.issuers:
            return f"{destination}'s arrangement with {issuer}" if category in own.issuers[issuer] else None
        if not rec.regional:
            return None
        if own is not None:
            if issuer in own.not_from or (own.only_from is not None and issuer not in own.only_from):
                return None
            if own.categories is not None and category not in own.categories:
                return None
        if category not in rec.categories:
            return None
        return "the Pacific regional mutual recognition arrangement"

    def assess(self, destination: str, holders: Sequence[AeoHolder],
               lookup: Callable[[str], TraderStatus | None], today: date | None = None) -> Recognition | None:
        """Decide whether a declaration gets priority at ``destination``.

        Args:
            destination: the member whose customs handles the declaration.
            holders: the AEO holders the declaration names.
            lookup: the registry's ``get``.
            today: the day to judge validity on (default: today, UTC).

        Returns:
            None when the declaration names no AEO holder; else the outcome, with the reasons of every
            holder that gave no priority.
        """
        if not holders:
            return None
        today = today or datetime.now(UTC).date()
        reasons = []
        for holder in holders:
            known = lookup(holder.trader_id)
            if known is None:
                reasons.append(f"{holder.trader_id} is not a certified AEO known to the network")
                continue
            if not known.active_on(today):
                reasons.append(_inactive(known, today))
                continue
            basis = self.basis(destination, known.issuer, known.category)
            if basis is None:
                reasons.append(f"{destination} does not recognise {known.issuer}'s {known.category} certificates")
                continue
            return Recognition(True, known.trader_id, known.category, known.issuer, basis, tuple(reasons))
        return Recognition(False, reasons=tuple(reasons))


def _inactive(known: TraderStatus, today: date) -> str:
    if known.status not in ("granted", "reinstated"):
        return f"{known.trader_id}'s certificate is {known.status} by {known.issuer} (since {known.effective})"
    if today < known.effective:
        return f"{known.trader_id}'s certificate takes effect on {known.effective}"
    return f"{known.trader_id}'s certificate expired on {known.expiry}"
