"""Registration and assessment: what ASYCUDA World writes into a declaration it accepts.

It fills ``Identification/Registration`` (serial C, number, date), ``Identification/Assessment``
(serial A), the office name, one ``Taxation_line`` per tax of each item, the item and declaration totals,
and the fee as a global tax (``Global_taxes/Global_tax_item``: ``"<code> <amount>"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from adapters.asycuda._dates import format_date
from adapters.asycuda._xml import child_text
from adapters.asycuda.simulator.rates import MemberRates, Tariff

__all__ = ["FEE_CODE", "Numbers", "assess", "item_taxes"]

FEE_CODE = "CAF"  # customs administrative fee
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Numbers:
    """The numbers ASYCUDA gives a declaration it registers and assesses."""

    registration: int
    assessment: int
    day: date
    instance: int


def item_taxes(item: etree._Element, tariff: Tariff, member: MemberRates, export: bool) -> list[tuple[str, Decimal,
                                                                                                    Decimal, Decimal]]:
    """Return the taxes of one item as (code, base, rate %, amount), in ASYCUDA's line order.

    Args:
        item: an ``Item`` element that passed the checks.
        tariff: the rate table.
        member: the member's rates.
        export: exports pay no duty, excise or VAT.
    """
    if export:
        return []
    hs = child_text(item, "Tarification/HScode/Commodity_code")
    base = _value(item)
    duty_rate = tariff.duty_rate(hs, child_text(item, "Tarification/Preference_code"))
    excise_rate = tariff.excise_rate(hs)
    lines = [("CUD", base, duty_rate, _pct(base, duty_rate))]
    if excise_rate:
        lines.append(("EXC", base, excise_rate, _pct(base, excise_rate)))
    if member.vat:
        vat_base = base + sum(line[3] for line in lines)
        lines.append(("VAT", vat_base, member.vat, _pct(vat_base, member.vat)))
    return lines


def assess(root: etree._Element, tariff: Tariff, member: MemberRates, numbers: Numbers) -> Decimal:
    """Register and assess the declaration in place; return the total of its taxes.

    Args:
        root: the ``ASYCUDA`` document, checked.
        tariff: the rate table.
        member: the member's rates.
        numbers: its registration and assessment numbers and date.
    """
    root.set("id", str(numbers.instance))
    when, year = format_date(numbers.day), str(numbers.day.year)
    for section, serial, number in (("Registration", "C", numbers.registration),
                                    ("Assessment", "A", numbers.assessment)):
        _set(root, f"Identification/{section}/Serial_number", serial)
        _set(root, f"Identification/{section}/Number", str(number))
        _set(root, f"Identification/{section}/Date", when)
    office = child_text(root, "Identification/Office_segment/Customs_clearance_office_code")
    _set(root, "Identification/Office_segment/Customs_Clearance_office_name", member.offices.get(office, ""))
    export = child_text(root, "Identification/Type/Type_of_declaration") == "EX"
    items_total = sum((_tax_item(item, item_taxes(item, tariff, member, export)) for item in root.iterfind("Item")),
                      Decimal(0))
    fee = member.fee.quantize(_CENT)
    global_taxes = _path(root, "Global_taxes")
    for old in list(global_taxes):
        global_taxes.remove(old)
    if fee:
        etree.SubElement(global_taxes, "Global_tax_item").text = f"{FEE_CODE} {fee}"
    total = items_total + fee
    for path, value in (("Assessment_notice/Registration_year", year), ("Assessment_notice/Assessment_year", year),
                        ("Assessment_notice/Total_item_taxes", str(items_total)),
                        ("Assessment_notice/Global_taxes", str(fee)), ("Financial/Amounts/Global_taxes", str(fee)),
                        ("Financial/Amounts/Totals_taxes", str(total))):
        _set(root, path, value)
    return total


def _tax_item(item: etree._Element, lines: list[tuple[str, Decimal, Decimal, Decimal]]) -> Decimal:
    taxation = _path(item, "Taxation")
    for old in taxation.findall("Taxation_line"):
        taxation.remove(old)
    total = sum((line[3] for line in lines), Decimal(0))
    for path, value in (("Item_taxes_amount", str(total)), ("Item_taxes_mode_of_payment", "1"),
                        ("Displayed_item_taxes_amount", str(total))):
        _set(taxation, path, value)
    for code, base, rate, amount in lines:
        line = etree.SubElement(taxation, "Taxation_line")
        for name, value in (("Duty_tax_code", code), ("Duty_tax_Base", str(base)), ("Duty_tax_rate", f"{rate:g}"),
                            ("Duty_tax_amount", str(amount)), ("Duty_tax_MP", "1")):
            etree.SubElement(line, name).text = value
        etree.SubElement(etree.SubElement(line, "Duty_tax_Type_of_calculation"), "null")
    return total


def _value(item: etree._Element) -> Decimal:
    """The item's customs value in national currency: its CIF value, else its invoice converted."""
    cif = child_text(item, "Valuation_item/Total_CIF_itm")
    if cif:
        return Decimal(cif).quantize(_CENT, ROUND_HALF_UP)
    amount = Decimal(child_text(item, "Valuation_item/Item_Invoice/Amount_foreign_currency"))
    rate = Decimal(child_text(item, "Valuation_item/Item_Invoice/Currency_rate") or "1")
    return (amount * rate).quantize(_CENT, ROUND_HALF_UP)


def _pct(base: Decimal, rate: Decimal) -> Decimal:
    return (base * rate / 100).quantize(_CENT, ROUND_HALF_UP)


def _path(parent: etree._Element, path: str) -> etree._Element:
    """Return the element at ``path``, creating what is missing (at the end: real files always have it)."""
    element = parent
    for name in path.split("/"):
        child = element.find(name)
        element = child if child is not None else etree.SubElement(element, name)
    return element


def _set(parent: etree._Element, path: str, text: str) -> None:
    element = _path(parent, path)
    for old in list(element):  # drop <null/>
        element.remove(old)
    if text:
        element.text = text
    else:
        element.text = None
        etree.SubElement(element, "null")
