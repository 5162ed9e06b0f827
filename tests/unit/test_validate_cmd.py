"""Tests for gateway.cli.validate_cmd: ``oco-gateway validate FILE...`` offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.validate_cmd import validate
from gateway.responses import build_response

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
VALID = ["fj-import.xml", "ws-export-aeo.xml", "to-amendment.xml"]


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(validate, [str(a) for a in args])
    return result.exit_code, result.output


class TestValidateCommand:
    def test_valid_examples_exit_zero(self) -> None:
        """Each valid example prints `file: valid as oco/declaration (DEC)` and the command exits 0."""
        code, out = _run(*(EXAMPLES / name for name in VALID))
        assert code == 0, out
        assert out.splitlines() == [f"{EXAMPLES / name}: valid as oco/declaration (DEC)" for name in VALID]

    def test_invalid_example_prints_each_error_with_its_line(self) -> None:
        """The file's document type, then each schema error as one `file:line: message [code]` line; exits 1."""
        path = EXAMPLES / "vu-invalid.xml"
        code, out = _run(path)
        assert code == 1
        lines = out.splitlines()
        assert lines[0] == f"{path}: invalid as oco/declaration (DEC), 2 problems"
        assert lines[1].startswith(f"{path}:13: ") and lines[1].endswith("[SCHEMAV_CVC_MAXLENGTH_VALID]")
        assert lines[2].startswith(f"{path}:30: ") and "'1006'" in lines[2]
        assert len(lines) == 3

    def test_message_spanning_lines_is_printed_on_one(self, tmp_path: Path) -> None:
        """A libxml2 message quoting a value that spans lines still makes exactly one output line."""
        path = tmp_path / "multi-line.xml"
        path.write_bytes((EXAMPLES / "fj-import.xml").read_bytes().replace(
            b"<md:ResponsibleCountryCode>FJ<", b"<md:ResponsibleCountryCode>F\nJ\n\n  X<", 1))
        code, out = _run(path)
        lines = out.splitlines()
        assert code == 1 and lines[0].startswith(f"{path}: invalid as oco/declaration (DEC), ")
        assert len(lines) >= 2 and all(line.startswith(f"{path}:") and line.endswith("]") for line in lines[1:])
        assert any("F J X" in line for line in lines[1:])

    def test_malformed_example_is_reported_not_crashed(self) -> None:
        """A document that is not XML gets a not-well-formed line with libxml2's reason."""
        path = EXAMPLES / "pg-malformed.xml"
        code, out = _run(path)
        assert code == 1
        assert out.startswith(f"{path}:16: not well-formed XML:") and "[OCO-NOT-WELL-FORMED]" in out

    def test_one_bad_file_fails_the_run_but_all_are_checked(self) -> None:
        """Valid files after an invalid one are still checked and reported."""
        code, out = _run(EXAMPLES / "pg-malformed.xml", EXAMPLES / "fj-import.xml")
        assert code == 1 and out.splitlines()[-1].endswith("fj-import.xml: valid as oco/declaration (DEC)")

    def test_response_file_is_valid_as_res(self, tmp_path: Path) -> None:
        """A Response is checked against the RES schema and reported with kind RES."""
        path = tmp_path / "reply.xml"
        path.write_bytes(build_response(status="rejected", tracking_id="t-1", lrn="L", member="FJ"))
        assert _run(path) == (0, f"{path}: valid as oco/response (RES)\n")

    def test_declaration_without_member_fails_routing(self, tmp_path: Path) -> None:
        """A schema-valid declaration the gateway could not route is not reported valid."""
        path = tmp_path / "no-member.xml"
        path.write_bytes((EXAMPLES / "fj-import.xml").read_bytes().replace(
            b"<md:ResponsibleCountryCode>FJ</md:ResponsibleCountryCode>", b""))
        code, out = _run(path)
        assert code == 1 and "[OCO-MISSING-ROUTING-FIELD]" in out

    def test_profiles_option_is_repeatable(self) -> None:
        """Several --profiles folders load together: an HMRC sample validates next to an OCO one."""
        hmrc = ROOT.parent / "shared/interop/hmrc-dms/samples/annotated_XML_samples/TT_IM019a/TT_IM019a.xml"
        code, out = _run("--profiles", ROOT / "schemas", "--profiles", ROOT / "tests/profiles/hmrc-dms",
                         hmrc, EXAMPLES / "fj-import.xml")
        assert code == 0, out
        assert f"{hmrc}: valid as hmrc-dms/declaration (DEC)" in out

    def test_profile_option_picks_among_versions_and_names_the_document_kind(self) -> None:
        """With HMRC 2.x and 3.x loaded, a file is ambiguous until --profile picks the version to check it as."""
        samples = ROOT.parent / "shared/interop/hmrc-dms/samples/annotated_XML_samples"
        newer, cancel = samples / "TT_EX002b/TT_EX002b.xml", samples / "TT_EX010a/TT_EX010a_Cancellation.xml"
        both = ("--profiles", ROOT / "tests/profiles/hmrc-dms", "--profiles", ROOT / "tests/profiles/hmrc-dms-v2")
        code, out = _run(*both, newer)
        assert code == 1 and "[OCO-AMBIGUOUS-PROFILE]" in out and "--profile NAME" in out
        code, out = _run(*both, "--profile", "hmrc-dms", newer, cancel)
        assert code == 0, out
        assert out.splitlines() == [f"{newer}: valid as hmrc-dms/declaration (DEC)",
                                    f"{cancel}: valid as hmrc-dms/cancellation (DEC)"]
        code, out = _run(*both, "--profile", "hmrc-dms-v2", cancel)
        lines = out.splitlines()
        assert code == 1 and lines[0].startswith(f"{cancel}: invalid as hmrc-dms-v2/cancellation (DEC), ")
        assert all(line.startswith(f"{cancel}:") and "[SCHEMAV_" in line for line in lines[1:])

    def test_profiles_folder_defaults_to_env_variable(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without --profiles, OCO_PROFILES_DIR is used, and a folder with no profile is an error naming it."""
        monkeypatch.setenv("OCO_PROFILES_DIR", str(tmp_path))
        code, out = _run(EXAMPLES / "fj-import.xml")
        assert code == 1 and str(tmp_path) in out and "profile.yaml" in out

    def test_unreadable_file_is_reported(self, tmp_path: Path) -> None:
        """A path that cannot be read is one error line, not a traceback."""
        code, out = _run(tmp_path / "missing.xml")
        assert code == 1 and out.startswith(f"{tmp_path / 'missing.xml'}: cannot read")
