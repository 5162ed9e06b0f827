"""Tests a real foreign profile, UK HMRC's WCO DM 3.6 (DMS 2), loaded from a descriptor alone.

Every sample of ``../shared/interop/hmrc-dms/samples.tsv`` must get its expected verdict through the
registry and the gateway's own stages. The samples live beside the repository (CI clones ``shared`` next to
``main``); when they are missing the tests fail, they do not skip.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import SchemaInvalid, Unreadable
from gateway.pipeline.context import Submission
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry

ROOT = Path(__file__).resolve().parents[2]
HMRC = ROOT.parent / "shared" / "interop" / "hmrc-dms"
DESCRIPTOR = ROOT / "tests" / "profiles" / "hmrc-dms"
MISSING = f"{HMRC} is missing: clone the shared repository beside main (../shared) to run these tests"
# samples.tsv kind -> the descriptor's document type that must read it
DOCUMENT = {"DEC": "declaration", "DEC-amend/13": "declaration", "DEC-cancel": "cancellation", "RES": "notification"}


def _samples() -> list[Any]:
    table = HMRC / "samples.tsv"
    if not table.is_file():
        return [pytest.param(None, id="shared-missing")]
    with table.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [pytest.param(row, id=Path(row["file"]).name) for row in rows]


@pytest.fixture(scope="module")
def stages() -> tuple[SafeParser, ProfileSelector] | None:
    if not HMRC.is_dir():
        return None  # the test itself fails with MISSING: a failure, not a setup error or a skip
    registry = ProfileRegistry.load([ROOT / "schemas", DESCRIPTOR])
    assert registry.names == ("oco", "hmrc-dms")
    return SafeParser(16 * 1024 * 1024), ProfileSelector(registry)


class TestHmrcProfile:
    @pytest.mark.parametrize("row", _samples())
    def test_sample_gets_its_expected_verdict(self, row: dict[str, str] | None,
                                              stages: tuple[SafeParser, ProfileSelector] | None) -> None:
        """The sample is valid, invalid or not well-formed exactly as samples.tsv says, read by the right
        HMRC document type, and a valid declaration yields its routing fields."""
        assert row is not None and stages is not None, MISSING
        parse, identify = stages
        submission = Submission(payload=(HMRC / row["file"]).read_bytes(), participant="gb-trader", tracking_id="t")
        if row["expected"] == "not-well-formed":
            with pytest.raises(Unreadable) as refused:
                parse(submission)
            assert refused.value.issues[0].code == "OCO-NOT-WELL-FORMED"
            return
        identify(parse(submission))
        assert submission.profile is not None and submission.profile.name == "hmrc-dms"
        if row["expected"] == "invalid":
            with pytest.raises(SchemaInvalid) as invalid:
                validate_schema(submission)
            assert all(i.code.startswith("SCHEMAV_") and i.line and i.path for i in invalid.value.issues)
            return
        assert row["expected"] == "valid"
        validate_schema(submission)
        assert submission.profile.document == DOCUMENT[row["kind"]]
        if submission.profile.kind == "DEC":
            routing = extract_routing(submission).routing
            assert routing is not None and routing.member == "GB" and routing.lrn
            assert routing.function_code == ("13" if row["kind"] != "DEC" else "9")
            assert routing.type_code == row["type_code"]

    def test_gateway_code_names_no_hmrc_namespace(self) -> None:
        """Supporting HMRC took a descriptor only: no gateway module mentions a DMS namespace."""
        offenders = [p for p in (ROOT / "gateway").rglob("*.py") if "-DMS:" in p.read_text(encoding="utf-8")]
        assert offenders == []
