"""The README's tour runs as written."""

import os
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") == "1",
    reason="the tour's 10^5-point paths take minutes as plain Python; each call it makes is "
    "tested at small sizes in that mode",
)
def test_readme_tour_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no python tour"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
