"""``oco-gateway sample``: a realistic declaration an adapter author can test with, valid for the oco profile."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main


class TestSample:
    def test_writes_a_declaration_the_gateway_accepts_with_its_items_and_aeo_holders(self, tmp_path: Path) -> None:
        out = tmp_path / "vu.xml"
        result = CliRunner().invoke(main, ["sample", "--member", "VU", "--items", "4", "--lrn", "VU-TEST-1",
                                           "--aeo", "WS0000042:AEOS", "--seed", "7", "--output", str(out)])
        assert result.exit_code == 0, result.output
        document = out.read_bytes()
        assert document.count(b"<GovernmentAgencyGoodsItem") == 4
        assert b"WS0000042" in document and b"VU-TEST-1" in document
        checked = CliRunner().invoke(main, ["validate", str(out)])
        assert checked.exit_code == 0 and "valid as oco/declaration" in checked.output, checked.output

    def test_same_seed_same_document_and_a_bad_holder_is_one_clear_line(self) -> None:
        runner = CliRunner()
        one = runner.invoke(main, ["sample", "--member", "FJ", "--seed", "3"]).stdout_bytes
        two = runner.invoke(main, ["sample", "--member", "FJ", "--seed", "3"]).stdout_bytes
        assert one == two and one.startswith(b"<?xml")
        bad = runner.invoke(main, ["sample", "--member", "FJ", "--aeo", "nobody"])
        assert bad.exit_code == 2 and "TRADER:CATEGORY" in bad.output and "Traceback" not in bad.output
