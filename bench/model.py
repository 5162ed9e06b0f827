"""What the adapters' declaration model costs: building ``Declaration.model`` for each declaration of the corpus."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.corpus import Declaration
from bench.report import Latency, Measurement
from gateway.profiles import ModelReaders

__all__ = ["declaration_model", "model_cost"]

_WARM_UP = 20


def declaration_model(corpus: Sequence[Declaration], readers: ModelReaders) -> Measurement:
    """Build the model of every declaration in this thread, as an adapter's first ``declaration.model`` does.

    Timed per declaration: the re-parse of the delivered bytes (the worker has no tree) and every path.

    Args:
        corpus: the declarations.
        readers: the profiles' model readers.
    """
    for d in corpus[:_WARM_UP]:
        readers(d.payload)
    samples = []
    started = time.perf_counter()
    for d in corpus:
        t0 = time.perf_counter()
        readers(d.payload)
        samples.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    return Measurement("declaration_model", "    declaration model (adapters), 1 thread", len(corpus), seconds,
                       Latency.of(samples), "Declaration.model built from the delivered bytes: safe re-parse + "
                                            "the profile's paths, per declaration")


def model_cost(model: Measurement, parse_validate: Measurement | None) -> str:
    """Return the diagnostics line: the model's median and p99 per declaration, and against parse+validate.

    Args:
        model: :func:`declaration_model`'s measurement.
        parse_validate: baseline (b) of the same run, when measured.
    """
    lat = model.latency
    assert lat is not None
    text = f"median {lat.p50_ms:.2f} ms, p99 {lat.p99_ms:.2f} ms per declaration"
    pv = parse_validate.latency if parse_validate else None
    if pv and pv.p50_ms > 0 and pv.p99_ms > 0:
        text += (f"; {lat.p50_ms / pv.p50_ms:.2f}x parse+validate's median ({pv.p50_ms:.2f} ms), "
                 f"{lat.p99_ms / pv.p99_ms:.2f}x its p99 ({pv.p99_ms:.2f} ms)")
    return text
