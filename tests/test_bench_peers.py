"""The behavioural suite and the peers benchmark: what a user compares the shipped model with."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparse_edge.bench.behaviour import CAPABILITIES, CASES, run_suite
from sparse_edge.cli import main

SHIPPED = Path(__file__).resolve().parents[1] / "artifacts" / "imdb-classifier"
BYTES = SHIPPED.parent / "lra-text" / "model"


def test_the_suite_has_every_capability_the_issue_names_with_cases_of_both_labels():
    assert CAPABILITIES == ["negation", "contrast", "intensifiers", "neutral filler", "typos", "verdict at the end"]
    for capability in CAPABILITIES:
        labels = {case.label for case in CASES if case.capability == capability}
        assert labels == {0, 1}, capability


def test_a_system_that_always_says_positive_passes_exactly_the_positive_label_cases():
    report = run_suite(lambda texts: [0.9] * len(texts))
    positive = [c for c in CASES if c.label == 1 and c.kind != "directional"]
    assert report["all"]["passed"] == len(positive)
    assert report["intensifiers"]["passed"] == 0   # no probability moves, so no direction holds
    assert report["negation"]["failures"][0]["text"] == "This was not a good movie."


def test_a_perfect_oracle_passes_everything():
    truth = {}
    for case in CASES:
        truth[case.text] = 0.6 if case.label else 0.4
        if case.kind == "invariant":
            truth[case.variant] = truth[case.text]
        elif case.kind == "directional":
            truth[case.variant] = truth[case.text] + 0.1 * case.direction
    report = run_suite(lambda texts: [truth[t] for t in texts])
    assert report["all"]["pass_rate"] == 1.0


@pytest.mark.imdb
@pytest.mark.slow
def test_bench_peers_measures_every_system_in_one_run(tmp_path):
    result = CliRunner().invoke(main, ["bench", "peers", "--model-dir", str(SHIPPED), "--variants", "int8",
                                       "--limit", "400", "--latency-reviews", "20", "--cold-repeats", "1",
                                       "--out", str(tmp_path / "peers"), "--json", str(tmp_path / "peers.json"),
                                       "--combine-with", str(BYTES)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "peers.json").read_text())
    assert list(report["systems"]) == ["tfidf-lr", "nb-lr", "fasttext", "shipped int8"]
    for name, row in report["systems"].items():
        assert row["latency_ms"]["n"] == 19 and row["size_bytes"] == Path(row["path"]).stat().st_size, name
        assert row["accuracy"] > 0.6 and row["behaviour"]["all"]["total"] == len(CASES), name
        assert row["cold_start"]["process_ms"] >= row["cold_start"]["ms"] > 0, name
        assert 10 < row["cold_start"]["peak_rss_mb"] < 2000, name   # its own memory, not the parent's
    assert report["systems"]["shipped int8"]["accuracy"] > 0.85   # the shipped model, not trained here
    mix = report["combination"]   # the word model and the byte model together, fitted on validation only
    assert mix["validation_reviews"] == 40 and set(mix["accuracy"]) == {"combined", "word", "bytes", "nb-lr"}
    assert mix["accuracy"]["nb-lr"] == pytest.approx(report["systems"]["nb-lr"]["accuracy"])
    assert mix["accuracy"]["word"] == pytest.approx(report["systems"]["shipped int8"]["accuracy"])
    assert mix["accuracy"]["bytes"] > 0.75 and 0 <= mix["mcnemar_vs_nb_lr"]["p_value"] <= 1
    assert mix["significantly_better"] == ("not worth an option" not in mix["decision"])


def test_mcnemar_counts_only_the_reviews_the_two_disagree_on():
    import numpy as np

    from training.mix import mcnemar_exact

    a = np.array([True] * 60 + [False] * 10 + [True] * 30)
    b = np.array([False] * 60 + [True] * 10 + [True] * 30)
    result = mcnemar_exact(a, b)
    assert (result["only_first_right"], result["only_second_right"]) == (60, 10)
    assert result["p_value"] < 1e-8                      # 10 heads in 70 fair tosses
    same = mcnemar_exact(a, a)
    assert same["p_value"] == 1.0 and same["only_first_right"] == 0
    even = mcnemar_exact(np.array([True, False] * 20), np.array([False, True] * 20))
    assert even["p_value"] == pytest.approx(1.0)         # 20 against 20: no evidence either way
