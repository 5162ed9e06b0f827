"""Coverage-guided fuzzing of the pipeline with atheris (libFuzzer): ``make fuzz`` runs it when atheris is installed.

    .venv/bin/pip install atheris        # Linux, CPython 3.11: a binary wheel
    .venv/bin/python -m tests.fuzz.atheris_pipeline -runs=200000 -max_len=65536 .state/fuzz-corpus

libFuzzer mutates the inputs that reach new code (in lxml's C and in the gateway's Python), starting from a
valid declaration and the hostile corpus; every input must pass the same checks as the hypothesis properties
(``tests/fuzz/test_pipeline_fuzz.py``). A failing input is written to ``crash-<hash>`` in the current folder;
replay it with the same command and the file name instead of the corpus folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

from gateway.config import load_settings
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.profiles import ProfileRegistry
from tests import hostile as H
from tests.fuzz.test_pipeline_fuzz import LIMITS, VALID, check

atheris.instrument_all()  # coverage feedback from every Python module loaded: the gateway's and lxml's wrappers

REPO = Path(__file__).resolve().parents[2]
_settings = load_settings(REPO / "config" / "network.yaml").model_copy(update={"gateway": LIMITS})
PIPELINE = Pipeline(build_stages(_settings, ProfileRegistry.load([REPO / "schemas"])), LIMITS)


def seed(corpus: Path) -> None:
    """Write the starting inputs into an empty corpus folder."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    seeds = [VALID, H.billion_laughs(), H.xxe_file(), H.deep_nesting(1000), H.utf16(True), H.lying_encoding_latin1(),
             H.wrong_namespace(), H.response_as_declaration(), H.many_item_errors(2000), H.invalid_utf8()]
    for i, data in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(data)


def one_input(data: bytes) -> None:
    check(PIPELINE, data)


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:] if not a.startswith("-") and not Path(a).is_file()]
    for folder in folders:
        seed(folder)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
