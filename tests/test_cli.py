"""The command line: lazy subcommands, helpful --help, clear errors."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sparse_edge.cli import main


def test_help_lists_commands_without_importing_tensorflow():
    code = ("import sys; from click.testing import CliRunner; from sparse_edge.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); print(r.output); "
            "assert 'tensorflow' not in sys.modules, 'help imported tensorflow'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "bench" in result.stdout


def test_bench_attention_rejects_an_unknown_pattern(tmp_path):
    result = CliRunner().invoke(main, ["bench", "attention", "--patterns", "local,sparse",
                                       "--json", str(tmp_path / "b.json")])
    assert result.exit_code != 0
    assert "unknown attention pattern 'sparse'" in str(result.exception) + result.output
    assert not (tmp_path / "b.json").exists()


def test_bench_attention_writes_rows_and_a_plot(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "attention", "--lengths", "256,512", "--patterns", "local",
                                       "--backends", "tflite", "--repeats", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [(r["pattern"], r["n"], r["backend"], r["status"]) for r in report["rows"]] == [
        ("local", 256, "tflite", "ok"), ("local", 512, "tflite", "ok")]
    for row in report["rows"]:
        assert row["median_ms"] > 0 and row["peak_rss_mb"] >= row["baseline_rss_mb"] > 0
    assert (tmp_path / "bench.png").stat().st_size > 10_000


@pytest.mark.imdb
def test_bench_tokenizer_writes_its_json(tmp_path):
    out = tmp_path / "tok.json"
    result = CliRunner().invoke(main, ["bench", "tokenizer", "--limit", "50", "--repeats", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["reviews"] == 50 and report["reviews_per_second_cold_median"] > 0
    assert len(report["cold"]) == len(report["warm"]) == 1


@pytest.mark.imdb
def test_bench_kernels_finds_float_files_independent_of_the_cpu_kernels(tmp_path, converted_model):
    out = tmp_path / "kernels.json"
    result = CliRunner().invoke(main, ["bench", "kernels", "--model-dir", str(converted_model), "--variants",
                                       "float32,int8", "--limit", "5", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["variants"]["float32"]["reviews"] == 5
    assert report["variants"]["float32"]["max_abs_prob_diff"] < 1e-6
    assert report["variants"]["int8"]["max_abs_prob_diff"] <= 4 / 256   # whole output steps at most


def test_bench_kernels_names_a_missing_variant(tmp_path):
    (tmp_path / "tflite").mkdir()
    result = CliRunner().invoke(main, ["bench", "kernels", "--model-dir", str(tmp_path), "--variants", "int8",
                                       "--json", str(tmp_path / "k.json")])
    assert result.exit_code == 2   # a usage mistake: the folder named has no such file
    assert result.stderr.startswith("error: no int8 .tflite") and result.stderr.count("\n") == 1
    assert "sparse-edge convert" in result.stderr
    assert not (tmp_path / "k.json").exists()
