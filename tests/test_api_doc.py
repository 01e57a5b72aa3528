"""docs/api.md documents every public name and matches the docstrings (docs/make_api.py)."""

import importlib.util
import pathlib

import streamrough as sr

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _make_api():
    spec = importlib.util.spec_from_file_location("make_api", DOCS / "make_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_is_documented():
    make_api = _make_api()
    assert make_api.documented_names() == set(sr._PUBLIC)
    text = (DOCS / "api.md").read_text()
    for name in sr._PUBLIC:
        assert f"### `{name}" in text, name


def test_api_page_matches_the_docstrings():
    # out of date? run: python docs/make_api.py
    assert _make_api().main(["--check"]) == 0


def test_vocabulary_is_on_the_page():
    text = (DOCS / "api.md").read_text()
    for word in ("`depth`", "`n_layers`", "`lift`", "`convention`", "`return_partition`", "`rho`", "`norm`"):
        assert word in text, word
