"""ASYCUDA World installations as data: layouts derived from real exports, the adapter's documents reshaped into
each installation's layout (every element path it writes occurs in that installation's real file, in its
sibling order), and the simulator refusing what the installation would not take."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from adapters.asycuda import AsycudaAdapter
from adapters.asycuda.layout import LAYOUTS_DIR, Layout, LayoutError, load_layout
from adapters.asycuda.mapping import AsycudaMapping
from adapters.asycuda.simulator.rates import DEFAULT_RATES, load_tariff
from adapters.asycuda.simulator.service import AsycudaSimulator
from adapters.asycuda.simulator.state import SimulatorState
from gateway.errors import ConfigError
from gateway.samples import make_declaration
from gateway.sdk.simkit import Controls

INTEROP = Path(__file__).resolve().parents[4] / "shared" / "interop" / "asycuda"
REFERENCES = {"jm-cbj250": INTEROP / "CBJ250.xml", "np-tia": INTEROP / "NP-sample.xml"}
SAMPLES = [dict(member=m, items=n, seed=s) for m, n, s in (("FJ", 1, 1), ("WS", 3, 2), ("TO", 5, 3), ("FJ", 12, 4))]


def reference(name: str) -> bytes:
    path = REFERENCES[name]
    if not path.exists():  # the shared folder is part of the checkout CI runs in: its absence is a failure
        pytest.fail(f"{path} is missing: ../shared/interop must sit beside the repository")
    return path.read_bytes()


def structure(root: etree._Element) -> tuple[set[str], dict[str, list[str]]]:
    """Every element path of a document (``<null/>`` left out), and per parent path its children's names in the
    order they first appear: read directly, without the layout code under test."""
    paths: set[str] = set()
    order: dict[str, list[str]] = {}

    def walk(element: etree._Element, path: str) -> None:
        paths.add(path)
        for child in element:
            if isinstance(child.tag, str) and child.tag != "null":
                seen = order.setdefault(path, [])
                if child.tag not in seen:
                    seen.append(child.tag)
                walk(child, f"{path}/{child.tag}")

    walk(root, "ASYCUDA")
    return paths, order


@pytest.mark.parametrize("name", sorted(REFERENCES))
class TestShippedLayouts:
    def test_each_is_what_its_real_export_gives(self, name: str) -> None:
        """The shipped files are derived, not edited by hand: deriving again gives the same layout."""
        derived = Layout.derive(reference(name), name=name, source=REFERENCES[name].name)
        assert load_layout(name) == derived

    def test_the_adapter_writes_only_paths_of_the_real_file_in_its_sibling_order(self, name: str) -> None:
        layout = load_layout(name)
        ref_paths, ref_order = structure(etree.fromstring(reference(name)))
        mapping = AsycudaMapping()
        for sample in SAMPLES:
            document = layout.apply(mapping(make_declaration(lrn="LAYOUT-1", **sample)).document)
            paths, order = structure(etree.fromstring(document))
            ours = {p for p in paths if p.split("/")[1:2] not in ([s] for s in layout.unseen)}
            assert ours <= ref_paths, sorted(ours - ref_paths)[:10]
            for parent, names in order.items():
                if parent not in ref_order:
                    continue  # a section the export did not show (unseen)
                known = [n for n in names if n in ref_order[parent]]
                positions = [ref_order[parent].index(n) for n in known]
                assert positions == sorted(positions), f"{parent}: {known} is not in the order of {REFERENCES[name].name}"
            assert layout.check(document) == []

    def test_its_real_export_conforms_and_the_other_installations_does_not(self, name: str) -> None:
        other = next(n for n in REFERENCES if n != name)
        assert load_layout(name).check(reference(name)) == []
        assert load_layout(name).check(reference(other)) != []


class TestReshaping:
    def test_empty_values_take_each_installations_form(self) -> None:
        """Nepal writes an empty office name as an empty element where Jamaica writes <null/> (say the exports);
        the same declaration becomes each installation's form."""
        document = AsycudaMapping()(make_declaration(member="FJ", lrn="EMPTY-1", items=2, seed=5)).document
        for name in REFERENCES:
            layout = load_layout(name)
            root = etree.fromstring(layout.apply(document))
            for path, form in layout.empty.items():
                for element in root.xpath("/" + path):
                    if (element.text or "").strip() or [c for c in element if c.tag != "null"]:
                        continue  # a value here: the empty form does not apply
                    written = "null" if [c.tag for c in element] == ["null"] else "empty" if len(element) == 0 else "?"
                    assert written == form, f"{name}: {path} written {written}, the installation writes {form}"

    def test_spellings_follow_the_installation(self) -> None:
        """An installation spelling a name with other case or doubled letters gets its own spelling."""
        layout = Layout(name="t", children={"ASYCUDA": ["Property"], "ASYCUDA/Property": ["Selected_Page"]})
        out = etree.fromstring(layout.apply(b"<ASYCUDA><Property><Selected_page>1</Selected_page></Property></ASYCUDA>"))
        assert out.findtext("Property/Selected_Page") == "1"

    def test_dates_take_the_installations_form(self) -> None:
        layout = Layout(name="t", children={"ASYCUDA": ["Property"], "ASYCUDA/Property": ["Date_of_declaration"]},
                        date_form="YYYY-MM-DD")
        out = etree.fromstring(layout.apply(
            b"<ASYCUDA><Property><Date_of_declaration>4/9/26</Date_of_declaration></Property></ASYCUDA>"))
        assert out.findtext("Property/Date_of_declaration") == "2026-04-09"

    def test_a_layout_file_with_a_wrong_value_is_refused_by_name(self) -> None:
        with pytest.raises(LayoutError, match="empty"):
            Layout.from_yaml("children: {ASYCUDA: [Property]}\nempty: {ASYCUDA/Property: blank}\n")
        with pytest.raises(LayoutError, match="shipped layouts: jm-cbj250, np-tia"):
            load_layout("atlantis")


