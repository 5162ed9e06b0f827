"""Tests for gateway.samples: sample declarations are valid, sized as documented and reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.profiles import ProfileRegistry
from gateway.samples import make_declaration

ROOT = Path(__file__).resolve().parents[2]
ITEM_COUNTS = [1, 2, 5, 10, 25, 50, 75, 100]


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return ProfileRegistry.load([ROOT / "schemas"])


class TestMakeDeclaration:
    @pytest.mark.parametrize("type_code", ["IMA", "EXA"])
    @pytest.mark.parametrize("items", ITEM_COUNTS)
    def test_valid_for_every_item_count(self, registry: ProfileRegistry, items: int, type_code: str) -> None:
        """Imports and exports of 1 to 100 items validate against schemas/oco and declare their item count."""
        root = etree.fromstring(make_declaration(member="FJ", lrn=f"L-{items}", items=items, type_code=type_code,
                                                 aeo=[("FJAEO1234", "AEOF")], seed=items))
        profile = registry.select(root)
        assert profile.validate(root) == []
        assert root.findtext(".//{*}GoodsItemQuantity") == str(items)
        assert len(root.findall(".//{*}GovernmentAgencyGoodsItem")) == items

    def test_sizes_span_about_5_to_60_kb(self) -> None:
        """One item is about 4 to 5 KB, 100 items 55 to 75 KB, and size grows with the item count."""
        sizes = [len(make_declaration(member="FJ", lrn="L", items=n, seed=11)) for n in ITEM_COUNTS]
        assert 3_500 <= sizes[0] <= 5_500
        assert 50_000 <= sizes[-1] <= 75_000
        assert sizes == sorted(sizes)

    def test_same_seed_same_bytes(self) -> None:
        """A seed makes the output reproducible; another seed changes it."""
        one = make_declaration(member="WS", lrn="L", items=5, seed=42)
        assert one == make_declaration(member="WS", lrn="L", items=5, seed=42)
        assert one != make_declaration(member="WS", lrn="L", items=5, seed=43)

    def test_lrn_appears_once(self) -> None:
        """The LRN is written once, so a test can swap it in the bytes."""
        assert make_declaration(member="NZ", lrn="LRN-ONCE-1", items=30, seed=1).count(b"LRN-ONCE-1") == 1

    def test_routing_fields_follow_the_arguments(self, registry: ProfileRegistry) -> None:
        """Member, LRN, declarant, function code and AEO holders are what the caller asked for."""
        root = etree.fromstring(make_declaration(member="VU", lrn="VLI-1", declarant="VU7654321", function_code="13",
                                                 aeo=[("VUAEO1", "AEOC"), ("VUAEO2", "AEOS")], seed=3))
        routing = registry.select(root).extract(root)
        assert (routing.member, routing.lrn, routing.declarant, routing.function_code) == (
            "VU", "VLI-1", "VU7654321", "13")
        assert routing.declaration_id is not None
        assert [(h.trader_id, h.category) for h in routing.aeo_holders] == [("VUAEO1", "AEOC"), ("VUAEO2", "AEOS")]

    def test_unknown_member_still_gives_a_valid_document(self, registry: ProfileRegistry) -> None:
        """A code that is not a member (ZZ) is well-formed and schema-valid: refusing it is routing's job."""
        root = etree.fromstring(make_declaration(member="ZZ", lrn="L", seed=1))
        assert registry.select(root).validate(root) == []

    @pytest.mark.parametrize("items", [0, 1000])
    def test_item_count_outside_the_schema_is_refused(self, items: int) -> None:
        """The schema allows 1 to 999 goods items; other counts are a ValueError."""
        with pytest.raises(ValueError):
            make_declaration(member="FJ", lrn="L", items=items)

    def test_currencies_value_items_in_turn_with_their_rates(self, registry: ProfileRegistry) -> None:
        """currencies=("USD", "EUR"): item 1 in the member's currency, items 2 and 3 in USD and EUR (customs
        value and VAT base alike), each with an exchange rate; still valid for the profile."""
        root = etree.fromstring(make_declaration(member="FJ", lrn="L", items=4, seed=3, currencies=("USD", "EUR")))
        assert registry.select(root).validate(root) == []
        items = root.findall(".//{*}GovernmentAgencyGoodsItem")
        assert [i.find("{*}CustomsValueAmount").get("currencyID") for i in items] == ["FJD", "USD", "EUR", "FJD"]
        assert [i.find(".//{*}AdValoremTaxBaseAmount").get("currencyID") for i in items] == ["FJD", "USD", "EUR", "FJD"]
        assert sorted(e.text for e in root.iterfind(".//{*}CurrencyExchange/{*}CurrencyTypeCode")) == ["EUR", "USD"]

    @pytest.mark.parametrize("currencies", [("usd",), ("EURO",), ("AAA",) * 9])
    def test_currencies_must_be_iso_codes(self, currencies: tuple[str, ...]) -> None:
        """A currency that is not three capital letters, or more than 8 of them, is a ValueError."""
        with pytest.raises(ValueError):
            make_declaration(member="FJ", lrn="L", currencies=currencies)
