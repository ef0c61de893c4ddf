"""The committed mutation-testing record (scripts/mutation -> artifacts/bench/mutation.json) describes the code as it
is: every file at or above the goal, every survivor explained, the files and their tests unchanged since the run."""

import hashlib
import importlib.machinery
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = json.loads((REPO / "artifacts" / "bench" / "mutation.json").read_text())


def script():
    loader = importlib.machinery.SourceFileLoader("mutation_script", str(REPO / "scripts" / "mutation"))
    spec = importlib.util.spec_from_loader("mutation_script", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_file_the_issue_names_was_mutated_completely_and_met_the_goal():
    targets = script().TARGETS
    assert set(RECORD["files"]) == set(targets) == {
        "edge_runtime/lengths.py", "edge_runtime/bundle.py", "edge_runtime/signature.py", "convert/variants.py",
        "convert/parity.py", "model/patterns.py"}
    assert RECORD["goal"] == 0.85 and RECORD["passed"] and RECORD["unexplained_survivors"] == []
    for name, row in RECORD["files"].items():
        assert row["untested"] == 0, name
        assert row["killed"] + row["survived"] == row["mutants"] > 20, name   # killed: failed, failed slowly, or hung
        assert row["suspicious"] + row["timed_out"] <= row["killed"], name
        assert row["score"] == round(row["killed"] / row["mutants"], 4) >= 0.85, name
        assert row["tests"] == targets[name], name
        assert len(row["survivors"]) == row["survived"], name


def test_the_record_is_of_the_code_and_tests_as_they_are_now():
    """A changed file or test needs `scripts/mutation --only FILE --json artifacts/bench/mutation.json` again."""
    for name, row in RECORD["files"].items():
        assert hashlib.sha256((REPO / name).read_bytes()).hexdigest() == row["sha256"], \
            f"{name} changed since its mutation run: run scripts/mutation --only {name} --json artifacts/bench/mutation.json"
        for test, digest in row["tests_sha256"].items():
            assert hashlib.sha256((REPO / test).read_bytes()).hexdigest() == digest, f"{test} changed since the run"


def test_every_survivor_is_explained_and_still_in_the_file():
    for name, row in RECORD["files"].items():
        lines = (REPO / name).read_text().splitlines()
        for survivor in row["survivors"]:
            assert survivor["equivalent_because"], (name, survivor)
            assert lines[survivor["line"] - 1].strip().startswith(survivor["original"].split(" ")[0]), (name, survivor)
