"""ASYCUDA World's date format, M/D/YY without leading zeros (11/19/25), both ways."""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["format_date", "parse_date"]


def format_date(when: date) -> str:
    """Return ``when`` as ASYCUDA writes dates: month/day/two-digit year, no leading zeros.

    Args:
        when: the date (a datetime's time is dropped).
    """
    return f"{when.month}/{when.day}/{when.year % 100:02d}"


def parse_date(text: str) -> datetime:
    """Read an ASYCUDA date (``11/19/25``; four-digit years are accepted too) as midnight of that day.

    Two-digit years are 20YY: ASYCUDA World went live in this century.

    Args:
        text: the element text.

    Raises:
        ValueError: not an M/D/YY date.
    """
    parts = text.strip().split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not an ASYCUDA date (M/D/YY)")
    month, day, year = (int(p) for p in parts)
    return datetime(year + 2000 if year < 100 else year, month, day)
