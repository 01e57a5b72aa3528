import numpy as np
import pandas as pd
import pytest

from streamrough import cli


@pytest.fixture
def npz(tmp_path, rng):
    path = tmp_path / "w.npz"
    np.savez(path, emb=np.ones(3), **{f"blocks.{k}.W": rng.standard_normal((3, 3)) for k in range(5)},
             **{f"blocks.{k}.b": rng.standard_normal(3) for k in range(5)})
    return path


def test_ingest_info_analyze(tmp_path, npz, capsys):
    store = str(tmp_path / "store")
    assert cli.main(["ingest", str(npz), store, "--layers", r"blocks\.(\d+)\.W$", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "blocks.{k}.W: 5 layers of shape (3, 3)" in out and "does not match the layers regex" in out
    assert cli.main(["info", store]) == 0
    out = capsys.readouterr().out
    assert "run 'model'" in out and "blocks.{k}.W: 5 layers of (3, 3) float64, increments" in out
    assert cli.main(["analyze", store, "-p", "1", "2.5", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "blocks.{k}.W" in out and "young" in out and "rough" in out
    csv = tmp_path / "t.csv"
    assert cli.main(["analyze", str(npz), "-p", "2.5", "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    assert sorted(table["role"]) == ["blocks.{k}.W", "blocks.{k}.b"] and set(table["p"]) == {2.5}


def test_store_command_errors(tmp_path, npz, capsys):
    assert cli.main(["info", str(tmp_path / "absent")]) == 2
    assert "no weight store" in capsys.readouterr().err
    assert cli.main(["ingest", str(tmp_path / "x.txt"), str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["ingest", str(npz), str(tmp_path / "s"), "--layers", "nomatch(\\d+)", "--quiet"]) == 2
    assert "no weight path found" in capsys.readouterr().err
