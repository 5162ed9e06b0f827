"""A typed, read-only view of a validated declaration, for adapters: parties, references, items, taxes.

Adapters read ``declaration.model`` (a :class:`DeclarationModel`) instead of parsing the WCO DM XML
themselves. It is built once per declaration, on first use, from the paths the member's profile declares
(``model:`` in ``profile.yaml``; WCO DM defaults otherwise): see ``gateway/profiles/_model.py``. Every
field that the document lacks is None (or an empty tuple); amounts are :class:`~decimal.Decimal` with
their own currency, quantities with their unit. Anything the model does not carry is in :attr:`DeclarationModel.xml`.

**Pointing back at the submitter's document.** A national system names its own fields in an error; the trader
needs the WCO element (see :mod:`gateway.sdk.issues`). The model gives the pointer of the declaration
(:attr:`DeclarationModel.pointer`) and of each goods item (:attr:`GoodsItem.pointer`), and the pointer of a
field: ``item.pointer_to("hs_code")`` is
``/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity/Classification/ID``, from the
element path the member's profile reads that field from (``model:`` in ``profile.yaml``, WCO DM defaults).
An adapter keeps a small table from its national fields to model fields::

    _FIELDS = {"Tarification/HScode/Commodity_code": "hs_code", "Goods_description/Country_of_origin_code": "origin"}
    pointer = item.pointer_to(_FIELDS[field]) if field in _FIELDS else item.pointer
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from gateway.routing import AeoHolder

__all__ = ["Address", "AeoHolder", "Amount", "DeclarationModel", "DutyTaxLine", "GoodsItem", "Location", "Party",
           "Quantity", "Transport"]


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money in a currency (``currencyID``), e.g. ``Amount(Decimal("1520.00"), "FJD")``."""

    value: Decimal
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    """A measure with its unit (``unitCode``), e.g. ``Quantity(Decimal("12.5"), "KGM")``."""

    value: Decimal
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address."""

    line: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class Party:
    """A trader named in the declaration (declarant, representative, importer, exporter)."""

    id: str | None = None  # trader id (EORI, TIN...)
    name: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Transport:
    """A means of transport (border, arrival or departure)."""

    mode_code: str | None = None  # 1 sea, 4 air...
    id: str | None = None  # IMO number, flight number...
    id_type_code: str | None = None
    name: str | None = None
    nationality: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A place: goods location, place of loading."""

    id: str | None = None
    name: str | None = None
    type_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class DutyTaxLine:
    """One duty or tax declared for a goods item (``DutyTaxFee``); each amount carries its own currency."""

    type_code: str | None = None  # CUD customs duty, EXC excise, VAT...
    regime_code: str | None = None  # preference claimed (PIC...)
    rate: Decimal | None = None
    base_quantity: Quantity | None = None  # specific tax base
    base_amount: Amount | None = None  # ad valorem tax base
    assessed: Amount | None = None  # Payment/TaxAssessedAmount, when the trader self-assesses


@dataclass(frozen=True, slots=True)
class GoodsItem:
    """One ``GovernmentAgencyGoodsItem``."""

    sequence: int | None = None
    hs_code: str | None = None
    description: str | None = None
    customs_value: Amount | None = None
    gross_mass: Quantity | None = None
    net_mass: Quantity | None = None
    packages: int | None = None
    package_type: str | None = None
    origin: str | None = None  # country of origin
    procedure: str | None = None  # requested procedure (4000 release for home use...)
    duty_tax: tuple[DutyTaxLine, ...] = ()
    pointer: str | None = None
    """This item's element in the submitted document, in the pointer form (``.../GovernmentAgencyGoodsItem[2]``)."""
    element_paths: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Field name -> element path below the item (``Commodity/Classification/ID``), as the profile reads it."""

    def pointer_to(self, name: str) -> str | None:
        """Return the pointer of one of this item's fields (``hs_code``, ``customs_value``...).

        The item's own pointer when the profile reads the field with an XPath that is not a plain element path
        (the element is then somewhere inside the item); None when the item has no pointer.

        Args:
            name: a field of :class:`GoodsItem`.

        Raises:
            KeyError: ``name`` is not a field of the model's goods items.
        """
        return _pointer_to(self.pointer, self.element_paths, name, GoodsItem)


@dataclass(frozen=True, slots=True)
class DeclarationModel:
    """The declaration's content, read once from the validated XML.

    Attributes:
        function_code: 9 original, 13 amendment or cancellation.
        type_code: declaration type (``IMA``, ``EXA``...).
        lrn: the trader's local reference number.
        customs_reference: ``Declaration/ID``, once the customs registered it.
        issued: ``IssueDateTime`` (timezone-aware when the document gives the zone).
        office: the declaration office; exit_office: the exit office (exports).
        declarant, representative, importer, exporter: the parties, None when absent.
        aeo_holders: AEO authorisation holders (id, category AEOC/AEOS/AEOF).
        border_transport, arrival_transport, departure_transport: the means of transport.
        goods_location, loading_location: where the goods are, where they were loaded.
        destination_country, export_country: ISO country codes.
        invoice_amount: the invoice total with its currency.
        total_gross_mass, total_packages: the declaration's totals.
        items: the goods items, in document order.
        xml: the document as delivered, for anything else.
    """

    function_code: str | None = None
    type_code: str | None = None
    lrn: str | None = None
    customs_reference: str | None = None
    issued: datetime | None = None
    office: str | None = None
    exit_office: str | None = None
    declarant: Party | None = None
    representative: Party | None = None
    importer: Party | None = None
    exporter: Party | None = None
    aeo_holders: tuple[AeoHolder, ...] = ()
    border_transport: Transport | None = None
    arrival_transport: Transport | None = None
    departure_transport: Transport | None = None
    goods_location: Location | None = None
    loading_location: Location | None = None
    destination_country: str | None = None
    export_country: str | None = None
    invoice_amount: Amount | None = None
    total_gross_mass: Quantity | None = None
    total_packages: int | None = None
    items: tuple[GoodsItem, ...] = ()
    xml: bytes = field(default=b"", repr=False)
    pointer: str | None = None
    """The declaration element in the submitted document (``/MetaData/Declaration``)."""
    element_paths: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Field name -> element path below the declaration (``DeclarationOfficeID``), as the profile reads it."""

    def pointer_to(self, name: str) -> str | None:
        """Return the pointer of a declaration-level field (``office``, ``invoice_amount``, ``declarant``...).

        As :meth:`GoodsItem.pointer_to`; a party's or transport's pointer is that of its element.

        Args:
            name: a field of :class:`DeclarationModel`.

        Raises:
            KeyError: ``name`` is not a field of the model.
        """
        return _pointer_to(self.pointer, self.element_paths, name, DeclarationModel)


def _pointer_to(base: str | None, paths: Mapping[str, str], name: str, kind: type) -> str | None:
    if name not in kind.__dataclass_fields__ or name in ("pointer", "element_paths", "xml"):  # type: ignore[attr-defined]
        raise KeyError(f"{name!r} is not a field of {kind.__name__}")
    if base is None:
        return None
    relative = paths.get(name)
    return f"{base}/{relative}" if relative else base
