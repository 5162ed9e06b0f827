"""The simulator's rate table (``rates.yaml``): duties by HS chapter or heading, excise, VAT, offices."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_RATES", "HS_CHAPTERS", "MemberRates", "Tariff", "load_tariff"]

DEFAULT_RATES = Path(__file__).with_name("rates.yaml")
HS_CHAPTERS = frozenset(f"{n:02d}" for n in range(1, 98)) - {"77"}
"""Chapters of the Harmonized System: 01 to 97, 77 reserved. Any other chapter is not in the tariff."""


@dataclass(frozen=True, slots=True)
class MemberRates:
    """One administration: currency, VAT percent, declaration fee and its customs offices (code to name)."""

    currency: str
    vat: Decimal
    fee: Decimal
    offices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tariff:
    """Percent rates, as in ``rates.yaml``."""

    duty_default: Decimal
    duty_chapters: dict[str, Decimal]
    duty_headings: dict[str, Decimal]
    preferences: dict[str, Decimal]
    excise: dict[str, Decimal]
    members: dict[str, MemberRates]

    def duty_rate(self, hs: str, preference: str = "") -> Decimal:
        """Return the customs duty percent for an 8-digit commodity code.

        Args:
            hs: the commodity code.
            preference: the preference claimed (``PIC``...), '' for none.
        """
        if preference in self.preferences:
            return self.preferences[preference]
        return self.duty_headings.get(hs[:4], self.duty_chapters.get(hs[:2], self.duty_default))

    def excise_rate(self, hs: str) -> Decimal:
        """Return the excise percent for a commodity code (0 when none is due).

        Args:
            hs: the commodity code.
        """
        return self.excise.get(hs[:4], Decimal(0))


def load_tariff(path: Path = DEFAULT_RATES) -> Tariff:
    """Read a rate table.

    Args:
        path: the YAML file; the shipped ``rates.yaml`` by default.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not a rate table (the message names the key).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        duty = data["customs_duty"]
        members = {code: MemberRates(currency=str(m["currency"]), vat=_pct(m["vat"]), fee=_pct(m.get("fee", 0)),
                                     offices={str(k): str(v) for k, v in (m.get("offices") or {}).items()})
                   for code, m in data["members"].items()}
        return Tariff(duty_default=_pct(duty["default"]), duty_chapters=_rates(duty.get("chapters")),
                      duty_headings=_rates(duty.get("headings")), preferences=_rates(data.get("preferences")),
                      excise=_rates(data.get("excise")), members=members)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"{path} is not a rate table ({type(exc).__name__}: {exc}); see {DEFAULT_RATES}") from exc


def _pct(value: Any) -> Decimal:
    return Decimal(str(value))


def _rates(table: dict[Any, Any] | None) -> dict[str, Decimal]:
    return {str(key): _pct(value) for key, value in (table or {}).items()}
