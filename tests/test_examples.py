"""The scripts in examples/ keep working (run on small sizes)."""

import importlib.util
import pathlib

import pytest

import streamrough as sr

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rough_vs_smooth(capsys):
    load("rough_vs_smooth").main(sizes=(16, 64), width=3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and "alternating" in lines[-1]


def test_streaming_layers_matches_offline(capsys):
    load("streaming_layers").main(n_layers=64, width=2, report_every=32)
    last = capsys.readouterr().out.splitlines()[-1]
    offline, streamed = (float(part.split("=")[1]) for part in last.split(","))
    assert streamed == pytest.approx(offline, rel=1e-12)


def test_train_digits_runs_and_gives_verdicts(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from streamrough.regimes import VERDICTS

    verdicts = load("train_digits").main(depths=(8, 16, 24), steps=3, out_dir=str(tmp_path))
    assert set(verdicts) == {"bft-fixed", "bft-scaled", "ccrx"}
    assert all(v in VERDICTS for pair in verdicts.values() for v in pair.values())
    assert (tmp_path / "bft-fixed.npz").exists()
    assert "rho_2.5" in capsys.readouterr().out
    with sr.open_store(tmp_path / "runs.zarr", mode="r") as st:  # recorded during training
        assert st.steps("ccrx-L24") == [0, 1, 2, 3] and st.paths("ccrx-L24", 3) == ["blocks.{k}.W"]
        assert st.read("blocks.{k}.W", "ccrx-L24", 0).shape == (24, 16, 16)
