"""Tests for adapters.asycuda.mapping: WCO DM declarations become ASYCUDA World XML as real files write it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from adapters.asycuda.mapping import AsycudaMapping, MappingError
from gateway.samples import make_declaration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TOP_LEVEL = ["Export_release", "Assessment_notice", "Global_taxes", "Property", "Identification", "Traders",
             "Declarant", "General_information", "Transport", "Financial", "Warehouse", "Transit", "Valuation",
             "Container", "Item"]
DEC = "{urn:wco:datamodel:WCO:DEC-OCO:1}"
AEO = [("FJAEO0001234", "AEOF"), ("NZAEO0987", "AEOS")]
SAMPLES = {f"{items} item(s){' with AEO holders' if aeo else ''}": (items, aeo)
           for items, aeo in ((1, []), (5, AEO), (50, AEO))}


def element_paths(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Yield (path, element) for every element, paths as in element-paths.txt (no positions)."""

    def walk(element: etree._Element, prefix: str) -> Iterator[tuple[str, etree._Element]]:
        path = f"{prefix}/{element.tag}" if prefix else str(element.tag)
        yield path, element
        for child in element:
            yield from walk(child, path)

    return walk(root, "")


@pytest.fixture(params=list(SAMPLES), scope="module")
def sample(request: pytest.FixtureRequest) -> tuple[etree._Element, etree._Element]:
    """A sample declaration (1, 5 or 50 items, with and without AEO holders) and its ASYCUDA mapping."""
    items, aeo = SAMPLES[request.param]
    payload = make_declaration(member="FJ", lrn=f"MAP-{items}", items=items, aeo=aeo, seed=items)
    return etree.fromstring(payload), etree.fromstring(AsycudaMapping()(payload).document)


class TestAsycudaMapping:
    def test_every_element_path_is_one_real_files_have(self, sample: tuple[etree._Element, etree._Element],
                                                       asycuda_paths: frozenset[str]) -> None:
        """Every element path written appears in the paths seen across real ASYCUDA World files."""
        _, asycuda = sample
        unknown = sorted({path for path, _ in element_paths(asycuda)} - asycuda_paths)
        assert unknown == []

    def test_top_level_order_is_the_reference_order(self, sample: tuple[etree._Element, etree._Element]) -> None:
        """Top-level sections come in ASYCUDA's order, items last, under a namespace-less ASYCUDA root."""
        _, asycuda = sample
        names = [child.tag for child in asycuda]
        assert asycuda.tag == "ASYCUDA" and asycuda.nsmap == {}
        assert names == sorted(names, key=TOP_LEVEL.index)
        assert names[:13] == TOP_LEVEL[:13]

    def test_empty_values_are_null_where_asycuda_writes_null(self, sample: tuple[etree._Element, etree._Element],
                                                             asycuda_paths: frozenset[str]) -> None:
        """An empty field is a <null/> child where real files have one there, an empty element elsewhere."""
        _, asycuda = sample
        for path, element in element_paths(asycuda):
            if element.tag == "null":
                assert len(element) == 0 and not element.text
                assert len(element.getparent()) == 1 and not (element.getparent().text or "").strip(), path
            elif len(element) == 0 and not (element.text or "").strip():
                assert f"{path}/null" not in asycuda_paths, f"{path} is empty but ASYCUDA writes <null/> there"

    def test_dates_are_m_d_yy(self, sample: tuple[etree._Element, etree._Element]) -> None:
        """Dates are month/day/two-digit year without leading zeros, taken from the WCO dates."""
        declaration, asycuda = sample
        issued = declaration.findtext(f".//{DEC}IssueDateTime/{{*}}DateTimeString")
        expected = f"{int(issued[4:6])}/{int(issued[6:8])}/{issued[2:4]}"
        assert asycuda.findtext("Property/Date_of_declaration") == expected
        dates = [e.text for path, e in element_paths(asycuda) if path.endswith("date") or path.endswith("Date")
                 or path.endswith("Date_of_declaration")]
        assert dates and all(re.fullmatch(r"(1[0-2]|[1-9])/([12]\d|3[01]|[1-9])/\d\d", d) for d in dates if d)

    def test_values_are_carried_over(self, sample: tuple[etree._Element, etree._Element]) -> None:
        """LRN, office, declarant, counts, invoice amount and currency, and each item's HS code and weight
        arrive where ASYCUDA reads them."""
        declaration, asycuda = sample
        dec = declaration.find(f"{DEC}Declaration")
        items = dec.findall(f".//{DEC}GovernmentAgencyGoodsItem")
        assert asycuda.findtext("Declarant/Reference/Number") == dec.findtext(f"{DEC}FunctionalReferenceID")
        assert asycuda.findtext("Declarant/Declarant_code") == dec.findtext(f"{DEC}Declarant/{DEC}ID")
        assert asycuda.findtext("Identification/Office_segment/Customs_clearance_office_code") == dec.findtext(
            f"{DEC}DeclarationOfficeID")
        assert asycuda.findtext("Property/Nbers/Total_number_of_items") == str(len(items))
        assert asycuda.findtext("Property/Nbers/Total_number_of_packages") == dec.findtext(f"{DEC}TotalPackageQuantity")
        invoice = dec.find(f"{DEC}InvoiceAmount")
        assert Decimal(asycuda.findtext("Valuation/Gs_Invoice/Amount_foreign_currency")) == Decimal(invoice.text)
        assert asycuda.findtext("Valuation/Gs_Invoice/Currency_code") == invoice.get("currencyID")
        mapped = asycuda.findall("Item")
        assert len(mapped) == len(items)
        for item, source in zip(mapped, items, strict=True):
            hs = source.findtext(f"{DEC}Commodity/{DEC}Classification/{DEC}ID")
            assert item.findtext("Tarification/HScode/Commodity_code") == hs[:8]
            assert item.findtext("Goods_description/Description_of_goods") == source.findtext(
                f"{DEC}Commodity/{DEC}Description")
            assert item.findtext("Goods_description/Country_of_origin_code") == source.findtext(
                f"{DEC}Origin/{DEC}CountryCode")
            assert item.findtext("Valuation_item/Weight_itm/Gross_weight_itm") == source.findtext(
                f".//{DEC}GrossMassMeasure")
            assert item.findtext("Valuation_item/Total_CIF_itm") == source.findtext(f"{DEC}CustomsValueAmount")
        shares = sum(Decimal(i.findtext("Valuation_item/Item_Invoice/Amount_foreign_currency")) for i in mapped)
        assert abs(shares - Decimal(invoice.text)) <= Decimal("0.01") * len(mapped)  # apportioned, rounded

    def test_aeo_holders_travel_as_attached_documents(self, sample: tuple[etree._Element, etree._Element]) -> None:
        """Each authorisation holder is an attached document of every item: category as code, id as reference."""
        declaration, asycuda = sample
        holders = [(h.findtext(f"{DEC}CategoryCode"), h.findtext(f"{DEC}ID"))
                   for h in declaration.iter(f"{DEC}AuthorisationHolder")]
        for item in asycuda.iterfind("Item"):
            attached = [(d.findtext("Attached_document_code"), d.findtext("Attached_document_reference"))
                        for d in item.iterfind("Attached_documents")]
            assert all(holder in attached for holder in holders)
            assert ("380", declaration.findtext(f".//{DEC}Invoice/{DEC}ID")) in attached


