"""``sparse-edge pipeline``: every stage in order, a summary, skipping, failures, missing data.

The run itself is the session fixture ``pipeline_run`` (tests/conftest.py): the quick preset,
exactly what `scripts/run` runs.
"""

import json
import shutil

import pytest
from click.testing import CliRunner

from sparse_edge.cli import main
from convert.variants import EDGE, names, variant as variant_of
from sparse_edge.pipeline import STAGES, StageFailed, run_pipeline

VARIANTS = names(EDGE)


@pytest.mark.imdb
def test_every_stage_runs_in_order_and_the_summary_has_each_variant(pipeline_run):
    folder, lines = pipeline_run
    names = [name for name, _, _ in STAGES]
    assert [line.split("]")[1].split(":")[0].strip() for line in lines] == names
    assert all(" left " in line for line in lines)   # every stage says how long is left
    # once training has run here, the estimate follows this host's measured pace
    assert all("at this host's pace" in line for line in lines[names.index("convert"):])
    summary = json.loads((folder / "summary.json").read_text())
    assert [row["model"] for row in summary["variants"]] == ["keras float32"] + VARIANTS
    assert summary["test_accuracy"] > 0.8 and summary["parity_reviews"] == 2000   # chance is 0.5
    for row in summary["variants"][1:]:
        assert (folder / "model" / "tflite" / f"{row['model']}.tflite").stat().st_size == row["size_bytes"]
        limit = variant_of(row["model"]).thresholds.get("max_abs_delta_pp", 0.0)   # int8: 0.3 pp
        assert abs(row["delta_pp"]) <= limit and row["latency_ms_p50"] > 0
    edge = json.loads((folder / "edge.json").read_text())
    assert len(edge["reviews"]) == 6
    assert all(set(review["predictions"]) == set(VARIANTS) for review in edge["reviews"])
    table = (folder / "summary.md").read_text()
    assert "| int8 |" in table and "labels right" in table
    record = json.loads((folder / "pipeline.json").read_text())
    assert list(record["stages"]) == names


@pytest.mark.imdb
def test_a_second_run_skips_every_finished_stage(pipeline_run):
    folder, _ = pipeline_run
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()
              and path.name != "pipeline.json"}
    lines = []
    run_pipeline("quick", folder, progress=False, echo=lines.append)
    assert len(lines) == len(STAGES) and all("skipped" in line for line in lines), lines
    after = {path: path.stat().st_mtime_ns for path in before}
    assert after == before


@pytest.mark.imdb
def test_a_failed_stage_says_which_and_why_and_keeps_earlier_outputs(pipeline_run, tmp_path):
    folder, _ = pipeline_run
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    record = json.loads((copy / "pipeline.json").read_text())
    del record["stages"]["convert"]                       # as if convert had never finished ...
    (copy / "pipeline.json").write_text(json.dumps(record))
    (copy / "model" / "model.keras").write_bytes(b"not a model")   # ... and the model got damaged
    vocab_before = (copy / "vocab.txt").read_bytes()
    with pytest.raises(StageFailed, match=r"stage 4/7 'convert' failed: .*run the same command again"):
        run_pipeline("quick", copy, progress=False, echo=lambda line: None)
    assert (copy / "vocab.txt").read_bytes() == vocab_before
    assert (copy / "model" / "metrics.json").exists()
    record = json.loads((copy / "pipeline.json").read_text())
    assert "convert" not in record["stages"] and {"data", "vocab", "train"} <= set(record["stages"])


@pytest.mark.parametrize("delta, se, kept", [(-0.40, 0.16, False), (0.31, 0.0, True), (0.61, 0.15, True),
                                              (-0.59, 0.15, False), (0.35, 0.025, False), (0.36, 0.025, True)])
