"""Read a WCO DM Response (the OCO profile's, or any administration's RES) into a ``NationalAnswer``.

Elements are found by local name, so the namespace of the publishing administration's profile does not
matter: ``MetaData > Response`` or a bare ``Response`` root, ``FunctionCode``, ``Error`` (``ValidationCode``,
``Description``, ``Pointer/Location``, ``Pointer/LineNumeric``) and ``Declaration`` (``ID``,
``AcceptanceDateTime``, ``DutyTaxFee``). The standard library's parser is used with DTDs refused: an answer
never needs one, and an internal subset is how entity attacks arrive.

Given the member and the adapter's system tag, the Errors become Issues under the conventions of
:mod:`gateway.sdk.issues`: code ``<MEMBER>-<SYSTEM>-<ValidationCode>``, the national code kept whole so its help
desk recognises it (``TSW-DUPLICATE-LRN`` gives ``NZ-WCO-TSW-DUPLICATE-LRN``; a code of other characters gives
``<MEMBER>-<SYSTEM>-ERROR``, the code in the message), and the ``Pointer/Location`` in the pointer form
(namespace prefixes dropped: ``/md:MetaData/dec:Declaration/dec:FunctionalReferenceID`` gives
``/MetaData/Declaration/FunctionalReferenceID``; a Location that is no path is kept as written).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - the conventional alias
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from gateway.sdk import POINTER, Assessment, Issue, NationalAnswer, Registration, TaxLine, issue_code

__all__ = ["ACCEPTED_CODES", "REJECTED_CODES", "read_answer"]

ACCEPTED_CODES = frozenset({"01", "02", "09", "10"})
"""FunctionCodes that mean the national system took the declaration: accepted, received, cleared, and
invalidated (the answer to a cancellation it carried out)."""
REJECTED_CODES = frozenset({"03"})
_MAX_BYTES = 4 * 1024 * 1024  # an answer is a few KB; anything near this is not an answer
_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")


class _NoDtd(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ValueError("the answer carries a DTD, which a WCO DM Response never needs")


def read_answer(data: bytes, *, duplicate: bool = False, member: str | None = None,
                system: str | None = None) -> NationalAnswer:
    """Map a Response document to the national answer.

    Args:
        data: the Response document as received.
        duplicate: the national system said it replayed an earlier answer to the same idempotency key.
        member: the destination member; with ``system``, issues get convention codes and pointers.
        system: the adapter's system tag (``WCO``).

    Raises:
        ValueError: not well-formed, carries a DTD, no ``Response`` element, an unknown ``FunctionCode``, or
            an unreadable amount; the message says which.
    """
    if len(data) > _MAX_BYTES:
        raise ValueError(f"the answer is {len(data)} bytes, more than a Response can be")
    parser = ET.XMLParser(target=_NoDtd())
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise ValueError(f"the answer is not well-formed XML: {exc}") from exc
    response = root if _local(root.tag) == "Response" else _child(root, "Response")
    if response is None:
        raise ValueError(f"the answer is not a WCO DM Response: no Response element under <{_local(root.tag)}>")
    code = _text(response, "FunctionCode")
    declaration = _child(response, "Declaration")
    if code in REJECTED_CODES:
        issues = tuple(_issue(error) for error in _children(response, "Error"))
        if member and system:
            issues = tuple(_conventional(issue, member, system) for issue in issues)
        return NationalAnswer(False, issues=issues or (Issue(
            "OCO-NATIONAL-REJECTION", "the national system refused the declaration without giving a reason"),),
            duplicate=duplicate, raw=data)
    if code not in ACCEPTED_CODES:
        raise ValueError(f"the Response has FunctionCode {code!r}; this adapter reads "
                         f"{', '.join(sorted(ACCEPTED_CODES | REJECTED_CODES))}")
    reference = _text(declaration, "ID") if declaration is not None else ""
    registration = Registration(reference=reference, date=_acceptance(declaration)) if reference else None
    assessment = _assessment(declaration) if declaration is not None else None
    return NationalAnswer(True, registration=registration, assessment=assessment, duplicate=duplicate, raw=data)


def _issue(error: ET.Element) -> Issue:
    code = _text(error, "ValidationCode") or "OCO-NATIONAL-ERROR"
    pointer = _child(error, "Pointer")
    location = _text(pointer, "Location") if pointer is not None else ""
    line = _text(pointer, "LineNumeric") if pointer is not None else ""
    return Issue(code=code, message=_text(error, "Description") or code, path=location or None,
                 line=int(line) if line.isdigit() else None)


def _conventional(issue: Issue, member: str, system: str) -> Issue:
    """Return the issue with a ``<MEMBER>-<SYSTEM>-<REASON>`` code and, when it reads as one, a pointer path."""
    path = issue.path
    if path is not None:
        bare = _PREFIX.sub("", path)
        path = bare if POINTER.fullmatch(bare) else path  # anything else is kept as the system wrote it
    try:
        code, message = issue_code(member, system, issue.code), issue.message
    except ValueError:  # characters the conventions do not allow: the national code goes into the message
        code, message = issue_code(member, system, "ERROR"), f"{issue.code}: {issue.message}"
    return Issue(code, message, line=issue.line, path=path)


def _acceptance(declaration: ET.Element | None) -> datetime | None:
    """Read AcceptanceDateTime (WCO format 304 ``YYYYMMDDHHMMSSZ``, 102 ``YYYYMMDD``, or ISO 8601).

    An unreadable date is left out: the registration stands without it, and the reference is what matters.
    """
    moment = _child(declaration, "AcceptanceDateTime") if declaration is not None else None
    if moment is None:
        return None
    text = "".join(moment.itertext()).strip()
    for layout in ("%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S", "%Y%m%d"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _assessment(declaration: ET.Element) -> Assessment | None:
    # The assessment's currency is the first line's; a line in another one keeps its own (TaxLine.currency).
    lines: list[TaxLine] = []
    currency: str | None = None
    number = None
    for duty in _children(declaration, "DutyTaxFee"):
        payment = _child(duty, "Payment")
        amount = _child(payment, "TaxAssessedAmount") if payment is not None else None
        if amount is None:
            continue
        try:
            value = Decimal((amount.text or "").strip())
        except InvalidOperation as exc:
            raise ValueError(f"TaxAssessedAmount {amount.text!r} is not a number") from exc
        line_currency = amount.get("currencyID", "")
        if not line_currency:
            raise ValueError("a TaxAssessedAmount has no currencyID")
        currency = currency or line_currency
        number = number or _text(payment, "ReferenceID") or None
        lines.append(TaxLine(code=_text(duty, "TypeCode") or "ZZZ", amount=value,
                             currency=None if line_currency == currency else line_currency))
    if currency is None:
        return None
    return Assessment(number=number, total=sum((line.amount for line in lines if line.currency is None), Decimal(0)),
                      currency=currency, taxes=tuple(lines))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(parent: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in parent if _local(child.tag) == name), None)


def _text(parent: ET.Element | None, name: str) -> str:
    element = _child(parent, name) if parent is not None else None
    return " ".join((element.text or "").split()) if element is not None else ""
