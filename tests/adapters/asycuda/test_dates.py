"""Tests for adapters.asycuda._dates: ASYCUDA's M/D/YY dates both ways."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from adapters.asycuda._dates import format_date, parse_date


class TestDates:
    @pytest.mark.parametrize(("day", "text"), [(date(2025, 11, 19), "11/19/25"), (date(2026, 3, 2), "3/2/26"),
                                               (datetime(2030, 1, 9, 17, 5), "1/9/30")])
    def test_format_has_no_leading_zeros(self, day: date, text: str) -> None:
        """Dates are written month/day/two-digit year without leading zeros."""
        assert format_date(day) == text

    @pytest.mark.parametrize(("text", "when"), [("11/19/25", datetime(2025, 11, 19)), ("3/2/26", datetime(2026, 3, 2)),
                                                ("03/02/2026", datetime(2026, 3, 2))])
    def test_parse(self, text: str, when: datetime) -> None:
        """M/D/YY (and M/D/YYYY) read back as midnight of that day in this century."""
        assert parse_date(text) == when

    @pytest.mark.parametrize("text", ["2026-03-02", "13/1/26", "3/2", ""])
    def test_parse_refuses_other_formats(self, text: str) -> None:
        """Anything else raises ValueError."""
        with pytest.raises(ValueError):
            parse_date(text)
