"""Markdown tables of the committed pipeline runs (``artifacts/pipeline-quick``, ``artifacts/pipeline-full``),
collected by ``sparse_edge.report``."""

from __future__ import annotations

import json

from convert.variants import EDGE, names as variant_names
from model.tables import ROOT, load_artifact, machine_line


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def pipeline_quick() -> str:
    """The quick preset's run on a fresh clone (artifacts/pipeline-quick: summary.json, pipeline.json)."""
    from sparse_edge.pipeline import summary_markdown

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
