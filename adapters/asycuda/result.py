"""Read ASYCUDA World's answer: the registered and assessed declaration, or its list of errors.

A result is the declaration as ASYCUDA keeps it after registration: ``Identification/Registration``
(serial, number, date) and ``Identification/Assessment`` filled in, a ``Taxation/Taxation_line`` per tax of
each item, declaration-level taxes in ``Global_taxes/Global_tax_item`` (``"<code> <amount>"``) and the
total in ``Financial/Amounts/Totals_taxes``. A rejection is::

    <ASYCUDA_ERRORS>
      <Error><Code>ASY-HS-UNKNOWN</Code><Message>...</Message><Field>ASYCUDA/Item[2]/...</Field></Error>
    </ASYCUDA_ERRORS>

Each error becomes an Issue under the conventions of :mod:`gateway.sdk.issues`: code
``<MEMBER>-ASYCUDA-<ASYCUDA's code>`` (``FJ-ASYCUDA-ASY-HS-UNKNOWN``: ASYCUDA's help desk knows its own code), and
the pointer of the WCO element the field was mapped from (:func:`adapters.asycuda.fields.wco_pointer`), never
ASYCUDA's own path.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from adapters.asycuda._dates import parse_date
from adapters.asycuda._xml import XMLError, child_text, parse_xml
from adapters.asycuda.fields import wco_pointer
from adapters.asycuda.limits import SYSTEM
from adapters.asycuda.transport import ADAPTER, Reply
from gateway.sdk import (AdapterProtocolError, Assessment, DeclarationModel, Issue, NationalAnswer, Registration,
                         TaxLine, national_issue)

__all__ = ["read_reply"]


def read_reply(reply: Reply, *, member: str, currency: str, model: DeclarationModel | None = None) -> NationalAnswer:
    """Turn ASYCUDA's answer into a :class:`NationalAnswer`.

    Args:
        reply: the answer from the transport.
        member: the member served, for error context.
        currency: the national currency the assessment is in (ASYCUDA documents do not name it).
        model: the submitted declaration's model, to point errors at its elements; None: no pointers.

    Raises:
        AdapterProtocolError: the answer is not XML, has an unexpected root, or lacks what it must hold
            (a registration number; at least one error in a rejection).
    """
    try:
        root = parse_xml(reply.body)
        if reply.rejected:
            return NationalAnswer(False, issues=_issues(root, member, model), raw=reply.body)
        registration = _registration(root)
        return NationalAnswer(True, registration=registration, assessment=_assessment(root, currency),
                              duplicate=reply.replayed, raw=reply.body)
    except XMLError as exc:
        raise _unreadable(member, f"is not well-formed XML ({exc})", reply.body) from exc
    except (ValueError, InvalidOperation) as exc:  # a date or an amount ASYCUDA would not write
        raise _unreadable(member, f"cannot be read ({exc})", reply.body) from exc


def _issues(root: etree._Element, member: str, model: DeclarationModel | None) -> tuple[Issue, ...]:
    if root.tag != "ASYCUDA_ERRORS":
        raise ValueError(f"a rejection must be an ASYCUDA_ERRORS document, not <{root.tag}>")
    issues = tuple(_issue(error, member, model) for error in root.iterfind("Error"))
    if not issues:
        raise ValueError("the rejection lists no Error")
    return issues


def _issue(error: etree._Element, member: str, model: DeclarationModel | None) -> Issue:
    code = child_text(error, "Code") or "ASY-ERROR"
    message = child_text(error, "Message") or "rejected by ASYCUDA World without a message"
    pointer = wco_pointer(child_text(error, "Field"), model) if model is not None else None
    try:
        return national_issue(member, SYSTEM, code, message, pointer=pointer)
    except ValueError:  # a code of characters the convention has no room for: keep ASYCUDA's words
        return national_issue(member, SYSTEM, "ERROR", f"{code}: {message}", pointer=pointer)


def _registration(root: etree._Element) -> Registration:
    if root.tag != "ASYCUDA":
        raise ValueError(f"a result must be an ASYCUDA document, not <{root.tag}>")
    identification = root.find("Identification")
    serial = child_text(identification, "Registration/Serial_number")
    number = child_text(identification, "Registration/Number")
    if not number:
        raise ValueError("the result carries no Identification/Registration/Number")
    date_text = child_text(identification, "Registration/Date")
    date = parse_date(date_text) if date_text else None
    office = child_text(identification, "Office_segment/Customs_clearance_office_code")
    year = str(date.year) if date else child_text(root, "Assessment_notice/Registration_year")
    reference = " ".join(part for part in (office, serial, number, year) if part)
    return Registration(reference=reference, serial=serial or None, number=number, date=date)


def _assessment(root: etree._Element, currency: str) -> Assessment | None:
    identification = root.find("Identification")
    number = child_text(identification, "Assessment/Number")
    if not number:
        return None  # registered, not assessed yet
    taxes: list[TaxLine] = []
    for position, item in enumerate(root.iterfind("Item"), start=1):
        for line in item.iterfind("Taxation/Taxation_line"):
            code, amount = child_text(line, "Duty_tax_code"), child_text(line, "Duty_tax_amount")
            if code and amount:
                taxes.append(TaxLine(code=code, amount=Decimal(amount), item=position))
    for global_tax in root.iterfind("Global_taxes/Global_tax_item"):
        code, _, amount = (global_tax.text or "").strip().partition(" ")
        if code and amount:
            taxes.append(TaxLine(code=code, amount=Decimal(amount.strip())))
    total_text = child_text(root, "Financial/Amounts/Totals_taxes")
    total = Decimal(total_text) if total_text else sum((t.amount for t in taxes), Decimal(0))
    date_text = child_text(identification, "Assessment/Date")
    return Assessment(number=number, total=total, currency=currency, taxes=tuple(taxes),
                      serial=child_text(identification, "Assessment/Serial_number") or None,
                      date=parse_date(date_text) if date_text else None)


def _unreadable(member: str, what: str, body: bytes) -> AdapterProtocolError:
    return AdapterProtocolError(f"the answer of ASYCUDA World of {member} {what}; first bytes: {body[:120]!r}",
                                member=member, adapter=ADAPTER)