class TestAsycudaMappingDetails:
    @pytest.mark.parametrize(("type_code", "kind", "procedure", "flow"), [("IMA", "IM", "4", "I"),
                                                                           ("EXA", "EX", "1", "E")])
    def test_type_code_becomes_asycuda_model(self, type_code: str, kind: str, procedure: str, flow: str) -> None:
        """A WCO type code becomes ASYCUDA's type of declaration and general procedure (IM 4, EX 1)."""
        payload = make_declaration(member="WS", lrn="T-1", items=2, type_code=type_code, seed=3)
        asycuda = etree.fromstring(AsycudaMapping()(payload).document)
        assert asycuda.findtext("Identification/Type/Type_of_declaration") == kind
        assert asycuda.findtext("Identification/Type/Declaration_gen_procedure_code") == procedure
        assert asycuda.findtext("Property/Sad_flow") == flow

    def test_example_with_every_optional_field(self, asycuda_paths: frozenset[str]) -> None:
        """The Fiji example's marks, net weight, valuation method and excise base reach their ASYCUDA fields,
        written with ASYCUDA's own spellings."""
        document = AsycudaMapping()((EXAMPLES / "fj-import.xml").read_bytes())
        asycuda = etree.fromstring(document.document)
        first, second = asycuda.findall("Item")
        assert first.findtext("Packages/Marks1_of_packages") == "KDE/SUV/1-120"
        assert first.findtext("Valuation_item/Weight_itm/Net_weight_itm") == "3000.000"
        assert first.findtext("Tarification/Valuation_method_code") == "1"
        unit = second.find("Tarification/Supplementary_unit")
        assert (unit.findtext("Suppplementary_unit_code"), unit.findtext("Suppplementary_unit_quantity")) == (
            "LTR", "427.680")
        assert asycuda.find("Financial/Deffered_payment_reference/null") is not None
        assert asycuda.findtext("Transport/Means_of_transport/Border_information/Identity") == "Coral Trader"
        assert asycuda.findtext("Transport/Means_of_transport/Border_information/Nationality") == "SG"
        assert asycuda.findtext("Valuation/Gs_Invoice/Currency_rate") == "2.2415"
        assert {path for path, _ in element_paths(asycuda)} <= asycuda_paths

    def test_amendment_refers_to_the_declaration_it_amends(self) -> None:
        """An amendment's customs reference becomes each item's previous document reference."""
        payload = make_declaration(member="TO", lrn="A-1", items=1, function_code="13", seed=4)
        declaration_id = etree.fromstring(payload).findtext(f".//{DEC}Declaration/{DEC}ID")
        asycuda = etree.fromstring(AsycudaMapping()(payload).document)
        assert asycuda.findtext("Item/Previous_doc/Previous_document_reference") == declaration_id

    @pytest.mark.parametrize("payload", [b"<not xml", b"<Declaration/>"])
    def test_unusable_input_is_a_mapping_error(self, payload: bytes) -> None:
        """Input that is not XML, or not a WCO DM declaration, raises MappingError (never an lxml error)."""
        with pytest.raises(MappingError):
            AsycudaMapping()(payload)
