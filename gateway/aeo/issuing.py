"""What an administration does with its traders: certify, suspend, revoke, reinstate, let expire; each time a
new signed event, one sequence number on from the trader's last.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from gateway.aeo.signing import SigningKey
from gateway.aeo.status import CATEGORIES, STATUSES, Address, TraderDetails, TraderStatus, now_stamp, valid_trader_id

__all__ = ["IssueError", "change_status", "grant", "reissue"]

_CHANGES = {  # status -> statuses it may follow
    "granted": {None, "revoked", "expired"},
    "suspended": {"granted", "reinstated"},
    "revoked": {"granted", "reinstated", "suspended"},
    "reinstated": {"suspended"},
    "expired": {"granted", "reinstated", "suspended"},
}


class IssueError(ValueError):
    """An administration asked for something its own rules forbid; the message says what and why."""


def grant(key: SigningKey, *, trader_id: str, category: str, effective: date, expiry: date,
          name: str | None = None, address: Address | None = None, consent: tuple[str, ...] = (),
          previous: TraderStatus | None = None) -> TraderStatus:
    """Return the signed event certifying a trader (first grant, or a new certificate after revocation/expiry).

    Args:
        key: the issuing administration's signing key (its member code is the issuer).
        trader_id: the AEO code: the issuer's country code, then the national number.
        category: AEOC, AEOS or AEOF.
        effective: first day of validity.
        expiry: last day of validity.
        name: the trader's name (shared only with consented members).
        address: its address (likewise).
        consent: members (and partners) the trader agreed may see its name and address.
        previous: the trader's latest event, if the registry has one.

    Raises:
        IssueError: a trader of another jurisdiction, an unknown category, dates in the wrong order, or a
            trader already certified and not revoked or expired.
    """
    if not valid_trader_id(trader_id):
        raise IssueError(f"{trader_id!r} is not an AEO code: country code then national number, e.g. {key.member}0012345")
    if trader_id[:2] != key.member:
        raise IssueError(f"{key.member} can certify only traders whose AEO code starts with {key.member}, "
                         f"not {trader_id}")
    if category not in CATEGORIES:
        raise IssueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    if expiry < effective:
        raise IssueError(f"expiry {expiry} is before the effective date {effective}")
    _check_follows("granted", previous)
    details = TraderDetails.new(name, address)
    status = TraderStatus(
        trader_id=trader_id, category=category, status="granted", effective=effective, expiry=expiry,
        issuer=key.member, sequence=(previous.sequence + 1) if previous else 1, issued=now_stamp(),
        consent=tuple(sorted(set(consent))), details_digest=details.digest(), details=details)
    return key.sign(status)


def change_status(key: SigningKey, previous: TraderStatus, status: str, *, effective: date | None = None,
                  consent: tuple[str, ...] | None = None, drop_details: bool = False) -> TraderStatus:
    """Return the signed event moving a trader to a new status, keeping its category, dates and details.

    Args:
        key: the issuing administration's signing key.
        previous: the trader's latest event, as this administration's registry holds it (with details,
            so they carry over).
        status: suspended, revoked, reinstated or expired (or granted again, through :func:`grant`).
        effective: when the change takes effect (default: the previous effective date for a reinstatement,
            today otherwise).
        consent: a new consent list; the previous one by default.
        drop_details: accept a ``previous`` without name and address (the new event then has none).

    Raises:
        IssueError: not this administration's trader, a change its rules forbid (reinstating what was never
            suspended, suspending what is revoked...), or no details to carry over (unless ``drop_details``).
    """
    if status not in STATUSES:
        raise IssueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if previous.issuer != key.member:
        raise IssueError(f"{previous.trader_id} was certified by {previous.issuer}; {key.member} cannot change it")
    _check_follows(status, previous)
    old = previous.details
    if old is None and not drop_details:
        raise IssueError(f"the registry holds no name and address for {previous.trader_id} (read it as "
                         f"{key.member}, whose details topic has them); the new event would carry none")
    details = TraderDetails.new(old.name, old.address) if old else TraderDetails.new(None, None)
    changed = replace(previous, status=status, sequence=previous.sequence + 1, issued=now_stamp(),
                      effective=effective or (date.today() if status != "reinstated" else max(previous.effective, date.today())),
                      consent=tuple(sorted(set(consent if consent is not None else previous.consent))),
                      details_digest=details.digest(), details=details, signature=None)
    return key.sign(changed)


def reissue(key: SigningKey, previous: TraderStatus, *, consent: tuple[str, ...] | None = None) -> TraderStatus:
    """Return the signed event restating a trader's status with a new consent list, or under a new key.

    Status, category, dates and details stay; the sequence goes one on, so registries take it as the latest.
    This is how a trader's consent changes (members no longer consented get a tombstone on their details
    topic), and how an administration re-signs its traders before retiring a key.

    Args:
        key: the issuing administration's signing key.
        previous: the trader's latest event, with details (they carry over; without them the new one has none).
        consent: the new consent list; the previous one by default.

    Raises:
        IssueError: not this administration's trader.
    """
    if previous.issuer != key.member:
        raise IssueError(f"{previous.trader_id} was certified by {previous.issuer}; {key.member} cannot change it")
    old = previous.details
    details = TraderDetails.new(old.name, old.address) if old else TraderDetails.new(None, None)
    restated = replace(previous, sequence=previous.sequence + 1, issued=now_stamp(),
                       consent=tuple(sorted(set(consent if consent is not None else previous.consent))),
                       details_digest=details.digest(), details=details, signature=None)
    return key.sign(restated)


def _check_follows(status: str, previous: TraderStatus | None) -> None:
    before = previous.status if previous else None
    if before not in _CHANGES[status]:
        what = f"is {before}" if before else "has never been certified"
        raise IssueError(f"cannot make a trader {status} that {what}"
                         + (f" (allowed after: {', '.join(sorted(str(s) for s in _CHANGES[status] if s))})"
                            if _CHANGES[status] - {None} else ""))
