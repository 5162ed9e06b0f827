"""The fields of a declaration the gateway routes, keys and answers by.

Below both the profiles (which read them from a document) and the pipeline (which carries them): neither
imports the other for these.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AeoHolder", "RoutingFields"]


@dataclass(frozen=True, slots=True)
class AeoHolder:
    """A trader named in the declaration as holder of an AEO authorisation."""

    trader_id: str
    category: str  # AEOC, AEOS or AEOF


@dataclass(frozen=True, slots=True)
class RoutingFields:
    """The few fields of a declaration the gateway routes, keys and answers by."""

    member: str  # MetaData/ResponsibleCountryCode: whose customs handles it
    lrn: str  # Declaration/FunctionalReferenceID: the trader's local reference number
    function_code: str  # 9 original, 13 amendment or cancellation
    type_code: str | None = None
    declarant: str | None = None
    representative: str | None = None  # Declaration/Agent/ID: who acts in the declarant's name
    declaration_id: str | None = None  # customs reference, once registered
    aeo_holders: tuple[AeoHolder, ...] = ()