def test_the_pipeline_judges_a_samples_accuracy_delta_with_its_sampling_error(delta, se, kept):
    """Two standard errors of slack on the sample (0.3 pp + 2 se for int8); other failures are never dropped."""
    from convert.parity import check
    from sparse_edge.stages import sample_failures

    row = {"delta_accuracy_pp": delta, "delta_accuracy_se_pp": se, "agreement": 0.97, "max_abs_prob_diff": 0.1}
    failures = check("int8", row, None)
    assert failures[0].startswith("agreement") and failures[1].startswith("|delta accuracy|")
    assert sample_failures("int8", row, failures) == (failures if kept else failures[:1])


def test_without_the_dataset_it_stops_at_once_saying_how_to_provide_it(tmp_path):
    result = CliRunner().invoke(main, ["pipeline", "--preset", "quick", "--out", str(tmp_path / "run"),
                                       "--data-dir", str(tmp_path / "no-data"), "--quiet"])
    assert result.exit_code == 2
    assert "Provide them in one of three ways" in result.output and "--manual-dir" in result.output
    assert not (tmp_path / "run" / "model").exists()


def test_an_unknown_preset_is_refused():
    result = CliRunner().invoke(main, ["pipeline", "--preset", "huge", "--out", "x"])
    assert result.exit_code == 2 and "'huge' is not one of 'quick', 'full'" in result.output


def test_the_full_preset_copies_the_shipped_vocabulary_instead_of_learning_one(tmp_path):
    from sparse_edge.pipeline import PRESETS, REPO, Run, fingerprint, vocab_stage

    run = Run(tmp_path, PRESETS["full"], None, None, False, print)
    settings, work, files, upstream = vocab_stage(run)
    assert files == ["vocab.txt"] and upstream == ["data"]
    assert work()["entries"] == 12000
    shipped = REPO / "artifacts" / "imdb-transformer" / "vocab.txt"
    assert shipped.read_bytes() == (REPO / "artifacts" / "imdb-classifier" / "vocab.txt").read_bytes()
    assert (tmp_path / "vocab.txt").read_bytes() == shipped.read_bytes()
    # the fingerprint follows the file's content: another vocabulary would redo the stage
    assert settings["file_sha256"] and fingerprint(settings) != fingerprint(dict(settings, file_sha256="0"))


def test_the_full_preset_pretrains_its_language_model_and_starts_training_from_it(tmp_path):
    from sparse_edge.pipeline import PRESETS, STAGES, Run, lm_stage, stages_for, train_stage

    assert stages_for(PRESETS["quick"]) == STAGES
    names = [name for name, _, _ in stages_for(PRESETS["full"])]
    assert names == ["data", "vocab", "lm", "train", "hybrid", "convert", "parity", "edge", "summary"]
    assert set(PRESETS["full"].minutes) == set(names)   # "time left" knows every stage
    run = Run(tmp_path, PRESETS["full"], None, None, False, print)
    lm_settings, _, lm_files, lm_upstream = lm_stage(run)
    assert lm_upstream == ["vocab"] and "lm/model.keras" in lm_files and lm_settings["steps"] > 0
    settings, _, _, upstream = train_stage(run)
    # the shipped train_config names the folder its model came from; the pipeline uses its own LM
    assert settings["init_from"] == str(tmp_path / "lm") and upstream == ["lm"]
    assert settings["teacher"] == "ngram" and settings["unlabelled_reviews"] == 50000
    # then the hybrid, on top of this run's Transformer; conversion and parity check the hybrid
    from sparse_edge.pipeline import hybrid_stage

    hybrid_settings, _, hybrid_files, hybrid_upstream = hybrid_stage(run)
    assert hybrid_settings["base"] == str(tmp_path / "model") and hybrid_upstream == ["train"]
    assert "hybrid/model.keras" in hybrid_files and run.model_dir == tmp_path / "hybrid"


def test_time_left_follows_the_pace_measured_on_this_host():
    from sparse_edge.pipeline import StageClock

    clock = StageClock({"a": 1.0, "b": 2.0, "c": 3.0})
    assert clock.left(["a", "b", "c"]) == "about 6 min left on the reference machine; refined as stages finish here"
    clock.finished("a", 180.0)   # 3 min where the reference took 1: this host is 3x slower
    assert clock.left(["b", "c"]) == "about 15 min left at this host's pace (3.0x the reference)"
