"""Tests the adapters' declaration model: built from profile paths, once, on the OCO samples and HMRC's."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from gateway import _sample_data as data
from gateway import headers as h
from gateway.config import default_profiles_dir
from gateway.delivery.worker import InRecord, MemberWorker
from gateway.errors import AdapterProtocolError, ProfileError
from gateway.profiles import ModelReaders, ProfileRegistry
from gateway.profiles._issues import element_path
from gateway.profiles._model import DEFAULT_PATHS, ModelReader
from gateway.samples import make_declaration
from gateway.sdk import (Adapter, Amount, Declaration, DeclarationModel, NationalAnswer, Quantity,
                         Registration)

ROOT = Path(__file__).resolve().parents[2]
HMRC = ROOT.parent / "shared" / "interop" / "hmrc-dms"
DEC = "urn:wco:datamodel:WCO:DEC-OCO:1"


@pytest.fixture(scope="module")
def readers() -> ModelReaders:
    return ModelReaders.load(default_profiles_dir())


def _declaration(payload: bytes, **kwargs: object) -> Declaration:
    return Declaration(payload=payload, member="FJ", participant="p", lrn="L", function_code="9", tracking_id="t",
                       idempotency_key="k", **kwargs)  # type: ignore[arg-type]


class TestOcoModel:
    def test_import_with_items_aeo_and_two_currencies(self, readers: ModelReaders) -> None:
        """An import's parties, references, AEO holders and items are read, each amount with its own currency."""
        xml = make_declaration(member="VU", lrn="VU-LRN-1", items=12, aeo=[("VU0001", "AEOF"), ("VU0002", "AEOS")],
                               seed=7, representative="VUREP9", declarant="VU7654321")
        model = readers(xml)
        root = etree.fromstring(xml)
        assert (model.function_code, model.type_code, model.lrn, model.customs_reference) == ("9", "IMA", "VU-LRN-1", None)
        assert model.declarant is not None and model.declarant.id == "VU7654321" and model.declarant.name
        assert model.declarant.address is not None and model.declarant.address.country == "VU"
        assert model.representative is not None and model.representative.id == "VUREP9"
        assert model.importer is not None and model.importer.id and model.importer.id.startswith("VU")
        assert model.exporter is not None and model.exporter.id is None and model.exporter.name
        assert [(a.trader_id, a.category) for a in model.aeo_holders] == [("VU0001", "AEOF"), ("VU0002", "AEOS")]
        assert model.office and model.office.startswith("VU") and model.exit_office is None
        assert isinstance(model.issued, datetime) and model.issued.tzinfo is timezone.utc
        assert model.arrival_transport is not None and model.arrival_transport.mode_code == "1"
        assert model.departure_transport is None
        assert model.goods_location is not None and model.goods_location.id == model.office[:5]
        assert model.destination_country == "VU"
        assert model.invoice_amount is not None and model.invoice_amount.currency == "USD"
        assert model.total_gross_mass is not None and model.total_gross_mass.unit == "KGM"
        assert [i.sequence for i in model.items] == list(range(1, 13))
        hs = [e.text for e in root.iter(f"{{{DEC}}}ID") if e.getparent().tag == f"{{{DEC}}}Classification"]
        assert [i.hs_code for i in model.items] == hs
        for item in model.items:
            assert item.customs_value is not None and item.customs_value.currency == data.member("VU").currency
            assert isinstance(item.customs_value.value, Decimal) and item.description and item.origin
            assert item.packages and item.gross_mass is not None and item.procedure == "4000"
        assert model.total_packages == sum(i.packages or 0 for i in model.items)
        assert model.xml == xml

    def test_export_and_amendment(self, readers: ModelReaders) -> None:
        """An export has its exit office and departure transport; an amendment its customs reference."""
        export = readers(make_declaration(member="FJ", lrn="E1", type_code="EXA", seed=3))
        assert export.exit_office and export.departure_transport is not None and export.arrival_transport is None
        assert all(not item.duty_tax for item in export.items)
        amended = readers(make_declaration(member="FJ", lrn="A1", function_code="13", seed=3))
        assert amended.function_code == "13" and amended.customs_reference and amended.customs_reference[2:4] == "FJ"

    def test_tax_lines_carry_their_own_currency(self, readers: ModelReaders) -> None:
        """A self-assessed tax in another currency than the customs value keeps its own currency and rate."""
        xml = make_declaration(member="FJ", lrn="T1", items=3, seed=11)
        root = etree.fromstring(xml)
        commodity = next(root.iter(f"{{{DEC}}}Commodity"))
        fee = next(commodity.iterchildren(f"{{{DEC}}}Classification"))
        fee.addnext(duty := etree.Element(f"{{{DEC}}}DutyTaxFee"))
        etree.SubElement(duty, f"{{{DEC}}}AdValoremTaxBaseAmount", currencyID="FJD").text = "1000.00"
        etree.SubElement(duty, f"{{{DEC}}}TaxRateNumeric").text = "15"
        etree.SubElement(duty, f"{{{DEC}}}TypeCode").text = "VAT"
        payment = etree.SubElement(duty, f"{{{DEC}}}Payment")
        etree.SubElement(payment, f"{{{DEC}}}TaxAssessedAmount", currencyID="USD").text = "68.10"
        # Where the WCO DM puts it, so it must still be valid against the OCO profile.
        profile = ProfileRegistry.load(default_profiles_dir()).select(root)
        assert profile.validate(root) == []
        model = readers(etree.tostring(root))
        vat = next(line for line in model.items[0].duty_tax if line.type_code == "VAT")
        assert vat.assessed == Amount(Decimal("68.10"), "USD") and vat.rate == Decimal("15")
        assert vat.base_amount == Amount(Decimal("1000.00"), "FJD")
        assert model.items[0].customs_value is not None and model.items[0].customs_value.currency == "FJD"

    def test_safe_parsing(self, readers: ModelReaders, tmp_path: Path) -> None:
        """A DTD entity pointing at a local file is not loaded into the model."""
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET")
        xml = make_declaration(member="FJ", lrn="XXE", seed=1).replace(
            b"<?xml version='1.0' encoding='UTF-8'?>",
            f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'.encode())
        xml = xml.replace(b"<FunctionalReferenceID>XXE<", b"<FunctionalReferenceID>XXE&x;<")
        model = readers(xml)
        assert "TOP-SECRET" not in repr(model.lrn)

    def test_unreadable_documents_are_protocol_errors(self, readers: ModelReaders) -> None:
        """A document no profile maps, or no XML at all, raises AdapterProtocolError (not retried)."""
        with pytest.raises(AdapterProtocolError):
            readers(b"<ASYCUDA/>")
        with pytest.raises(AdapterProtocolError):
            readers(b"not xml")


class TestDeclarationModelProperty:
    def test_built_lazily_and_once(self) -> None:
        """Declaration.model calls its reader on first use only, and once however often it is read."""
        calls: list[bytes] = []

        def reader(xml: bytes) -> DeclarationModel:
            calls.append(xml)
            return DeclarationModel(lrn="X", xml=xml)

        declaration = _declaration(b"<x/>", reader=reader)
        assert calls == []
        assert declaration.model is declaration.model and calls == [b"<x/>"]

    def test_default_reader_uses_the_shipped_profiles(self) -> None:
        """Without a reader (an adapter's own tests), the gateway's profiles folder is used."""
        declaration = _declaration(make_declaration(member="FJ", lrn="D1", items=2, seed=2))
        assert declaration.model.lrn == "D1" and len(declaration.model.items) == 2

    async def test_worker_hands_its_reader_to_adapters(self) -> None:
        """The delivery worker's Declaration carries the worker's model reader."""
        seen: list[DeclarationModel] = []

        class Reading(Adapter):
            NAME = "reading"

            async def deliver(self, declaration: Declaration) -> NationalAnswer:
                seen.append(declaration.model)
                return NationalAnswer(True, registration=Registration(reference="R1"))

            async def aclose(self) -> None:
                return None

        marker = DeclarationModel(lrn="from-the-worker's-reader")
        worker = MemberWorker("FJ", Reading("FJ", {}), clock=lambda: 2000.0,
                              models=lambda xml, profile=None: marker)
        payload = make_declaration(member="FJ", lrn="W1", seed=1)
        record = InRecord("oco.deliver.FJ", 0, 1, b"k", payload,
                          {h.PARTICIPANT: "fj-post", h.LRN: "W1", h.FUNCTION_CODE: "9", h.TRACKING_ID: "t"})
        decision = await worker.handle(record)
        assert decision.outcome == "accepted" and seen == [marker]

    def test_delivery_service_reads_with_its_profiles_folder(self, tmp_path: Path) -> None:
        """The delivery service's workers build models from the configured profiles_dir, `model:` paths included."""
        from gateway.config import load_settings  # noqa: PLC0415
        from gateway.delivery.service import DeliveryService  # noqa: PLC0415

        _oco_copy(tmp_path / "profiles", "oco", "model:\n  item.description: dec:Commodity/dec:Classification/dec:ID\n")
        (worker,) = DeliveryService(load_settings(_network(tmp_path))).workers
        record = InRecord("oco.deliver.FJ", 0, 1, b"k", make_declaration(member="FJ", lrn="S1", seed=4),
                          {h.PARTICIPANT: "fj-post", h.LRN: "S1", h.FUNCTION_CODE: "9"})
        model = worker._declaration(record, 1).model  # noqa: SLF001 - the Declaration an adapter would get
        assert model.lrn == "S1" and model.items[0].description == model.items[0].hs_code

    def test_the_profile_that_validated_a_declaration_reads_it(self, tmp_path: Path) -> None:
        """Two versions of one profile read the same root and payload with their own `model:` paths: the one
        named by the delivered record's `oco-profile` header reads it."""
        from gateway.profiles import ModelReaders  # noqa: PLC0415

        _oco_copy(tmp_path / "profiles", "oco", "")
        _oco_copy(tmp_path / "profiles", "oco-next",
                  "model:\n  item.description: dec:Commodity/dec:Classification/dec:ID\n")
        readers = ModelReaders.load(tmp_path / "profiles")
        xml = make_declaration(member="FJ", lrn="V1", seed=2)
        newer, older = readers(xml, "oco-next").items[0], readers(xml, "oco").items[0]
        assert newer.description == newer.hs_code
        assert older.description != older.hs_code
        assert readers(xml, "not-loaded-here").lrn == "V1"  # an unknown name falls back to the tags

    def test_delivery_service_refuses_a_wrong_model_path_at_start_up(self, tmp_path: Path) -> None:
        """A `model:` path that does not compile stops `oco-gateway deliver` at start-up, as it stops the gateway,
        not at the first declaration an adapter reads."""
        from gateway.config import load_settings  # noqa: PLC0415
        from gateway.delivery.service import DeliveryService  # noqa: PLC0415

        _oco_copy(tmp_path / "profiles", "oco", "model:\n  item.hs_code: 'dec:Commodity['\n")
        with pytest.raises(ProfileError, match="model.item.hs_code"):
            DeliveryService(load_settings(_network(tmp_path)))


class TestModelPaths:
    def test_descriptor_paths_override_defaults(self) -> None:
        """A profile's `model:` path replaces the default for that key only."""
        reader = ModelReader({"item.description": "dec:Commodity/dec:Classification/dec:ID"}, {}, f"{{{DEC}}}Declaration",
                             Path("profile.yaml"))
        model = reader.read(etree.fromstring(make_declaration(member="FJ", lrn="O1", seed=5)))
        assert model.items[0].description == model.items[0].hs_code and model.lrn == "O1"

    def test_wrong_paths_stop_loading(self, tmp_path: Path) -> None:
        """An unknown model key or an unusable path is a ProfileError at load, naming the key."""
        with pytest.raises(ProfileError, match="unknown key.*item.colour"):
            ModelReader({"item.colour": "dec:Colour"}, {}, None, Path("profile.yaml"))
        with pytest.raises(ProfileError, match="model.item.hs_code"):
            ModelReader({"item.hs_code": "dec:Commodity["}, {}, f"{{{DEC}}}Declaration", Path("profile.yaml"))
        profile = tmp_path / "oco"
        profile.mkdir()
        for f in default_profiles_dir().joinpath("oco").iterdir():
            profile.joinpath(f.name).write_bytes(f.read_bytes())
        with profile.joinpath("profile.yaml").open("a") as descriptor:
            descriptor.write("model:\n  items: 'x:Item'\n")
        with pytest.raises(ProfileError, match="model.items"):
            ProfileRegistry.load(profile)

    def test_pointers_name_the_elements_as_schema_errors_do(self, readers: ModelReaders) -> None:
        """The declaration's and each item's pointer, and a field's (pointer_to), are the element paths the
        gateway's schema errors use (element_path) of the very elements the model read."""
        payload = make_declaration(member="FJ", lrn="P1", items=3, seed=4)
        model, root = readers(payload), etree.fromstring(payload)
        items = root.findall(f".//{{{DEC}}}GovernmentAgencyGoodsItem")
        assert model.pointer == element_path(root.find(f"{{{DEC}}}Declaration")) == "/MetaData/Declaration"
        assert [i.pointer for i in model.items] == [element_path(e) for e in items]
        assert model.items[1].pointer == "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]"
        assert model.items[2].pointer_to("hs_code") == element_path(items[2].find(f".//{{{DEC}}}Classification/{{{DEC}}}ID"))
        assert model.items[0].pointer_to("customs_value") == element_path(items[0].find(f"{{{DEC}}}CustomsValueAmount"))
        assert model.pointer_to("office") == "/MetaData/Declaration/DeclarationOfficeID"
        assert model.pointer_to("declarant") == "/MetaData/Declaration/Declarant"

    def test_a_single_item_has_no_position(self, readers: ModelReaders) -> None:
        """One goods item: no [1], as element_path writes an element without same-named siblings."""
        model = readers(make_declaration(member="FJ", lrn="P2", items=1, seed=4))
        assert model.items[0].pointer == "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem"

    def test_pointer_to_follows_the_profile_and_refuses_unknown_fields(self) -> None:
        """A profile's own path moves the field's pointer; an XPath that is not a plain path points at the item;
        a name that is not a field is a KeyError (an adapter's typo, found at once)."""
        reader = ModelReader({"item.description": "dec:Commodity/dec:Classification/dec:ID",
                              "item.origin": "dec:Origin[1]/dec:CountryCode"}, {}, f"{{{DEC}}}Declaration",
                             Path("profile.yaml"))
        item = reader.read(etree.fromstring(make_declaration(member="FJ", lrn="P3", items=2, seed=5))).items[1]
        assert item.pointer_to("description") == f"{item.pointer}/Commodity/Classification/ID"
        assert item.pointer_to("origin") == item.pointer
        with pytest.raises(KeyError, match="colour"):
            item.pointer_to("colour")

    def test_every_default_key_is_documented_in_adapters_guide(self) -> None:
        """docs/adapters.md lists every key a descriptor's `model:` may set."""
        guide = (ROOT / "docs" / "adapters.md").read_text(encoding="utf-8")
        assert [key for key in DEFAULT_PATHS if f"`{key}`" not in guide] == []


def _hmrc_declarations() -> list[dict[str, str]]:
    table = HMRC / "samples.tsv"
    assert table.is_file(), f"{HMRC} is missing: clone the shared repository beside main (../shared)"
    with table.open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["kind"].startswith("DEC")
                and row["expected"] == "valid"]


