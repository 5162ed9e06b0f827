"""Tests the benchmark's declaration-model measurement and its diagnostics line."""

from __future__ import annotations

from bench.corpus import generate_corpus
from bench.model import declaration_model, model_cost
from bench.report import Latency, Measurement
from gateway.config import default_profiles_dir
from gateway.profiles import ModelReaders


class TestDeclarationModelBench:
    def test_measures_every_declaration(self) -> None:
        """Each declaration of the corpus is built once and timed, with percentiles."""
        corpus = generate_corpus(30, seed=5, max_kb=10.0)
        measured = declaration_model(corpus, ModelReaders.load(default_profiles_dir()))
        assert measured.key == "declaration_model" and measured.count == 30
        assert measured.latency is not None and measured.latency.count == 30

    def test_cost_line_compares_with_parse_validate(self) -> None:
        """The diagnostics line gives median and p99, and their ratios to parse+validate of the same run."""
        model = Measurement("declaration_model", "m", 10, 1.0, Latency(10, 1.0, 3.0, 4.0, 1.2))
        pv = Measurement("parse_validate", "pv", 10, 1.0, Latency(10, 0.5, 2.0, 2.5, 0.6))
        assert model_cost(model, pv) == ("median 1.00 ms, p99 3.00 ms per declaration; 2.00x parse+validate's "
                                         "median (0.50 ms), 1.50x its p99 (2.00 ms)")
        assert model_cost(model, None) == "median 1.00 ms, p99 3.00 ms per declaration"
