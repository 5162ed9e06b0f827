"""Hypothesis profiles for the fuzz run: ``ci`` (the default, a few hundred inputs per property, well under a
minute) and ``long`` (``make fuzz``: many more inputs, no deadline). ``HYPOTHESIS_PROFILE`` picks one;
``FUZZ_EXAMPLES`` overrides the long run's count."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")), deadline=None,
                          print_blob=True, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
