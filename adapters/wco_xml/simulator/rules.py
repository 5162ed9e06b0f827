"""How a simulated national system judges a declaration: the OCO profile's XSD, then its own business rules.

Schema-valid is not accepted: like a real customs system, the simulator also refuses a declaration meant for
another administration, or one whose declarant is not of a pattern it knows (``<MEMBER>`` + 7 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from gateway.config import default_profiles_dir
from gateway.errors import Issue, Rejection
from gateway.pipeline.context import Submission
from gateway.pipeline.parse import SafeParser
from gateway.profiles import ProfileRegistry

__all__ = ["DeclarationJudge", "GST_RATE", "Verdict"]

GST_RATE = Decimal("0.15")
"""Goods and services tax the simulator assesses on the customs value (New Zealand's rate)."""
_MAX_BYTES = 4 * 1024 * 1024
_VALUES = etree.XPath("//*[local-name()='GovernmentAgencyGoodsItem']/*[local-name()='CustomsValueAmount']")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of judging one declaration.

    Attributes:
        issues: why it is refused; empty when it may be registered.
        lrn: the trader's reference, when it could be read.
        gst: the tax to assess, (amount, currency) per currency the customs values are in (in order of first
            appearance): a value in USD is taxed in USD, never added to one in NZD; empty without customs values.
        declarant: the declarant's id, when it could be read.
        function_code: 9 original, 13 amendment or cancellation, when it could be read.
    """

    issues: tuple[Issue, ...]
    lrn: str | None = None
    gst: tuple[tuple[Decimal, str], ...] = ()
    declarant: str | None = None
    function_code: str | None = None


class DeclarationJudge:
    """Judge declarations for one member against the loaded profiles and the business rules.

    Args:
        member: the member this simulated system serves.
        profiles_dir: the profiles folder; default the gateway's (``OCO_PROFILES_DIR`` or ``schemas/``).
        prefix: the business-rule codes' prefix (``TSW``: ``TSW-WRONG-MEMBER``...).

    Raises:
        ProfileError: the profiles cannot be loaded.
    """

    def __init__(self, member: str, profiles_dir: str | Path | None = None, *, prefix: str = "TSW") -> None:
        self.member = member
        self.prefix = prefix
        self.registry = ProfileRegistry.load(profiles_dir or default_profiles_dir())
        self._parse = SafeParser(_MAX_BYTES)
        self._declarant = re.compile(rf"{re.escape(member)}[0-9]{{7}}")

    def __call__(self, payload: bytes) -> Verdict:
        """Judge one posted document.

        Args:
            payload: the request body.
        """
        try:
            root = self._parse(Submission(payload=payload, participant="", tracking_id="")).document
            profile = self.registry.select(root)
            if profile.kind != "DEC":
                return Verdict((Issue(f"{self.prefix}-NOT-A-DECLARATION", f"a {profile.label} document was posted; "
                                                               "only declarations can be lodged"),))
            schema_issues = profile.validate(root)
            if schema_issues:
                return Verdict(tuple(schema_issues))
            fields = profile.extract(root)
        except Rejection as exc:  # unreadable, unknown profile, missing routing field
            return Verdict(tuple(exc.issues))
        issues = []
        if fields.member != self.member:
            issues.append(Issue(f"{self.prefix}-WRONG-MEMBER", f"this is the customs system of {self.member}; the "
                                f"declaration is addressed to {fields.member}",
                                path="/md:MetaData/md:ResponsibleCountryCode"))
        if not fields.declarant or not self._declarant.fullmatch(fields.declarant):
            issues.append(Issue(f"{self.prefix}-UNKNOWN-DECLARANT", f"declarant {fields.declarant!r} is not registered "
                                f"with {self.member} customs (expected {self.member} and 7 digits)",
                                path="/md:MetaData/dec:Declaration/dec:Declarant/dec:ID"))
        return Verdict(tuple(issues), lrn=fields.lrn, gst=_gst(root), declarant=fields.declarant,
                       function_code=fields.function_code)


def _gst(root: etree._Element) -> tuple[tuple[Decimal, str], ...]:
    totals: dict[str, Decimal] = {}
    for value in _VALUES(root):
        currency = value.get("currencyID")
        if not currency:
            continue
        try:
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(value.text or "0")
        except InvalidOperation:
            continue  # the XSD already checked the amounts; nothing unreadable gets here
    return tuple(((total * GST_RATE).quantize(Decimal("0.01")), currency) for currency, total in totals.items())
