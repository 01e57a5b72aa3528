import io
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import streamrough as sr
from streamrough import cli

pytest.importorskip("matplotlib")


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(page, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,2400", f"--screenshot={shot}",
         "file://" + os.path.abspath(page)],
        check=True, capture_output=True, timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page with content, not blank


def test_report_one_network_writes_page_and_plots(tmp_path):
    w = sr.brownian_weights(48, 3, seed=0)
    page = sr.report(w, tmp_path / "r", p=[2.5], n_inputs=4)
    text = pathlib.Path(page).read_text()
    for img in ("pvar_vs_p.png", "weights.png", "gronwall_vs_lipschitz.png"):
        assert (tmp_path / "r" / img).stat().st_size > 5000 and img in text
    assert "Brownian-like (rough)" in text and "rigorous" in text and "empirical" in text
    # the page's numbers are the public API's
    res = sr.stability(w, np.random.default_rng(0).standard_normal((4, 3)), p=[2.5])
    assert f"{res.gronwall_log10_product:.4g}" in text and f"{res.lipschitz_max:.4g}" in text
    _render(page, tmp_path)


def test_report_several_depths_ccrx_relu_note(tmp_path):
    ws = {n: sr.brownian_weights(n, 3, seed=n) for n in (16, 32, 64)}
    page = sr.report(ws, tmp_path / "r", form="ccrx", delta=0.5, activation="relu", n_inputs=3, p=[2.5])
    text = pathlib.Path(page).read_text()
    assert "depth_scaling.png" in text and "Depth-scaling fits" in text
    assert "outside the smooth theory" in text


def test_cli_report_from_npz(tmp_path):
    w0 = sr.brownian_weights(32, 3, seed=1)
    f = tmp_path / "net.npz"
    np.savez(f, weights=w0 + 0.01, init=w0)
    out = io.StringIO()
    page = cli.run_report(str(f), str(tmp_path / "rep"), out=out)
    assert os.path.exists(page) and "wrote" in out.getvalue()
    assert cli.main(["report", str(f), "-o", str(tmp_path / "rep2"), "--form", "ccrx"]) == 2  # no delta
    g = tmp_path / "depths.npz"
    np.savez(g, **{f"weights_{n}": sr.brownian_weights(n, 2, seed=n) for n in (16, 32)})
    assert cli.main(["report", str(g), "-o", str(tmp_path / "rep3")]) == 0
    assert os.path.exists(tmp_path / "rep3" / "depth_scaling.png")


def test_cli_report_from_a_store(tmp_path):
    """The report of a stored training run: its latest checkpoint, the first as initial weights."""
    w0 = sr.brownian_weights(24, 3, seed=2)
    url = str(tmp_path / "run.zarr")
    for step, w in ((0, w0), (10, w0 + 0.02)):
        sr.ingest({f"blocks.{k}.W": layer for k, layer in enumerate(w)}, url, run="train", step=step)
    out = io.StringIO()
    page = cli.run_report(url, str(tmp_path / "rep"), out=out)
    text = pathlib.Path(page).read_text()
    want = sr.regime(w0 + 0.02, init=w0).verdict
    assert want in text
    both = {**{f"blocks.{k}.W": layer for k, layer in enumerate(w0)}, **{f"blocks.{k}.V": layer for k, layer in enumerate(w0)}}
    sr.ingest(both, url, run="train", step=20)
    assert cli.main(["report", url, "-o", str(tmp_path / "rep2")]) == 2  # two paths: --role needed
    assert cli.main(["report", url, "-o", str(tmp_path / "rep3"), "--role", "blocks.{k}.V"]) == 0
