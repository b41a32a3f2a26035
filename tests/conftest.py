"""Test configuration: hypothesis profiles and the engines loaded for adcore's checks."""
import os

import numpy as np
from hypothesis import HealthCheck, settings

import forward  # noqa: F401  (registers forward mode with adcore's checks)
import reverse  # noqa: F401  (registers reverse mode with adcore's checks)

# "ci" keeps the whole suite within a few minutes on 2 cores and draws the same examples on every
# run (derandomize), so that a run's result depends on the code alone; "thorough" and "long" draw
# new ones each time, for local runs: pytest tests/test_programs.py --hypothesis-profile=long (or
# HYPOTHESIS_PROFILE=long).
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=_SLOW_IS_FINE)
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=_SLOW_IS_FINE)
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=_SLOW_IS_FINE)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    np.seterr(all="raise", under="ignore")
