"""README tables generated from the JSON the project wrote, never typed by hand.

The README holds blocks between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``. Each NAME
is a function below that reads committed JSON under ``artifacts/`` and returns markdown.
``sparse-edge report`` rewrites the blocks; ``sparse-edge report --check`` (and a test) fails
when the README no longer matches the JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def _fmt(value, digits=1, suffix=""):
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def attention_bench() -> str:
    """Forward time and peak memory per pattern and length (artifacts/bench/attention.json)."""
    report = _load("artifacts/bench/attention.json")
    rows = report["rows"]
    lengths = sorted({r["n"] for r in rows})
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    lines = []
    for backend, title in (("tflite", "TFLite, dynamic range, 1 thread"), ("tensorflow", "TensorFlow (Keras)")):
        if not any(r["backend"] == backend for r in rows):
            continue
        lines.append(f"**{title}**: median forward time in ms / peak RSS in MB, batch 1\n")
        lines.append("| pattern | " + " | ".join(f"n={n:,}" for n in lengths) + " |")
        lines.append("|---|" + "---:|" * len(lengths))
        for p in patterns:
            cells = []
            for n in lengths:
                r = next((r for r in rows if (r["pattern"], r["n"], r["backend"]) == (p, n, backend)), None)
                if r is None:
                    cells.append("")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    cells.append(f"{r['median_ms']:,.1f} / {r['peak_rss_mb']:,.0f}")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    summary = report["summary"]
    lines.append("Checks (from the same run):\n")
    for name, ok in summary["checks"].items():
        lines.append(f"- {'✅' if ok else '❌'} {name}")
    lines.append("")
    lines += [f"- {line}" for line in summary["lines"] if "growth" in line]
    lines.append("")
    lines.append(f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs; {report['date']}. "
                 f"Reproduce: `{report['command']}`.")
    return "\n".join(lines)


def classifier_metrics() -> str:
    """The shipped classifier's test metrics (artifacts/imdb-classifier/metrics.json)."""
    m = _load("artifacts/imdb-classifier/metrics.json")
    c = _load("artifacts/imdb-classifier/train_config.json")
    model, pattern = c["model"], c["model"]["pattern"]
    cm = m["confusion_matrix"]["rows_true_cols_predicted"]
    return "\n".join([
        "| test reviews | accuracy | precision | recall | F1 | best epoch (val acc) | training time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {m['n']:,} | **{m['accuracy'] * 100:.2f}%** | {m['precision'] * 100:.2f}% | {m['recall'] * 100:.2f}% | "
        f"{m['f1'] * 100:.2f}% | {m['best_epoch']} of {c['epochs']} ({m['val_accuracy'] * 100:.2f}%) | "
        f"{m['train_seconds'] / 60:.1f} min train, {m['wall_seconds'] / 60:.1f} min wall |",
        "",
        f"Confusion matrix (rows true, columns predicted; negative, positive): {cm}. "
        f"Model: {model['num_layers']} layers, width {model['d_model']}, {model['num_heads']} heads, "
        f"feed-forward {model['d_ff']}, vocabulary {model['vocab_size']:,}, max length {model['max_length']:,}, "
        f"`{pattern['name']}` attention (block {pattern['block_size']}, window {pattern['window']}, "
        f"{pattern['num_global']} global, {pattern['num_random']} random). "
        f"Machine: {m['machine']['platform']}, {m['machine']['cpus']} CPUs, TensorFlow {m['machine']['tensorflow']}.",
    ])


def pattern_comparison() -> str:
    """Accuracy and time per pattern and max length at one budget (artifacts/experiments/*.json)."""
    runs = [json.loads(p.read_text()) for p in sorted((ROOT / "artifacts/experiments").glob("*.json"))]
    runs.sort(key=lambda r: (r["max_length"], r["pattern"]))
    lines = ["| pattern | max length | epochs | val accuracy | test accuracy | training time |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['pattern']} | {r['max_length']:,} | {r['epochs']} | {r['val_accuracy'] * 100:.2f}% | "
                     f"{r['accuracy'] * 100:.2f}% | {r['train_seconds'] / 60:.1f} min |")
    if runs:
        lines.append("")
        lines.append(f"Each row: `{runs[0]['command_template']}`.")
    return "\n".join(lines)


def tokenizer_bench() -> str:
    """Tokenizer speed on one core (artifacts/bench/tokenizer.json)."""
    t = _load("artifacts/bench/tokenizer.json")
    return (f"Speed on one core: **{t['reviews_per_second_cold_median']:,.0f} reviews/s** with an empty word cache, "
            f"{t['reviews_per_second_warm_median']:,.0f} with a warm one (median of {t['repeats']}, "
            f"{t['reviews']:,} IMDB test reviews; goal {t['goal_reviews_per_second']:,}). Reproduce: `{t['command']}`.")


TABLES = {"attention_bench": attention_bench, "tokenizer_bench": tokenizer_bench, "classifier_metrics": classifier_metrics,
          "pattern_comparison": pattern_comparison}
BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)


def render_readme(text: str) -> str:
    """The README with every table block regenerated from the JSON."""
    def replace(match):
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"README names an unknown table {name!r}; known: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return BLOCK.sub(replace, text)
