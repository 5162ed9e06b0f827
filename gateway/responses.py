"""Build and read the WCO DM Responses (OCO profile) the gateway sends back for every submission."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from lxml import etree

from gateway.errors import Issue, truncated_issue

__all__ = ["FUNCTION_CODES", "MAX_ERRORS", "ResponseSummary", "Statement", "TaxDue", "build_response", "read_response"]

FUNCTION_CODES = {"accepted": "01", "received": "02", "rejected": "03", "cleared": "09", "invalidated": "10"}
"""Response status → WCO FunctionCode, as the OCO profile uses them."""

_STATUS = {code: status for status, code in FUNCTION_CODES.items()}
_MD = "urn:wco:datamodel:WCO:DocumentMetaData-OCO:1"
_RES = "urn:wco:datamodel:WCO:RES-OCO:1"
_DS = "urn:wco:datamodel:WCO:DS-OCO:1"
_NSMAP: dict[Any, str] = {"md": _MD, None: _RES, "ds": _DS}  # None: RES is the default namespace
_XPNS = {"md": _MD, "res": _RES}
# Qualified names built once: this module runs for every message.
_Q = {name: f"{{{_MD}}}{name}" for name in ("MetaData", "WCODataModelVersionCode", "WCOTypeName",
                                             "ResponsibleCountryCode")}
_Q.update({name: f"{{{_RES}}}{name}" for name in (
    "Response", "FunctionCode", "FunctionalReferenceID", "ID", "IssueDateTime", "AdditionalInformation",
    "StatementCode", "StatementDescription", "StatementTypeCode", "Error", "Description",
    "ValidationCode", "Pointer", "Location", "LineNumeric", "Declaration", "AcceptanceDateTime", "DutyTaxFee",
    "TypeCode", "Payment", "ReferenceID", "TaxAssessedAmount")})
_DATETIME = f"{{{_DS}}}DateTimeString"
# Characters XML 1.0 cannot carry; a message quoting a bad document may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_COUNTRY = re.compile("[A-Z]{2}")
MAX_ERRORS = 500
"""Most ``Error`` elements one Response carries (at most about 3 KB each): it always fits a Kafka record."""
_SUB = etree.SubElement


def build_response(*, status: str, tracking_id: str, lrn: str | None, member: str | None,
                   issues: Sequence[Issue] = (), declaration_id: str | None = None,
                   issued_at: datetime | None = None, accepted_at: datetime | None = None,
                   taxes: Sequence[TaxDue] = (), statements: Sequence[Statement] = ()) -> bytes:
    """Return a Response document, valid against ``schemas/oco``, as UTF-8 bytes.

    Each Issue becomes an ``Error`` (ValidationCode, Description, Pointer with Location and LineNumeric); past
    :data:`MAX_ERRORS`, the last one says how many more there were (``OCO-ERRORS-TRUNCATED``).
    Texts are cleaned (characters XML cannot carry dropped, whitespace collapsed) and cut to the schema's
    lengths; an echoed ``lrn``, ``member`` or ``declaration_id`` the schema cannot carry (a 40-character
    LRN from a rejected declaration) is left out rather than making the Response itself invalid.

    Args:
        status: ``received``, ``rejected`` or ``accepted`` (also ``cleared``, ``invalidated``).
        tracking_id: the gateway's tracking id; written to ``Response/FunctionalReferenceID``.
        lrn: the declaration's LRN, echoed in ``Response/Declaration/FunctionalReferenceID``.
        member: the destination member, echoed in ``MetaData/ResponsibleCountryCode``.
        issues: the reasons for a rejection.
        declaration_id: the customs reference, echoed in ``Response/Declaration/ID``.
        issued_at: the response time (default now); naive datetimes are taken as UTC.
        accepted_at: when the national system registered the declaration.
        taxes: duties and taxes assessed, written as ``Declaration/DutyTaxFee`` with their payment reference.
        statements: remarks for the submitter (whether the declaration got AEO priority, and why), written
            as ``AdditionalInformation``.

    Raises:
        ValueError: unknown status, or a tracking id that is empty or longer than 70 characters.
    """
    code = FUNCTION_CODES.get(status)
    if code is None:
        raise ValueError(f"unknown response status {status!r}; use one of {', '.join(FUNCTION_CODES)}")
    tracking = _echo(tracking_id, 70)
    if tracking is None:
        raise ValueError(f"tracking id {tracking_id!r} cannot be carried: 1 to 70 printable characters")
    root = etree.Element(_Q["MetaData"], nsmap=_NSMAP)
    _SUB(root, _Q["WCODataModelVersionCode"]).text = "3.6"
    _SUB(root, _Q["WCOTypeName"]).text = "RES"
    if member and _COUNTRY.fullmatch(member):
        _SUB(root, _Q["ResponsibleCountryCode"]).text = member
    response = _SUB(root, _Q["Response"])
    _SUB(response, _Q["FunctionCode"]).text = code
    _SUB(response, _Q["FunctionalReferenceID"]).text = tracking
    _SUB(_SUB(response, _Q["IssueDateTime"]), _DATETIME, formatCode="304").text = _stamp(issued_at)
    for statement in statements[:99]:
        info = _SUB(response, _Q["AdditionalInformation"])
        _SUB(info, _Q["StatementCode"]).text = _text(statement.code, 17) or "NOTE"
        _SUB(info, _Q["StatementDescription"]).text = _text(statement.description, 512) or "-"
        _SUB(info, _Q["StatementTypeCode"]).text = _text(statement.type_code, 3) or "ZZZ"
    if len(issues) > MAX_ERRORS:
        issues = [*issues[: MAX_ERRORS - 1], truncated_issue(MAX_ERRORS - 1, len(issues))]
    for issue in issues:
        error = _SUB(response, _Q["Error"])
        _SUB(error, _Q["Description"]).text = _text(issue.message, 512) or _text(issue.code, 512) or "error"
        _SUB(error, _Q["ValidationCode"]).text = _text(issue.code, 64) or "OCO-ERROR"
        location = _text(issue.path or "", 512)
        line = issue.line if issue.line and 0 < issue.line < 10**9 else None
        if location or line:
            pointer = _SUB(error, _Q["Pointer"])
            if location:
                _SUB(pointer, _Q["Location"]).text = location
            if line:
                _SUB(pointer, _Q["LineNumeric"]).text = str(line)
    lrn_echo = _echo(lrn, 35)
    id_echo = _echo(declaration_id, 70)
    if lrn_echo or id_echo or accepted_at or taxes:
        declaration = _SUB(response, _Q["Declaration"])
        if accepted_at:
            _SUB(_SUB(declaration, _Q["AcceptanceDateTime"]), _DATETIME, formatCode="304").text = _stamp(accepted_at)
        if lrn_echo:
            _SUB(declaration, _Q["FunctionalReferenceID"]).text = lrn_echo
        if id_echo:
            _SUB(declaration, _Q["ID"]).text = id_echo
        for tax in taxes[:99]:
            duty = _SUB(declaration, _Q["DutyTaxFee"])
            _SUB(duty, _Q["TypeCode"]).text = _text(tax.code, 3) or "ZZZ"
            payment = _SUB(duty, _Q["Payment"])
            if tax.reference and _echo(tax.reference, 35):
                _SUB(payment, _Q["ReferenceID"]).text = _echo(tax.reference, 35)
            _SUB(payment, _Q["TaxAssessedAmount"], currencyID=tax.currency).text = f"{tax.amount:.2f}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True, slots=True)
class Statement:
    """A remark in a Response (WCO ``AdditionalInformation``): a type, a code and words."""

    type_code: str  # up to 3 characters: AEO for trusted-trader treatment
    code: str  # up to 17 characters: AEO-PRIORITY, AEO-NO-PRIORITY
    description: str


@dataclass(frozen=True, slots=True)
class TaxDue:
    """One assessed duty or tax, as a Response carries it."""

    code: str  # WCO DutyTaxFee type code, up to 3 characters
    amount: Decimal
    currency: str  # ISO 4217
    reference: str | None = None  # the assessment (payment) reference


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """What a Response says, for CLIs, tests and the demo.

    Attributes:
        status: ``accepted``, ``received``, ``rejected``, ``cleared``, ``invalidated``, or ``unknown``.
        function_code: the WCO FunctionCode as written.
        lrn: the echoed LRN.
        tracking_id: the gateway's tracking id.
        declaration_id: the customs reference, when there is one.
        member: the ResponsibleCountryCode.
        issues: one per Error.
        taxes: one per assessed DutyTaxFee.
        statements: one per AdditionalInformation (the AEO priority remark).
    """

    status: str
    function_code: str
    lrn: str | None
    tracking_id: str | None
    declaration_id: str | None
    member: str | None
    issues: tuple[Issue, ...]
    taxes: tuple[TaxDue, ...] = ()
    statements: tuple[Statement, ...] = ()

    def statement(self, type_code: str) -> Statement | None:
        """Return the first remark of a type (``AEO``), if any."""
        return next((s for s in self.statements if s.type_code == type_code), None)


_READER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_X: dict[str, Callable[[etree._Element], str]] = {name: cast(
    "Callable[[etree._Element], str]", etree.XPath(f"string({path})", namespaces=_XPNS, smart_strings=False),
) for name, path in {
    "function_code": "res:Response/res:FunctionCode",
    "tracking_id": "res:Response/res:FunctionalReferenceID",
    "lrn": "res:Response/res:Declaration/res:FunctionalReferenceID",
    "declaration_id": "res:Response/res:Declaration/res:ID",
    "member": "md:ResponsibleCountryCode",
    "code": "res:ValidationCode",
    "message": "res:Description",
    "path": "res:Pointer/res:Location",
    "line": "res:Pointer/res:LineNumeric",
}.items()}
_TAXES = cast("Callable[[etree._Element], list[etree._Element]]",
              etree.XPath("res:Response/res:Declaration/res:DutyTaxFee", namespaces=_XPNS))
_TAX_X = {name: etree.XPath(f"string({path})", namespaces=_XPNS, smart_strings=False) for name, path in {
    "code": "res:TypeCode", "amount": "res:Payment/res:TaxAssessedAmount",
    "currency": "res:Payment/res:TaxAssessedAmount/@currencyID", "reference": "res:Payment/res:ReferenceID"}.items()}
_STATEMENTS = cast("Callable[[etree._Element], list[etree._Element]]",
                   etree.XPath("res:Response/res:AdditionalInformation", namespaces=_XPNS))
_STATEMENT_X = {name: etree.XPath(f"string({path})", namespaces=_XPNS, smart_strings=False) for name, path in {
    "type_code": "res:StatementTypeCode", "code": "res:StatementCode", "description": "res:StatementDescription",
}.items()}
_ERRORS = cast("Callable[[etree._Element], list[etree._Element]]",
               etree.XPath("res:Response/res:Error", namespaces=_XPNS))


def read_response(data: bytes) -> ResponseSummary:
    """Summarise a Response built by :func:`build_response` (or any OCO-profile Response).

    Args:
        data: the Response document.

    Raises:
        ValueError: not well-formed XML, or not an OCO ``MetaData`` envelope.
    """
    try:
        root = etree.fromstring(data, _READER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not a readable Response: {exc}") from exc
    if root.tag != _Q["MetaData"]:
        raise ValueError(f"not an OCO Response: root element is {root.tag}")
    code = _X["function_code"](root).strip()
    issues = tuple(
        Issue(code=_X["code"](e).strip(), message=_X["message"](e), path=_X["path"](e) or None,
              line=int(_X["line"](e)) if _X["line"](e).strip().isdigit() else None)
        for e in _ERRORS(root)
    )
    return ResponseSummary(
        status=_STATUS.get(code, "unknown"),
        function_code=code,
        lrn=_X["lrn"](root) or None,
        tracking_id=_X["tracking_id"](root) or None,
        declaration_id=_X["declaration_id"](root) or None,
        member=_X["member"](root) or None,
        issues=issues,
        taxes=tuple(TaxDue(code=str(_TAX_X["code"](t)), amount=Decimal(str(_TAX_X["amount"](t)) or "0"),
                           currency=str(_TAX_X["currency"](t)), reference=str(_TAX_X["reference"](t)) or None)
                    for t in _TAXES(root)),
        statements=tuple(Statement(**{k: str(x(e)) for k, x in _STATEMENT_X.items()}) for e in _STATEMENTS(root)),
    )


def _stamp(when: datetime | None) -> str:
    when = when or datetime.now(UTC)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%d%H%M%SZ")


def _text(value: str, limit: int) -> str:
    text = " ".join(_NOT_XML.sub("", value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _echo(value: str | None, limit: int) -> str | None:
    # Echoes are identifiers: cut or cleaned they would mislead, so they go in whole or not at all.
    if not value or len(value) > limit or _NOT_XML.search(value) or "\n" in value or "\r" in value:
        return None
    return value if value.strip() else None
