"""Test configuration: hypothesis profiles and the engines loaded for adcore's checks."""
import os

import numpy as np
from hypothesis import HealthCheck, settings

import forward  # noqa: F401  (registers forward mode with adcore's checks)
import reverse  # noqa: F401  (registers reverse mode with adcore's checks)

# "ci" keeps the whole suite within a few minutes on 2 cores; "thorough" is for local runs:
# HYPOTHESIS_PROFILE=thorough pytest tests/test_registry.py
settings.register_profile("ci", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    np.seterr(all="raise", under="ignore")
