"""The README's measured tables are generated from the committed JSON, and still match it."""

from pathlib import Path

from sparse_edge.report import TABLES, render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tables_match_the_committed_json():
    text = README.read_text(encoding="utf-8")
    for name in TABLES:
        assert f"<!-- table:{name} -->" in text, f"README lacks the {name} table"
    assert render_readme(text) == text, "README is out of date: run `sparse-edge report`"


def test_readme_gives_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "scripts/run " in text and "scripts/test " in text
