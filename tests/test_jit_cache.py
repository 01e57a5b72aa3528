"""Numba's on-disk cache (opt-in, STREAMROUGH_NUMBA_CACHE=1) must find the per-norm kernels in
a new process: their closures capture other dispatchers, whose ids must then be the same in
every process (streamrough._kernels._jit._stable_uuid)."""

import os
import subprocess
import sys

import pytest

JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"

PROBE = """
from streamrough._kernels import pvar
ids = []
for code in sorted(pvar.NORM_CODES.values()):
    k = pvar.for_norm(code)
    ids += [k.bnb_many.parallel._uuid, k.bnb_many.serial._uuid, k.step._uuid]
print(" ".join(ids))
"""


def _ids(tmp_path, cache):
    env = dict(os.environ, STREAMROUGH_NUMBA_CACHE=cache, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not JIT, reason="no dispatchers when the JIT is disabled")
def test_kernel_ids_stable_across_processes(tmp_path):
    first, second = _ids(tmp_path, "1"), _ids(tmp_path, "1")
    assert first == second
    assert len(set(first)) == len(first)  # one id per kernel: norms and twins kept apart


@pytest.mark.skipif(not JIT, reason="no dispatchers when the JIT is disabled")
def test_ids_random_without_the_cache(tmp_path):
    """Without the opt-in nothing changes: Numba's own per-process ids."""
    assert _ids(tmp_path, "0") != _ids(tmp_path, "0")
