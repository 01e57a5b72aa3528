"""SIGKILL a writer at random points of its appends: the store always reopens intact."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import streamrough as sr

WRITER = r"""
import sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import streamrough as sr

url = sys.argv[1]
# "thread": one-layer chunks written by a background thread, as ingest does
pool = ThreadPoolExecutor(1) if sys.argv[2] == "thread" else None
# one chunk per layer; shards of 64 layers in inner chunks of 4; chunks of 64 layers
SHAPES = {"big.{k}": (300, 300), "mid.{k}": (128, 128), "small.{k}": (4, 4)}

def layer(role, k):
    return np.random.default_rng([k, len(role)]).standard_normal(SHAPES[role]).astype(np.float32)

with sr.open_store(url, mode="a") as store:
    writers = {}
    for role, shape in SHAPES.items():
        try:
            writers[role] = store.writer(role, executor=pool)
        except sr.StoreError:
            writers[role] = store.create_path(role, shape, "float32", executor=pool)
    rng = np.random.default_rng()
    for _ in range(200):
        for role, w in writers.items():
            n, m = w.n_layers, int(rng.integers(1, 4))
            if m == 1:
                w.append(layer(role, n))
            else:
                w.append_many([layer(role, k) for k in range(n, n + m)])
            print(role, w.n_layers, flush=True)
"""


def _layer(role, k, shape):
    return np.random.default_rng([k, len(role)]).standard_normal(shape).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("writes", ["calling thread", "thread"])
def test_sigkill_during_appends_never_loses_committed_layers(tmp_path, writes):
    url = str(tmp_path / "store")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = np.random.default_rng(2026)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    shapes = {"big.{k}": (300, 300), "mid.{k}": (128, 128), "small.{k}": (4, 4)}
    committed = dict.fromkeys(shapes, 0)
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, str(script), url, writes], stdout=subprocess.PIPE, text=True, env=env)
        first = proc.stdout.readline()  # appends have started: kill at a random point of them
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL  # killed mid-run, not finished
        for line in (first + out).splitlines():  # what the writer saw committed before it died
            role, n = line.split()
            committed[role] = max(committed[role], int(n))
        store = sr.open_store(url)
        for role, shape in shapes.items():
            try:
                n = store.info(role).n_layers
            except sr.StoreError:  # killed before the path was created
                assert committed[role] == 0
                continue
            assert n >= committed[role]
            data = store.read(role)  # hash-checked
            for k in range(n):
                np.testing.assert_array_equal(data[k], _layer(role, k, shape))
            committed[role] = n
    assert min(committed.values()) > 0
