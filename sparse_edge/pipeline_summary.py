"""The pipeline's summary (``DIR/summary.json``, ``summary.md``) and the generated tables of the committed
pipeline runs (``artifacts/pipeline-quick``, ``artifacts/pipeline-full``), collected by ``sparse_edge.report``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from convert.variants import EDGE, REFERENCE, names as variant_names
from training.machine import describe_machine
from sparse_edge.reports.tables import ROOT, load_artifact, machine_line
from sparse_edge.run_folder import RunFolder


def build_summary(out: Path) -> dict:
    """Accuracy, drift, size and latency per variant, and where each file is."""
    out = Path(out)
    folder = RunFolder(out)
    model = folder.converted()
    metrics = model.metrics()
    parity = json.loads(model.parity_path.read_text())
    edge = json.loads(folder.edge_path.read_text())
    record = json.loads(folder.record_path.read_text())
    rows = [{"model": f"keras {REFERENCE}", "accuracy": parity["reference"]["accuracy"], "delta_pp": 0.0,
             "agreement": 1.0, "size_bytes": _size(model.model_path), "latency_ms_p50": None,
             "path": str(model.model_path)}]
    for variant, row in parity["variants"].items():
        rows.append({"model": variant, "accuracy": row["accuracy"], "delta_pp": row["delta_accuracy_pp"],
                     "agreement": row["agreement"], "size_bytes": row["size_bytes"],
                     "latency_ms_p50": row["latency_ms_p50"],
                     "path": str(model.tflite(variant))})
    edge_correct = {v: sum(r["predictions"][v]["label"] == r["true_label"] for r in edge["reviews"])
                    for v in variant_names(EDGE)}
    return {
        "preset": record.get("preset"), "date": time.strftime("%Y-%m-%d"),
        "machine": describe_machine(),
        "data": (model.data_record() or {"source": "imdb"})["source"],
        "labels": model.labels, "test_macro_f1": metrics.get("macro_f1"),
        "teacher_test": metrics.get("teacher_test"),
        "test_accuracy": metrics["accuracy"], "test_reviews": metrics["n"],
        "train_seconds": metrics["train_seconds"], "parity_reviews": parity["n"],
        "variants": rows,
        "edge": {"backend": edge["backend"], "reviews": len(edge["reviews"]), "correct": edge_correct},
        "stage_seconds": {name: stage["seconds"] for name, stage in record["stages"].items()},
        "total_seconds": round(sum(stage["seconds"] for stage in record["stages"].values()), 1),
        "files": {"parity_report": str(model.parity_markdown_path), "edge_predictions": str(folder.edge_path)},
    }


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.exists() else None


def summary_markdown(summary: dict) -> str:
    """The summary as a Markdown table (also what the command prints)."""
    data = summary.get("data", "imdb")
    texts = "reviews" if data == "imdb" else "texts"
    macro = f", macro-F1 {summary['test_macro_f1']:.3f}" if summary.get("test_macro_f1") is not None else ""
    teacher = summary.get("teacher_test")
    teacher = (f" The n-gram teacher alone: {teacher['accuracy']:.2%}, macro-F1 {teacher['macro_f1']:.3f}."
               if teacher else "")
    labels = summary.get("labels") or []
    about = "" if data == "imdb" else \
        f"Data `{data}` ({len(labels)} labels: {', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''}). "
    lines = [f"{about}Preset `{summary['preset']}`: Keras model {summary['test_accuracy']:.2%}{macro} on "
             f"{summary['test_reviews']:,} test {texts}, trained in {summary['train_seconds']:.0f} s.{teacher} "
             f"Every variant met the parity thresholds on {summary['parity_reviews']:,} test {texts}.", "",
             f"| model | accuracy ({summary['parity_reviews']:,} {texts}) | Δ vs Keras (pp) | agreement | size (MB) "
             "| p50 latency (ms) | file |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in summary["variants"]:
        size = f"{row['size_bytes'] / 1e6:.2f}" if row["size_bytes"] else "-"
        latency = f"{row['latency_ms_p50']:.2f}" if row["latency_ms_p50"] is not None else "-"
        lines.append(f"| {row['model']} | {row['accuracy']:.2%} | {row['delta_pp']:+.2f} | {row['agreement']:.2%} "
                     f"| {size} | {latency} | `{row['path']}` |")
    edge = summary["edge"]
    correct = ", ".join(f"{v} {n}/{edge['reviews']}" for v, n in edge["correct"].items())
    lines += ["", f"edge_runtime ({edge['backend']}) on {edge['reviews']} sample test {texts}, labels right: {correct}."]
    return "\n".join(lines) + "\n"


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def pipeline_quick() -> str:
    """The quick preset's run on a fresh clone (artifacts/pipeline-quick: summary.json, pipeline.json)."""

    summary = load_artifact("artifacts/pipeline-quick/summary.json")
    record = load_artifact("artifacts/pipeline-quick/pipeline.json")
    seconds = record["stages"]
    stages = ", ".join(f"{name} {stage['seconds']:.0f} s" for name, stage in seconds.items())
    total = sum(stage["seconds"] for stage in seconds.values())
    table = summary_markdown(summary)
    seeds = sorted((ROOT / "artifacts" / "pipeline-quick" / "seeds").glob("*.json"))
    spread = ""
    if seeds:
        runs = [json.loads(p.read_text()) for p in seeds]
        accuracies = ", ".join(f"seed {p.stem}: {r['test_accuracy']:.2%} ({r['total_seconds'] / 60:.1f} min)"
                               for p, r in zip(seeds, runs))
        spread = (f"\n\nHow much it depends on the seed: {accuracies} "
                  "(`scripts/run pipeline --preset quick --seed N --out runs/quick-seed-N`, summaries in "
                  "`artifacts/pipeline-quick/seeds/`). A busy host takes several times as long.")
    return (f"{table}\nStage times: {stages}; **{total / 60:.1f} min** for the whole pipeline. "
            f"Machine: {machine_line(summary['machine'])}; {summary['date']}. "
            "Reproduce: `scripts/run` (the same as `sparse-edge pipeline --preset quick --out runs/quick`), "
            "which writes only under `runs/quick/`; the `summary.json`, `summary.md` and `pipeline.json` "
            f"shown here were copied from there to `artifacts/pipeline-quick/` by hand.{spread}")


