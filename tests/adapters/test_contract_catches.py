"""The contract suite catches what it claims to: run against adapters with their timeout removed or their
duplicate flag never set, exactly those cases fail (with a message that says why), while the same adapters
unbroken pass. The broken adapters are in ``tests/adapters/mutants/broken_adapters.py``, run by pytest in a
subprocess (the wco-xml adapter over real HTTP against its simulator, and the FakeAdapter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "tests" / "adapters" / "mutants" / "broken_adapters.py"
CASES = ("test_timeout_is_unavailable", "test_duplicate_delivery_registers_once")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """(class, test) -> "passed" or the failure message, for the timeout and duplicate cases of every class."""
    report = tmp_path_factory.mktemp("mutants") / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(MUTANTS),
                           "-k", " or ".join(CASES), f"--junitxml={report}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert report.exists(), f"the mutants' run produced no report:\n{done.stdout}\n{done.stderr}"
    found: dict[tuple[str, str], str] = {}
    for case in ET.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        found[(case.get("classname", "").rpartition(".")[2], case.get("name", ""))] = (
            "passed" if problem is None else problem.get("message", "") + (problem.text or ""))
    return found


@pytest.mark.slow
class TestContractCatches:
    @pytest.mark.parametrize("kind", ["Wco", "Fake"])
    def test_correct_adapters_pass(self, outcomes: dict[tuple[str, str], str], kind: str) -> None:
        """The unbroken wco-xml adapter and FakeAdapter pass the timeout and duplicate cases."""
        assert [outcomes.get((f"Test{kind}Correct", case)) for case in CASES] == ["passed", "passed"]

    @pytest.mark.parametrize("kind", ["Wco", "Fake"])
    def test_a_missing_timeout_fails_fast_and_says_so(self, outcomes: dict[tuple[str, str], str], kind: str) -> None:
        """With the adapter's timeout removed the timeout case fails (within its bound, not after the system's
        60 s) saying the adapter has no timeout of its own; the duplicate case still passes."""
        failure = outcomes.get((f"Test{kind}NoTimeout", "test_timeout_is_unavailable"), "missing")
        assert "no timeout of its own" in failure
        assert outcomes.get((f"Test{kind}NoTimeout", "test_duplicate_delivery_registers_once")) == "passed"

    @pytest.mark.parametrize("kind", ["Wco", "Fake"])
    def test_a_missing_duplicate_flag_fails(self, outcomes: dict[tuple[str, str], str], kind: str) -> None:
        """With NationalAnswer.duplicate never set the duplicate case fails, naming the flag; the timeout case
        still passes."""
        failure = outcomes.get((f"Test{kind}NoDuplicateFlag", "test_duplicate_delivery_registers_once"), "missing")
        assert "duplicate=False" in failure
        assert outcomes.get((f"Test{kind}NoDuplicateFlag", "test_timeout_is_unavailable")) == "passed"