class TestHmrcModel:
    def test_every_valid_declaration_gets_a_model(self) -> None:
        """Each valid HMRC declaration sample gets a model agreeing with its routing fields."""
        readers = ModelReaders.load([ROOT / "schemas", ROOT / "tests" / "profiles" / "hmrc-dms"])
        rows = _hmrc_declarations()
        assert rows
        for row in rows:
            model = readers((HMRC / row["file"]).read_bytes())
            assert model.lrn and model.type_code == row["type_code"], row["file"]
            assert all(i.sequence for i in model.items), row["file"]

    def test_descriptor_paths_read_dms_items(self) -> None:
        """HMRC's descriptor picks the TSP commodity code and the item price; tax lines keep their currency."""
        readers = ModelReaders.load([ROOT / "schemas", ROOT / "tests" / "profiles" / "hmrc-dms"])
        model = readers((HMRC / "samples/annotated_XML_samples/TT_IM050a/TT_IM050a.xml").read_bytes())
        item = model.items[0]
        assert (item.hs_code, item.origin, item.packages) == ("87087010", "US", 55)
        assert item.customs_value == Amount(Decimal("20000"), "GBP")
        a00 = next(line for line in item.duty_tax if line.type_code == "A00")
        assert a00.assessed == Amount(Decimal("400"), "GBP") and a00.base_quantity == Quantity(Decimal("20000"), "GBP")


def _oco_copy(folder: Path, name: str, extra: str) -> None:
    """Copy the shipped oco profile into ``folder/name`` under that name, with ``extra`` added to its descriptor."""
    target = folder / name
    target.mkdir(parents=True)
    for f in default_profiles_dir().joinpath("oco").iterdir():
        target.joinpath(f.name).write_bytes(f.read_bytes())
    descriptor = target / "profile.yaml"
    descriptor.write_text(descriptor.read_text().replace("name: oco\n", f"name: {name}\n", 1) + extra)


def _network(tmp_path: Path) -> Path:
    """A network file whose profiles are ``tmp_path/profiles`` and whose member FJ delivers through asycuda."""
    network = tmp_path / "network.yaml"
    network.write_text(f"kafka: {{bootstrap_servers: '127.0.0.1:1'}}\nprofiles_dir: {tmp_path / 'profiles'}\n"
                       "participants: {fj-post: {name: P}}\nmembers:\n  FJ: {name: Fiji, submitters: [fj-post], "
                       "adapter: {name: asycuda, settings: {url: 'http://127.0.0.1:1'}}}\n")
    return network
