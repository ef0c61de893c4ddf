"""The README's measured tables are generated from the committed JSON, and still match it."""

from pathlib import Path

from sparse_edge.report import DOCUMENTS, TABLES, render_readme

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_every_generated_table_appears_and_matches_the_committed_json():
    texts = {name: (ROOT / name).read_text(encoding="utf-8") for name in DOCUMENTS}
    for table in TABLES:
        assert any(f"<!-- table:{table} -->" in text for text in texts.values()), f"no document shows {table}"
    for name, text in texts.items():
        assert render_readme(text) == text, f"{name} is out of date: run `sparse-edge report`"


def test_readme_gives_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "scripts/run " in text and "scripts/test " in text
