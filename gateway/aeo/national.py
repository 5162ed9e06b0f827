"""A member's existing national AEO list (CSV), read row by row into what ``issuing.grant`` needs.

This is how an administration joins the network with the traders it already certified: ``oco-gateway aeo
load --member FJ list.csv`` turns each row into one signed *granted* event. The header names the columns
(:data:`NATIONAL_COLUMNS`, any order; ``postcode``, ``name``, the address and ``consent`` may be left empty):

    trader_id,category,effective,expiry,name,address_line,city,postcode,country,consent
    FJ0012345,AEOF,2024-03-01,2027-02-28,Pacific Freight Ltd,12 Harbour Road,Suva,,FJ,NZ WS

A row that cannot be read is reported with its line number and why; the others are still loaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from gateway.aeo.status import CATEGORIES, Address, valid_trader_id

__all__ = ["NATIONAL_COLUMNS", "NationalListError", "NationalRow", "RowProblem", "clean_text", "read_national_list",
           "split_codes"]

NATIONAL_COLUMNS = ("trader_id", "category", "effective", "expiry", "name", "address_line", "city", "postcode",
                    "country", "consent")
_REQUIRED = ("trader_id", "category", "effective", "expiry")


class NationalListError(ValueError):
    """The file as a whole cannot be read: not UTF-8, not CSV, or its header lacks a column."""


@dataclass(frozen=True, slots=True)
class NationalRow:
    """One trader of the national list, checked.

    Attributes:
        line: where the row starts in the file (the header is line 1).
    """

    line: int
    trader_id: str
    category: str
    effective: date
    expiry: date
    name: str | None
    address: Address | None
    consent: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that will not be loaded, and why."""

    line: int
    trader_id: str | None
    message: str

    def __str__(self) -> str:
        who = f" {self.trader_id}" if self.trader_id else ""
        return f"line {self.line}{who}: {self.message}"


def clean_text(value: str | None) -> str | None:
    """Return a name or address part as events carry it: surrounding blanks removed, empty as None.

    The event's XML drops empty values and trims the rest, so anything else would not match its signed
    digest once read back.
    """
    if value is None:
        return None
    value = value.strip()
    return value or None


def split_codes(text: str) -> tuple[str, ...]:
    """Split a consent list written with spaces, commas or semicolons; upper-case, sorted, unique."""
    return tuple(sorted({c.strip().upper() for c in text.replace(";", " ").replace(",", " ").split() if c.strip()}))


def read_national_list(data: bytes, *, member: str, known_codes: Iterable[str]) -> tuple[list[NationalRow], list[RowProblem]]:
    """Read and check a national AEO list.

    Args:
        data: the CSV file's bytes (UTF-8, a byte-order mark is allowed).
        member: the administration loading it: every trader id must start with its code.
        known_codes: the members and partners a trader may consent to.

    Returns:
        the rows that can be granted, and the rows refused (with line numbers and reasons).

    Raises:
        NationalListError: the file is not UTF-8 CSV, or its header lacks a required column or has an unknown one.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NationalListError(f"the list is not UTF-8 text: {exc}") from None
    known = frozenset(known_codes)
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(rows, [])]
    except csv.Error as exc:
        raise NationalListError(f"the list is not CSV: {exc}") from None
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in NATIONAL_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
                   ([f"unknown {', '.join(repr(u) for u in unknown)}"] if unknown else []) + \
                   (["a column named twice"] if len(set(header)) != len(header) else [])
        raise NationalListError(f"the header must name the columns {','.join(NATIONAL_COLUMNS)} "
                                f"({'; '.join(problems)})")
    good: list[NationalRow] = []
    bad: list[RowProblem] = []
    first_line: dict[str, int] = {}
    start = rows.line_num + 1
    try:
        for cells in rows:
            line, start = start, rows.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            trader = cells[header.index("trader_id")].strip() if len(cells) > header.index("trader_id") else None
            if len(cells) != len(header):
                bad.append(RowProblem(line, trader or None, f"{len(cells)} fields, the header has {len(header)}"))
                continue
            row = {name: cells[i].strip() for i, name in enumerate(header)}
            try:
                parsed = _row(line, row, member, known)
            except ValueError as exc:
                bad.append(RowProblem(line, trader or None, str(exc)))
                continue
            if parsed.trader_id in first_line:
                bad.append(RowProblem(line, parsed.trader_id, f"{parsed.trader_id} is already on line "
                                      f"{first_line[parsed.trader_id]}; each trader once"))
                continue
            first_line[parsed.trader_id] = line
            good.append(parsed)
    except csv.Error as exc:
        raise NationalListError(f"the list cannot be read as CSV at line {rows.line_num}: {exc}") from None
    return good, bad


def _row(line: int, row: dict[str, str], member: str, known: frozenset[str]) -> NationalRow:
    trader = row["trader_id"].upper()
    if not valid_trader_id(trader):
        raise ValueError(f"trader_id {row['trader_id']!r} is not an AEO code (country code then national number, "
                         f"e.g. {member}0012345)")
    if trader[:2] != member:
        raise ValueError(f"{trader} is not a trader of {member}: its AEO code must start with {member}")
    category = row["category"].upper()
    if category not in CATEGORIES:
        raise ValueError(f"category {row['category']!r} is not one of {', '.join(CATEGORIES)}")
    dates = {}
    for name in ("effective", "expiry"):
        try:
            dates[name] = date.fromisoformat(row[name])
        except ValueError:
            raise ValueError(f"{name} {row[name]!r} is not a date (YYYY-MM-DD)") from None
    if dates["expiry"] < dates["effective"]:
        raise ValueError(f"expiry {dates['expiry']} is before the effective date {dates['effective']}")
    parts = {k: clean_text(row.get(k)) for k in ("address_line", "city", "postcode", "country")}
    address = None
    if any(parts.values()):
        if not (parts["address_line"] and parts["city"]):
            raise ValueError("an address needs at least address_line and city")
        country = (parts["country"] or member).upper()
        if len(country) != 2 or not country.isalpha():
            raise ValueError(f"country {parts['country']!r} is not a two-letter country code")
        address = Address(line=parts["address_line"], city=parts["city"], country=country,
                          postcode=parts["postcode"])
    consent = split_codes(row.get("consent", ""))
    strangers = [c for c in consent if c not in known]
    if strangers:
        raise ValueError(f"consent names {', '.join(strangers)}: not a member or partner of the network")
    return NationalRow(line=line, trader_id=trader, category=category, effective=dates["effective"],
                       expiry=dates["expiry"], name=clean_text(row.get("name")), address=address,
                       consent=tuple(c for c in consent if c != member))
