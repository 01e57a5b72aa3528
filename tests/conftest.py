import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/naive.py is imported as a plain module by the tests
sys.path.insert(0, os.path.dirname(__file__))

# JIT-compiled kernels make the first example of a property test slow; deadlines would flake.
settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
# the slow run: HYPOTHESIS_PROFILE=slow python -m pytest -m slow (a few thousand examples each)
settings.register_profile("slow", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