class TestAdapterAndSimulator:
    def test_an_unknown_layout_stops_the_adapter_at_start_up(self) -> None:
        with pytest.raises(ConfigError, match="layout"):
            AsycudaAdapter("FJ", {"url": "http://127.0.0.1:1", "layout": "atlantis"})

    def test_the_simulator_refuses_a_document_of_another_installation(self) -> None:
        """A simulator with Nepal's layout registers the adapter's Nepal-shaped document and refuses the same
        declaration in Jamaica's shape, saying which elements it would not take."""
        tariff = load_tariff(DEFAULT_RATES)
        simulator = AsycudaSimulator("FJ", tariff, SimulatorState(path=None, controls=Controls()),
                                     layout=load_layout("np-tia"))
        document = AsycudaMapping()(make_declaration(member="FJ", lrn="SIM-1", items=3, seed=6)).document
        accepted = asyncio.run(simulator.submit(load_layout("np-tia").apply(document), key="np"))
        refused = asyncio.run(simulator.submit(load_layout("jm-cbj250").apply(document), key="jm"))
        assert accepted.accepted, accepted.document.decode()[:500]
        assert not refused.accepted and b"ASY-XML-LAYOUT" in refused.document

    def test_the_adapter_delivers_in_its_members_layout(self, tmp_path: Path) -> None:
        """End to end over HTTP: the adapter set to Nepal's layout, the simulator process checking it."""
        from tests.adapters.asycuda.conftest import SimulatorProcess
        from gateway.sdk import Declaration

        simulator = SimulatorProcess(tmp_path / "sim.log", "--layout", "np-tia").start()
        try:
            adapter = AsycudaAdapter("FJ", {"url": simulator.url, "layout": "np-tia"})
            payload = make_declaration(member="FJ", lrn="HTTP-1", items=2, seed=7)
            answer = asyncio.run(_deliver(adapter, Declaration(
                tracking_id="t-1", participant="fj-post", member="FJ", lrn="HTTP-1", function_code="9",
                idempotency_key="fj-post:HTTP-1:9:x", payload=payload)))
            assert answer.accepted and answer.registration is not None, answer
        finally:
            simulator.stop()


async def _deliver(adapter: AsycudaAdapter, declaration):  # type: ignore[no-untyped-def]
    try:
        return await adapter.deliver(declaration)
    finally:
        await adapter.aclose()


def test_the_layout_command_derives_and_explains(tmp_path: Path) -> None:
    out = tmp_path / "np.yaml"
    done = subprocess.run([sys.executable, "-m", "gateway", "asycuda", "layout", str(REFERENCES["np-tia"]), "--name",
                           "np-tia", "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Layout.from_yaml(out.read_text()) == load_layout("np-tia")
    bad = subprocess.run([sys.executable, "-m", "gateway", "asycuda", "layout", str(LAYOUTS_DIR / "np-tia.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
