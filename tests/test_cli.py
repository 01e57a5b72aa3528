import io
import subprocess
import sys

import numpy as np
import pytest

from streamrough import cli


def test_demo_small_runs_and_shows_every_table():
    out = io.StringIO()
    cli.run_demo(n_layers=(16, 64), width=3, p_values=(1.0, 2.5), rough_p=(2.5,), out=out)
    text = out.getvalue()
    assert "increments" in text and "values" in text
    assert "half the quadratic variation" in text
    assert "|||X|||_p" in text
    # one level-1 row per (convention, number of layers), one rough row per (size, p)
    assert sum(line.strip().startswith(("increments", "values")) for line in text.splitlines()) == 4


def test_demo_level2_difference_is_half_quadratic_variation():
    out = io.StringIO()
    cli.run_demo(n_layers=(32,), width=3, p_values=(2.5,), rough_p=(2.5,), out=out)
    lines = out.getvalue().splitlines()
    diff = next(line for line in lines if "= half the quadratic variation" in line).split()[-1]
    direct = next(line for line in lines if "computed directly" in line).split()[-1]
    assert float(diff) == pytest.approx(float(direct), rel=1e-5)


def test_pvar_command_on_npy_file(tmp_path, capsys):
    path = tmp_path / "zigzag.npy"
    np.save(path, np.array([0.0, 1.0, 0.0, 1.0, 0.0]))
    assert cli.main(["pvar", str(path), "-p", "1", "2.5", "--power", "--partition"]) == 0
    out = capsys.readouterr().out
    assert "p = 1: V_p = 4" in out and "p = 2.5: V_p = 4" in out
    assert "[0, 1, 2, 3, 4]" in out


def test_pvar_command_convention(tmp_path, capsys):
    import streamrough as sr

    weights = sr.brownian_weights(16, 3, seed=2)
    path = tmp_path / "weights.npy"
    np.save(path, weights)
    assert cli.main(["pvar", str(path), "-p", "2.5"]) == 0
    out = capsys.readouterr().out
    assert "convention 'increments' (17 points)" in out
    assert f"{sr.pvar(weights, 2.5):.12g}" in out
    assert cli.main(["pvar", str(path), "-p", "2.5", "--convention", "values"]) == 0
    out = capsys.readouterr().out
    assert "convention 'values' (16 points)" in out
    assert f"{sr.pvar(weights.reshape(16, -1), 2.5):.12g}" in out


def test_pvar_command_errors(tmp_path, capsys):
    bad = tmp_path / "nan.npy"
    np.save(bad, np.array([0.0, np.nan]))
    assert cli.main(["pvar", str(bad), "-p", "2"]) == 2
    assert "NaN" in capsys.readouterr().err
    good = tmp_path / "line.npy"
    np.save(good, np.arange(3.0))
    assert cli.main(["pvar", str(good), "-p", "0.5"]) == 2
    assert "p must be >= 1" in capsys.readouterr().err
    assert cli.main(["pvar", str(tmp_path / "missing.npy"), "-p", "2"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "data, message",
    [
        (np.array(3.0), "at least one axis"),
        (np.array([0.0, 1e-310, 0.0]), None),  # subnormal data: computed, exit 0
        (np.array([0.0, 1.0]), "p must be <= 500"),
    ],
)
def test_pvar_command_edge_files(tmp_path, capsys, data, message):
    path = tmp_path / "x.npy"
    np.save(path, data)
    code = cli.main(["pvar", str(path), "-p", "2"] if message != "p must be <= 500" else ["pvar", str(path), "-p", "600"])
    out, err = capsys.readouterr()
    if message is None:
        assert code == 0 and "1.41421356237e-310" in out
    else:  # one line on stderr, nothing (no header) on stdout
        assert code == 2 and message in err and out == "" and len(err.strip().splitlines()) == 1


def test_pvar_command_npz(tmp_path, capsys):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.arange(3.0))
    assert cli.main(["pvar", str(path), "-p", "2"]) == 2
    out, err = capsys.readouterr()
    assert ".npz archive" in err and out == ""


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "streamrough.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("streamrough ")


def test_demo_tells_the_stability_story():
    out = io.StringIO()
    cli.run_demo(n_layers=(16, 256), width=3, p_values=(1.0,), rough_p=(2.5,), rough_n_layers=(256,), out=out)
    lines = out.getvalue().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("Stability of the network"))
    rows = [line.split() for line in lines[i + 2:i + 4]]
    gronwall, one_var, norm, lip_max = ([float(r[c]) for r in rows] for c in (1, 2, 3, 5))
    assert gronwall[1] > 2 * gronwall[0] and one_var[1] > 2 * one_var[0]
    assert norm[1] < 1.5 * norm[0] and lip_max[1] < 1.5 * lip_max[0]
