"""Realistic OCO declarations, valid against ``schemas/oco``, for the demo, tests and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from gateway import _sample_data as data

__all__ = ["make_declaration"]

_MD = "urn:wco:datamodel:WCO:DocumentMetaData-OCO:1"
_DEC = "urn:wco:datamodel:WCO:DEC-OCO:1"
_DS = "urn:wco:datamodel:WCO:DS-OCO:1"
_NSMAP: dict[Any, str] = {"md": _MD, None: _DEC, "ds": _DS}  # None: DEC is the default namespace


def make_declaration(*, member: str, lrn: str, declarant: str | None = None, items: int = 1,
                     aeo: Sequence[tuple[str, str]] = (), function_code: str = "9", type_code: str = "IMA",
                     seed: int | None = None, representative: str | None = None,
                     currencies: Sequence[str] = ()) -> bytes:
    """Return an OCO declaration (MetaData + Declaration) as UTF-8 bytes.

    Imports (type codes not starting with ``EX``) bring goods from abroad and pay duty, excise and VAT;
    exports ship Pacific produce out through an exit office. The header is indented, each goods item is
    one line: 1 item is about 4.5 KB, each further item about 0.6 KB (100 items: 55 to 65 KB). The LRN appears once, in
    ``Declaration/FunctionalReferenceID``, so tests can replace it in the bytes.

    Args:
        member: destination member (``MetaData/ResponsibleCountryCode``).
        lrn: the trader's local reference number.
        declarant: the declarant's id; default derived from the member and the seed.
        items: number of goods items, 1 to 999.
        aeo: authorisation holders as (trader id, category: AEOC, AEOS, AEOF...).
        function_code: ``9`` original or ``13`` amendment (which also gets a customs ``ID``).
        type_code: declaration type, 3 letters (``IMA``, ``EXA``...).
        seed: makes the output reproducible; None draws a fresh one.
        representative: the id of a representative acting for the declarant (``Agent``); none by default.
        currencies: other currencies the goods are valued in: item 1 keeps the member's currency, items 2, 3...
            take these in turn, for their customs value and for an ad valorem VAT base (imports); each gets a
            ``CurrencyExchange`` rate. Empty (the default): every item in the member's currency.

    Raises:
        ValueError: ``items`` is outside 1..999.
    """
    if not 1 <= items <= 999:
        raise ValueError(f"items must be between 1 and 999, not {items}")
    if any(not (len(c) == 3 and c.isalpha() and c.isupper()) for c in currencies) or len(currencies) > 8:
        raise ValueError(f"currencies must be up to 8 ISO 4217 codes (USD, EUR...), not {list(currencies)}")
    rng = random.Random(seed)
    ref = data.member(member)
    export = type_code.upper().startswith("EX")
    issued = datetime(2026, 1, 1, 8) + timedelta(minutes=rng.randrange(365 * 24 * 60))
    port_code, port_name = rng.choice(ref.ports)
    partner = rng.choice(sorted(data.FOREIGN_TRADERS))
    local_name = rng.choice(data.LOCAL_TRADERS)
    goods = [rng.choice(data.EXPORT_GOODS if export else data.IMPORT_GOODS) for _ in range(items)]
    rate = 1.0 if ref.currency == "USD" else round(rng.uniform(0.4, 2.6), 5)

    root = etree.Element(f"{{{_MD}}}MetaData", nsmap=_NSMAP)
    for name, text in (("WCODataModelVersionCode", "3.6"), ("WCOTypeName", "DEC"), ("ResponsibleCountryCode", member),
                       ("ResponsibleAgencyName", ref.agency), ("AgencyAssignedCustomizationCode", "OCO"),
                       ("AgencyAssignedCustomizationVersionCode", "1")):
        _md(root, name, text)
    dec = _el(root, "Declaration")
    _el(dec, "FunctionCode", function_code)
    _el(dec, "FunctionalReferenceID", lrn)
    if function_code == "13":
        _el(dec, "ID", f"{issued:%y}{member}{rng.randrange(10**9):09d}")
    _datetime(_el(dec, "IssueDateTime"), issued)
    _el(dec, "TypeCode", type_code)
    _el(dec, "GoodsItemQuantity", str(items))
    _el(dec, "DeclarationOfficeID", f"{port_code}01")

    lines = [_line(rng, g, ref, rate, export) for g in goods]
    invoice_usd = sum(line[0] for line in lines)
    _el(dec, "InvoiceAmount", f"{invoice_usd:.2f}", currencyID="USD")
    _el(dec, "TotalGrossMassMeasure", f"{sum(line[2] for line in lines):.3f}", unitCode="KGM")
    _el(dec, "TotalPackageQuantity", str(sum(line[1] for line in lines)))
    if function_code == "13":
        info = _el(dec, "AdditionalInformation")
        _el(info, "StatementDescription", "Invoice value corrected after supplier credit note")
        _el(info, "StatementTypeCode", "AES")
    if representative:
        _el(_el(dec, "Agent"), "ID", representative)
    if function_code == "13":
        _el(_el(dec, "Amendment"), "ChangeReasonCode", "32")
    for trader_id, category in aeo:
        holder = _el(dec, "AuthorisationHolder")
        _el(holder, "ID", trader_id)
        _el(holder, "CategoryCode", category)
    vessel, imo = rng.choice(data.VESSELS)
    border = _el(dec, "BorderTransportMeans")
    _transport(border, vessel, imo, partner)
    item_currencies = [ref.currency, *currencies]
    rates = {"USD": rate} if ref.currency != "USD" else {}
    for code in currencies:
        if code != ref.currency and code not in rates:
            rates[code] = round(rng.uniform(0.4, 2.6), 5)
    for code, value in rates.items():
        fx = _el(dec, "CurrencyExchange")
        _el(fx, "CurrencyTypeCode", code)
        _el(fx, "RateNumeric", f"{value:.5f}")
    broker = _el(dec, "Declarant")
    _el(broker, "Name", rng.choice(data.BROKERS))
    _el(broker, "ID", declarant or f"{member}{rng.randrange(10**7):07d}")
    _address(broker, port_name, member, f"{rng.randint(1, 250)} Harbour Road")
    foreign_name, foreign_city = data.FOREIGN_TRADERS[partner]
    local_id = f"{member}{rng.randrange(10**9):09d}"
    if export:
        _el(_el(dec, "ExitOffice"), "ID", f"{port_code}01")
    exporter = _el(dec, "Exporter")
    _party(exporter, local_name, local_id, port_name, member) if export else _party(
        exporter, foreign_name, None, foreign_city, partner)

    shipment = _el(dec, "GoodsShipment")
    if partner in ("NZ", "AU", "JP", "SG") and rng.random() < 0.5:
        mra = _el(shipment, "AEOMutualRecognitionParty")
        _el(mra, "ID", f"{partner}AEO{rng.randrange(10**6):06d}")
        _el(mra, "RoleCode", "CZ" if not export else "CN")
    consignment = _el(shipment, "Consignment")
    _transport(_el(consignment, "DepartureTransportMeans" if export else "ArrivalTransportMeans"), vessel, imo, partner)
    location = _el(consignment, "GoodsLocation")
    _el(location, "Name", f"{port_name} container terminal")
    _el(location, "ID", port_code)
    _el(location, "TypeCode", "A")
    loading = _el(consignment, "LoadingLocation")
    _el(loading, "Name", port_name if export else foreign_city)
    _el(loading, "ID", port_code if export else f"{partner}{foreign_city[:3].upper()}")
    contract = _el(consignment, "TransportContractDocument")
    _el(contract, "ID", f"BL{vessel[:3].upper()}{rng.randrange(10**7):07d}")
    _el(contract, "TypeCode", "705")
    _el(_el(shipment, "Destination"), "CountryCode", partner if export else member)
    _el(_el(shipment, "ExportCountry"), "ID", member if export else partner)
    for seq, (g, line) in enumerate(zip(goods, lines, strict=True), start=1):
        _item(shipment, seq, g, line, ref, partner, member, export,
              item_currencies[(seq - 1) % len(item_currencies)] if currencies else None)
    importer = _el(shipment, "Importer")
    _party(importer, foreign_name, None, foreign_city, partner) if export else _party(
        importer, local_name, local_id, port_name, member)
    invoice = _el(shipment, "Invoice")
    _el(invoice, "ID", f"INV-{issued:%y%m}-{rng.randrange(10**5):05d}")
    _datetime(_el(invoice, "IssueDateTime"), issued - timedelta(days=rng.randint(5, 40)), with_time=False)
    previous = _el(shipment, "PreviousDocument")
    _el(previous, "CategoryCode", "Z")
    _el(previous, "ID", f"{port_code}{issued:%y}M{rng.randrange(10**5):05d}")
    _el(previous, "TypeCode", "785")
    terms = _el(shipment, "TradeTerms")
    _el(terms, "ConditionCode", "FOB" if export else "CIF")
    _el(terms, "LocationName", port_name if export else foreign_city)
    etree.indent(root, space=" ")
    for item in shipment.iterchildren(f"{{{_DEC}}}GovernmentAgencyGoodsItem"):
        _one_line(item)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _line(rng: random.Random, g: data.Goods, ref: data.Member, rate: float,
          export: bool) -> tuple[float, int, float, float]:
    """Return (invoice value USD, packages, gross kg, customs value in national currency) of one item."""
    packages = rng.randint(1, 40 if g.kg < 100 else 4)
    value_usd = round(packages * g.price * rng.uniform(0.85, 1.2), 2)
    gross = round(packages * g.kg * rng.uniform(1.02, 1.1), 3)
    return value_usd, packages, gross, round(value_usd * rate * (1.0 if export else 1.08), 2)


def _item(shipment: etree._Element, seq: int, g: data.Goods, line: tuple[float, int, float, float],
          ref: data.Member, partner: str, member: str, export: bool, currency: str | None = None) -> None:
    _, packages, gross, customs_value = line
    item = _el(shipment, "GovernmentAgencyGoodsItem")
    _el(item, "CustomsValueAmount", f"{customs_value:.2f}", currencyID=currency or ref.currency)
    _el(item, "SequenceNumeric", str(seq))
    commodity = _el(item, "Commodity")
    _el(commodity, "Description", g.description)
    _el(_el(commodity, "Classification"), "ID", g.hs)
    origin = member if export else g.origins[seq % len(g.origins)]
    if not export:
        # The national system computes the amounts; the trader declares only what changes them: a
        # preference claimed (PIC: Pacific Island Countries Trade Agreement) and the excise base.
        if origin in data.MEMBERS:
            duty = _el(commodity, "DutyTaxFee")
            _el(duty, "DutyRegimeCode", "PIC")
            _el(duty, "TypeCode", "CUD")
        if g.excise:
            excise = _el(commodity, "DutyTaxFee")
            _el(excise, "SpecificTaxBaseQuantity", f"{gross * 0.9:.3f}", unitCode="KGM")
            _el(excise, "TypeCode", "EXC")
        if currency:  # a declared VAT base, in the item's own currency
            vat = _el(commodity, "DutyTaxFee")
            _el(vat, "AdValoremTaxBaseAmount", f"{customs_value:.2f}", currencyID=currency)
            _el(vat, "TypeCode", "VAT")
    _el(_el(commodity, "GoodsMeasure"), "GrossMassMeasure", f"{gross:.3f}", unitCode="KGM")
    _el(_el(item, "GovernmentProcedure"), "CurrentCode", "1000" if export else "4000")
    _el(_el(item, "Origin"), "CountryCode", origin)
    packaging = _el(item, "Packaging")
    _el(packaging, "QuantityQuantity", str(packages))
    _el(packaging, "TypeCode", g.package)


def _one_line(element: etree._Element) -> None:
    """Drop the indentation inside an element: one goods item per line keeps big declarations compact."""
    element.text = None if len(element) else element.text
    for child in element.iterdescendants():
        child.tail = None
        if len(child):
            child.text = None


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{_DEC}}}{name}", attrs)
    element.text = text
    return element


def _md(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, f"{{{_MD}}}{name}").text = text


def _datetime(parent: etree._Element, when: datetime, with_time: bool = True) -> None:
    text, code = (f"{when:%Y%m%d%H%M%S}Z", "304") if with_time else (f"{when:%Y%m%d}", "102")
    etree.SubElement(parent, f"{{{_DS}}}DateTimeString", formatCode=code).text = text


def _transport(parent: etree._Element, vessel: str, imo: str, flag: str) -> None:
    _el(parent, "Name", vessel)
    _el(parent, "ID", imo)
    _el(parent, "IdentificationTypeCode", "10")  # 10: IMO ship identification number
    _el(parent, "RegistrationNationalityCode", flag)
    _el(parent, "ModeCode", "1")  # 1: maritime transport


def _party(parent: etree._Element, name: str, trader_id: str | None, city: str, country: str) -> None:
    _el(parent, "Name", name)
    if trader_id:
        _el(parent, "ID", trader_id)
    _address(parent, city, country, "PO Box 1000" if trader_id else "Industrial Estate")


def _address(parent: etree._Element, city: str, country: str, line: str) -> None:
    address = _el(parent, "Address")
    _el(address, "CityName", city)
    _el(address, "CountryCode", country)
    _el(address, "Line", line)