def pipeline_full() -> str:
    """The full preset's run (artifacts/pipeline-full), against the shipped classifier."""
    summary = load_artifact("artifacts/pipeline-full/summary.json")
    record = load_artifact("artifacts/pipeline-full/pipeline.json")
    shipped = load_artifact("artifacts/imdb-classifier/metrics.json")
    hybrid = shipped.get("kind") == "hybrid"
    shipped = shipped["base"] if hybrid else shipped   # a hybrid: compare with the Transformer inside it
    total = sum(stage["seconds"] for stage in record["stages"].values())
    retrained = load_artifact("artifacts/pipeline-full/metrics.json")
    same = ("the very same predictions" if retrained["confusion_matrix"] == shipped["confusion_matrix"] else
            "the same recipe and vocabulary, but not bit-identical training: confusion matrix "
            f"{retrained['confusion_matrix']['rows_true_cols_predicted']} against the shipped "
            f"{shipped['confusion_matrix']['rows_true_cols_predicted']}")
    rows = {row["model"]: row for row in summary["variants"]}
    variants = ", ".join(f"`{name}` {rows[name]['accuracy']:.2%}" for name in variant_names(EDGE))
    training = ""
    if "lm" in record["stages"]:
        minutes = (record["stages"]["lm"]["seconds"] + record["stages"]["train"]["seconds"]) / 60
        training = f" ({minutes:.1f} min of wall time for the language-model and training stages together)"
    return (f"`scripts/run pipeline --preset full --out runs/full` on {summary['date']}: the retrained Keras model "
            f"scored **{summary['test_accuracy']:.2%}** on {summary['test_reviews']:,} test reviews ("
            f"{'the Transformer inside the shipped hybrid' if hybrid else 'shipped'}: {shipped['accuracy']:.2%}; {same}), "
            f"trained in {summary['train_seconds'] / 60:.1f} min{training}; its variants on {summary['parity_reviews']:,} test "
            f"reviews: {variants}, every parity threshold met; {total / 60:.0f} min for the whole pipeline. "
            "Summary and stage record: `artifacts/pipeline-full/`.")
