"""A status event as WCO-style XML (``schemas/oco/WCO_AEO_1_OCO.xsd``, in the OCO MetaData envelope), and back."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from lxml import etree

from gateway.aeo.status import Address, Signature, TraderDetails, TraderStatus

__all__ = ["AEO_NS", "EventUnreadable", "read_event", "write_event"]

_MD = "urn:wco:datamodel:WCO:DocumentMetaData-OCO:1"
AEO_NS = "urn:wco:datamodel:WCO:AEO-OCO:1"
_NSMAP: dict[Any, str] = {"md": _MD, None: AEO_NS}


def _q(name: str) -> str:
    return f"{{{AEO_NS}}}{name}"


def _md(name: str) -> str:
    return f"{{{_MD}}}{name}"


class EventUnreadable(ValueError):
    """A schema-valid document whose content cannot be an event (an impossible date, say)."""


def write_event(status: TraderStatus, *, with_details: bool = True) -> bytes:
    """Return the event as an OCO MetaData document (UTF-8), valid against ``schemas/oco``.

    Args:
        status: the event, signed or not.
        with_details: write name, address and salt when the event has them; False gives the public view.
    """
    root = etree.Element(_md("MetaData"), nsmap=_NSMAP)
    etree.SubElement(root, _md("WCODataModelVersionCode")).text = "3.6"
    etree.SubElement(root, _md("WCOTypeName")).text = "AEO"
    etree.SubElement(root, _md("ResponsibleCountryCode")).text = status.issuer
    event = etree.SubElement(root, _q("AEOStatus"))
    sub = etree.SubElement
    sub(event, _q("IssueDateTime")).text = status.issued
    sub(event, _q("IssuingMemberCode")).text = status.issuer
    sub(event, _q("SequenceNumeric")).text = str(status.sequence)
    holder = sub(event, _q("AuthorisationHolder"))
    sub(holder, _q("ID")).text = status.trader_id
    sub(holder, _q("CategoryCode")).text = status.category
    details = status.details if with_details else None
    if details is not None and details.name:
        sub(holder, _q("Name")).text = details.name
    if details is not None and details.address is not None:
        a = details.address
        address = sub(holder, _q("Address"))
        sub(address, _q("Line")).text = a.line
        sub(address, _q("CityName")).text = a.city
        if a.postcode:
            sub(address, _q("PostcodeID")).text = a.postcode
        sub(address, _q("CountryCode")).text = a.country
    sub(holder, _q("DetailsDigest")).text = status.details_digest
    if details is not None:
        sub(holder, _q("DetailsSalt")).text = details.salt
    sub(event, _q("StatusCode")).text = status.status
    sub(event, _q("EffectiveDate")).text = status.effective.isoformat()
    sub(event, _q("ExpiryDate")).text = status.expiry.isoformat()
    for code in sorted(status.consent):
        sub(event, _q("ConsentMemberCode")).text = code
    if status.signature is not None:
        sig = sub(event, _q("Signature"))
        sub(sig, _q("KeyID")).text = status.signature.key_id
        sub(sig, _q("AlgorithmCode")).text = status.signature.algorithm
        sub(sig, _q("Value")).text = base64.b64encode(status.signature.value).decode("ascii")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_event(root: etree._Element) -> TraderStatus:
    """Read an event from a parsed document that passed schema validation.

    Args:
        root: the MetaData root element.

    Raises:
        EventUnreadable: the AEOStatus payload is missing, or a value cannot be read (a date, the signature).
    """
    event = root.find(_q("AEOStatus"))
    if event is None:
        raise EventUnreadable("no AEOStatus payload in the document")
    holder = event.find(_q("AuthorisationHolder"))
    if holder is None:
        raise EventUnreadable("no AuthorisationHolder in the AEOStatus")

    def text(parent: etree._Element, name: str) -> str | None:
        found = parent.find(_q(name))
        return None if found is None or found.text is None else found.text.strip()

    def required(parent: etree._Element, name: str) -> str:
        value = text(parent, name)
        if not value:
            raise EventUnreadable(f"AEOStatus has no {name}")
        return value

    details = None
    salt = text(holder, "DetailsSalt")
    if salt is not None:
        address_el = holder.find(_q("Address"))
        address = None
        if address_el is not None:
            address = Address(line=required(address_el, "Line"), city=required(address_el, "CityName"),
                              country=required(address_el, "CountryCode"), postcode=text(address_el, "PostcodeID"))
        details = TraderDetails(name=text(holder, "Name"), address=address, salt=salt)
    signature = None
    sig = event.find(_q("Signature"))
    if sig is not None:
        try:
            value = base64.b64decode(required(sig, "Value"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EventUnreadable(f"the signature value is not base64: {exc}") from exc
        signature = Signature(key_id=required(sig, "KeyID"), value=value, algorithm=required(sig, "AlgorithmCode"))
    try:
        effective = date.fromisoformat(required(event, "EffectiveDate"))
        expiry = date.fromisoformat(required(event, "ExpiryDate"))
    except ValueError as exc:
        raise EventUnreadable(f"a date of the event cannot be read: {exc}") from exc
    return TraderStatus(
        trader_id=required(holder, "ID"),
        category=required(holder, "CategoryCode"),
        status=required(event, "StatusCode"),
        effective=effective,
        expiry=expiry,
        issuer=required(event, "IssuingMemberCode"),
        sequence=int(required(event, "SequenceNumeric")),
        issued=required(event, "IssueDateTime"),
        consent=tuple(sorted(el.text.strip() for el in event.findall(_q("ConsentMemberCode")) if el.text)),
        details_digest=required(holder, "DetailsDigest"),
        details=details,
        signature=signature,
    )
