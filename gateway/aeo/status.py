"""A trusted trader's status event: what one administration certifies about one trader, and its views.

An event has a public part (trader id, category, status, dates, issuer, sequence, consent) and details
(name, address) that only the members the trader consented to may see. One Ed25519 signature covers both:
it is made over a canonical form holding the public fields and a salted digest of the details, so the
public view (details left out, digest kept) and the full view (details and salt included) verify alike.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

__all__ = [
    "ACTIVE_STATUSES",
    "CATEGORIES",
    "STATUSES",
    "Address",
    "Signature",
    "TraderDetails",
    "TraderStatus",
    "now_stamp",
    "valid_trader_id",
]

CATEGORIES = ("AEOC", "AEOS", "AEOF")
"""AEOC customs simplifications, AEOS security and safety, AEOF both."""

STATUSES = ("granted", "suspended", "revoked", "reinstated", "expired")
ACTIVE_STATUSES = frozenset({"granted", "reinstated"})
"""Statuses under which a trader enjoys the benefits (within its effective and expiry dates)."""

ALGORITHM = "Ed25519"
_TRADER_ID = re.compile(r"[A-Z]{2}[A-Z0-9]{1,15}")
_CANONICAL_VERSION = 1


def valid_trader_id(text: str) -> bool:
    """Tell whether ``text`` is an AEO code: an ISO country code then the national number (``FJ0012345``)."""
    return bool(_TRADER_ID.fullmatch(text))


def now_stamp() -> str:
    """Return the current UTC time as the events write it (``2026-11-30T11:45:12.123Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _canonical_json(value: object) -> bytes:
    # Sorted keys, no spaces, UTF-8: one byte string per value, whatever wrote it (XML, CSV, a file).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Address:
    """A trader's address, as the WCO Data Model's Address class has it."""

    line: str
    city: str
    country: str
    postcode: str | None = None


@dataclass(frozen=True, slots=True)
class TraderDetails:
    """What only consented members see: the trader's name and address, and the salt of their digest.

    The salt is random per event, so that the digest in the public view does not let anyone confirm a
    guessed name.
    """

    name: str | None
    address: Address | None
    salt: str

    @staticmethod
    def new(name: str | None, address: Address | None) -> TraderDetails:
        """Return details with a fresh salt, values cleaned as the XML will carry them.

        Surrounding blanks are dropped and a blank name or postcode counts as absent: the digest is made
        over exactly what a reader will read back, or the signature would not verify.

        Raises:
            ValueError: an address without a line, a city or a country.
        """
        if address is not None:
            line, city, country = address.line.strip(), address.city.strip(), address.country.strip()
            if not (line and city and country):
                raise ValueError("an address needs a line, a city and a country")
            address = Address(line, city, country, (address.postcode or "").strip() or None)
        return TraderDetails((name or "").strip() or None, address, secrets.token_hex(16))

    def digest(self) -> str:
        """Return the hex SHA-256 of the canonical form of name, address and salt."""
        a = self.address
        return hashlib.sha256(_canonical_json({
            "name": self.name,
            "address": None if a is None else {"line": a.line, "city": a.city, "postcode": a.postcode,
                                               "country": a.country},
            "salt": self.salt,
        })).hexdigest()


@dataclass(frozen=True, slots=True)
class Signature:
    """An administration's signature of an event: which key, and the 64 signature bytes."""

    key_id: str
    value: bytes
    algorithm: str = ALGORITHM


@dataclass(frozen=True, slots=True)
class TraderStatus:
    """One status event of one trader, as issued by the administration that certified it.

    Attributes:
        trader_id: the AEO code: issuing member's country code + national number (``FJ0012345``).
        category: ``AEOC``, ``AEOS`` or ``AEOF``.
        status: ``granted``, ``suspended``, ``revoked``, ``reinstated`` or ``expired``.
        effective: the day the status takes effect.
        expiry: the last day of the certificate's validity.
        issuer: the issuing member's (or MRA partner's) country code.
        sequence: per trader, one more than the previous event; a registry refuses anything not newer.
        issued: when the event was made (UTC, ``2026-11-30T11:45:12.123Z``).
        consent: the members (and partners) the trader agreed may see its name and address.
        details_digest: digest of the details (see :class:`TraderDetails`); signed, kept in every view.
        details: name and address, only in the views of consented members.
        signature: the issuer's signature, or None before signing.
    """

    trader_id: str
    category: str
    status: str
    effective: date
    expiry: date
    issuer: str
    sequence: int
    issued: str
    consent: tuple[str, ...]
    details_digest: str
    details: TraderDetails | None = None
    signature: Signature | None = None

    @property
    def jurisdiction(self) -> str:
        """The country whose administration alone may change this trader: the prefix of its AEO code."""
        return self.trader_id[:2]

    def canonical(self, key_id: str) -> bytes:
        """Return the bytes the issuer signs with the key ``key_id``: every public field and the digest.

        The key id is signed too, so a signature cannot be passed off as another key's.
        """
        return _canonical_json({
            "v": _CANONICAL_VERSION, "alg": ALGORITHM, "key_id": key_id,
            "trader": self.trader_id, "category": self.category, "status": self.status,
            "effective": self.effective.isoformat(), "expiry": self.expiry.isoformat(),
            "issuer": self.issuer, "sequence": self.sequence, "issued": self.issued,
            "consent": sorted(self.consent), "details": self.details_digest,
        })

    def public(self) -> TraderStatus:
        """Return the view every member may see: the same event without name and address."""
        return replace(self, details=None) if self.details is not None else self

    def details_match(self) -> bool:
        """Tell whether the details carried (if any) are the ones the signed digest stands for."""
        return self.details is None or self.details.digest() == self.details_digest

    def active_on(self, day: date) -> bool:
        """Tell whether the trader enjoys the benefits on ``day``: granted or reinstated, within its dates."""
        return self.status in ACTIVE_STATUSES and self.effective <= day <= self.expiry

    def same_event(self, other: TraderStatus) -> bool:
        """Tell whether ``other`` is this very event (same signed content), whichever view it is."""
        return self.signature is not None and other.signature is not None and \
            self.signature == other.signature and self.sequence == other.sequence
