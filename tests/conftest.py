import os
import shutil
import sys
import tempfile

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


_CACHE_DIR = pytest.StashKey[str]()


def pytest_configure(config):
    """One fresh, empty kernel cache per run (streamrough._kernels._cache), shared by the xdist
    workers and by the processes tests start (they inherit the environment): a kernel one of
    them compiled is loaded by the others, and no run depends on an earlier one."""
    if "PYTEST_XDIST_WORKER" in os.environ:  # a worker: the controller chose the directory
        return
    folder = tempfile.mkdtemp(prefix="streamrough-test-cache-")
    config.stash[_CACHE_DIR] = folder
    os.environ["STREAMROUGH_CACHE_DIR"] = folder


def pytest_unconfigure(config):
    folder = config.stash.get(_CACHE_DIR, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
