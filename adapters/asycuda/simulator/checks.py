"""What ASYCUDA World refuses at XML import, and the error document it answers with.

The error document (HTTP 422 body, or ``<name>.err.xml`` in the hot folder)::

    <ASYCUDA_ERRORS>
      <Error>
        <Code>ASY-HS-UNKNOWN</Code>
        <Message>Commodity code 77010000 is not in the tariff: unknown chapter 77</Message>
        <Field>ASYCUDA/Item[2]/Tarification/HScode/Commodity_code</Field>
      </Error>
    </ASYCUDA_ERRORS>
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from adapters.asycuda._xml import child_text
from adapters.asycuda.simulator.rates import HS_CHAPTERS, MemberRates

__all__ = ["Problem", "check_declaration", "errors_document"]

_SECTIONS = ("Property", "Identification", "Declarant", "Valuation")
_MANDATORY = (
    ("Identification/Office_segment/Customs_clearance_office_code", "Customs clearance office code"),
    ("Identification/Type/Type_of_declaration", "Type of declaration"),
    ("Identification/Type/Declaration_gen_procedure_code", "General procedure code"),
    ("Declarant/Declarant_code", "Declarant code"),
    ("Property/Nbers/Total_number_of_items", "Total number of items"),
)
_TYPES = ("IM", "EX")


@dataclass(frozen=True, slots=True)
class Problem:
    """One error, as ASYCUDA reports it: a code, a message and the faulty field's path."""

    code: str
    message: str
    field: str | None = None


def check_declaration(root: etree._Element, member: str, rates: MemberRates) -> list[Problem]:
    """Return every reason ASYCUDA World would refuse this declaration (empty: it can be registered).

    Args:
        root: the parsed document.
        member: the administration the simulator plays.
        rates: that member's reference data (its customs offices).
    """
    if root.tag != "ASYCUDA":
        return [Problem("ASY-XML-ROOT", f"The document is not an ASYCUDA declaration: root element <{root.tag}>")]
    problems = [Problem("ASY-SECTION-MISSING", f"Section {name} is missing", f"ASYCUDA/{name}")
                for name in _SECTIONS if root.find(name) is None]
    problems += [Problem("ASY-FIELD-MANDATORY", f"Mandatory field is empty: {label}", f"ASYCUDA/{path}")
                 for path, label in _MANDATORY if root.find(path.split("/")[0]) is not None
                 and not child_text(root, path)]
    office = child_text(root, "Identification/Office_segment/Customs_clearance_office_code")
    if office and office not in rates.offices:
        problems.append(Problem("ASY-OFFICE-UNKNOWN", f"Customs office {office} is not an office of {member}; "
                                f"offices: {', '.join(sorted(rates.offices))}",
                                "ASYCUDA/Identification/Office_segment/Customs_clearance_office_code"))
    kind = child_text(root, "Identification/Type/Type_of_declaration")
    if kind and kind not in _TYPES:
        problems.append(Problem("ASY-TYPE-UNKNOWN", f"Type of declaration {kind} does not exist; use IM or EX",
                                "ASYCUDA/Identification/Type/Type_of_declaration"))
    return problems + _check_items(root)


def _check_items(root: etree._Element) -> list[Problem]:
    items = root.findall("Item")
    if not items:
        return [Problem("ASY-NO-ITEM", "The declaration has no item", "ASYCUDA/Item")]
    problems = []
    declared = child_text(root, "Property/Nbers/Total_number_of_items")
    if declared and declared != str(len(items)):
        problems.append(Problem("ASY-ITEM-COUNT", f"Total number of items is {declared} but the declaration "
                                f"has {len(items)} items", "ASYCUDA/Property/Nbers/Total_number_of_items"))
    for position, item in enumerate(items, start=1):
        where = f"ASYCUDA/Item[{position}]"
        hs = child_text(item, "Tarification/HScode/Commodity_code")
        field = f"{where}/Tarification/HScode/Commodity_code"
        if not hs:
            problems.append(Problem("ASY-FIELD-MANDATORY", f"Item {position}: commodity code is empty", field))
        elif not (hs.isdigit() and len(hs) == 8):
            problems.append(Problem("ASY-HS-INVALID", f"Item {position}: commodity code {hs} is not 8 digits", field))
        elif hs[:2] not in HS_CHAPTERS:
            problems.append(Problem("ASY-HS-UNKNOWN", f"Item {position}: commodity code {hs} is not in the tariff: "
                                    f"unknown chapter {hs[:2]}", field))
        problems += _check_value(item, position, where)
    return problems


def _check_value(item: etree._Element, position: int, where: str) -> list[Problem]:
    paths = ("Valuation_item/Total_CIF_itm", "Valuation_item/Item_Invoice/Amount_foreign_currency",
             "Valuation_item/Item_Invoice/Currency_rate")
    texts = [child_text(item, path) for path in paths]
    for path, text in zip(paths, texts, strict=True):
        try:
            if text and Decimal(text) < 0:
                raise InvalidOperation
        except InvalidOperation:
            return [Problem("ASY-VALUE-INVALID", f"Item {position}: {text!r} is not an amount", f"{where}/{path}")]
    if not (texts[0] or texts[1]):
        return [Problem("ASY-FIELD-MANDATORY", f"Item {position}: no value to assess (item invoice amount or CIF "
                        "value)", f"{where}/Valuation_item/Item_Invoice/Amount_foreign_currency")]
    return []


def errors_document(problems: list[Problem]) -> bytes:
    """Return the ``ASYCUDA_ERRORS`` document listing ``problems``.

    Args:
        problems: at least one problem.
    """
    root = etree.Element("ASYCUDA_ERRORS")
    for problem in problems:
        error = etree.SubElement(root, "Error")
        etree.SubElement(error, "Code").text = problem.code
        etree.SubElement(error, "Message").text = problem.message
        if problem.field:
            etree.SubElement(error, "Field").text = problem.field
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
