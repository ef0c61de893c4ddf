"""The Streamlit demo: every page driven with streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "sparse_edge" / "demo_app.py"


def app(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def test_classify_page_labels_a_positive_example_with_both_models():
    at = app("Classify")
    at.selectbox(key="example").set_value("A glowing review").run()
    labels = [m.value for m in at.metric]
    assert labels == ["positive", "positive"], labels
    assert any("ms" in md.value for md in at.markdown)
    at.text_area(key="review").set_value("x " * 60_000).run()   # 120,000 characters
    assert not at.exception and "only the first 20,000 are used" in at.warning[0].value
    at.text_area(key="review").set_value("   ").run()
    assert not at.exception and at.info


def test_generate_page_writes_the_requested_number_of_tokens():
    at = app("Generate")
    at.slider(key="length").set_value(12).run()
    at.slider(key="temperature").set_value(0.0).run()
    at.button(key="generate").click().run()
    assert not at.exception
    assert at.caption[0].value == "12 new tokens"
    speed, memory = at.caption[1].value.split("; ")
    assert float(speed.split()[0]) > 0 and ("cache of" in memory or "recomputes the 256-token window" in memory)
    at.text_input(key="prompt").set_value("").run()
    assert at.info and not at.exception


def test_attention_page_draws_a_layout_and_the_weights_of_a_text():
    at = app("Attention")
    at.selectbox(key="pattern").set_value("local").run()
    assert not at.exception
    assert len(at.get("image")) == 2, "the layout and the weights pictures"
    words = [m.value for m in at.markdown if "<span" in m.value]
    assert len(words) == 1 and ">moments</span>" in words[0], "the review's words, coloured by what they push"
    at.number_input(key="layer").set_value(1).run()
    at.number_input(key="head").set_value(3).run()
    assert not at.exception and len(at.get("image")) == 2


def test_parity_page_shows_the_shipped_report():
    at = app("Parity")
    assert not at.exception
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 4


def test_missing_artifacts_give_messages_in_the_page_not_tracebacks(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_EDGE_ARTIFACTS", str(tmp_path))
    at = app("Classify")
    assert len(at.error) == 2 and "does not exist" in at.error[0].value
    at.sidebar.radio(key="page").set_value("Generate").run()
    at.button(key="generate").click().run()
    assert not at.exception and "not available" in at.error[0].value
    at.sidebar.radio(key="page").set_value("Parity").run()
    assert not at.exception and "is missing" in at.error[0].value
    at.sidebar.radio(key="page").set_value("Attention").run()
    assert not at.exception and len(at.get("image")) == 1 and "could not be loaded" in at.error[0].value
