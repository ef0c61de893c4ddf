"""Figures for the README drawn from the committed JSON (like the tables in ``report.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from training.saved import ModelFolder

ROOT = Path(__file__).resolve().parents[1]


def draw_results(path: str | Path = ROOT / "artifacts" / "results.png") -> Path:
    """Left: test accuracy against training time per pattern and max length
    (artifacts/experiments/*.json). Right: accuracy against file size per .tflite variant, with
    its p50 latency (artifacts/imdb-classifier/parity.json)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(p.read_text()) for p in sorted((ROOT / "artifacts" / "experiments").glob("*.json"))]
    parity = json.loads(ModelFolder(ROOT / "artifacts" / "imdb-classifier").parity_path.read_text())
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))

    colors = {"dense": "tab:red", "local": "tab:green", "bigbird": "tab:blue"}
    for run in runs:
        x, y = run["train_seconds"] / 60, run["accuracy"] * 100
        left.scatter(x, y, s=30 + run["max_length"] / 12, color=colors.get(run["pattern"], "gray"), alpha=0.8)
        left.annotate(f"{run['pattern']} {run['max_length']}", (x, y), textcoords="offset points", xytext=(6, -3),
                      fontsize=8)
    left.set_xlabel("training time (min, 2 CPUs, one epoch)")
    left.set_ylabel("test accuracy (%), 25,000 reviews")
    left.set_title("Pattern and max length at one budget", fontsize=10)
    left.grid(alpha=0.3)

    reference = parity["reference"]["accuracy"] * 100
    right.axhline(reference, color="gray", linestyle="--", linewidth=1)
    right.annotate(f"Keras float32 {reference:.2f}%", (0.5, reference), xycoords=("axes fraction", "data"),
                   textcoords="offset points", xytext=(0, -12), fontsize=8, color="gray")
    for variant, row in parity["variants"].items():
        x, y = row["size_bytes"] / 1e6, row["accuracy"] * 100
        dot = right.scatter(x, y, s=60)
        # dynamic and int8 are nearly the same size: one label to the left, one to the right, each in its dot's colour
        left_of = variant == "dynamic"
        right.annotate(f"{variant}\n{row['latency_ms_p50']:.1f} ms p50", (x, y), textcoords="offset points",
                       xytext=(-8 if left_of else 8, 2), ha="right" if left_of else "left", fontsize=8,
                       color=dot.get_facecolor()[0])
    right.set_xlabel("file size (MB)")
    right.set_ylabel("test accuracy (%)")
    spread = max(abs(r["accuracy"] * 100 - reference) for r in parity["variants"].values())
    right.set_ylim(reference - max(0.5, 3 * spread), reference + max(0.5, 3 * spread))
    right.set_xlim(0, max(r["size_bytes"] for r in parity["variants"].values()) / 1e6 * 1.35)
    right.set_title(f"Quantized variants on {parity['n']:,} test reviews", fontsize=10)
    right.grid(alpha=0.3)
    fig.suptitle("Reproduce: sparse-edge draw-results (from artifacts/experiments/*.json and "
                 "artifacts/imdb-classifier/parity.json)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    plt.close(fig)
    return path
