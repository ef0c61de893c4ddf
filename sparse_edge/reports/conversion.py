"""Markdown tables of the committed parity reports (``parity.json`` of the edge files and of the
MediaPipe files), collected by ``sparse_edge.report``."""

from __future__ import annotations

import json

from convert.variants import REFERENCE
from sparse_edge.reports.tables import ROOT, load_artifact
from training.saved import ModelFolder


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def parity() -> str:
    """What quantization cost, per variant, on the whole test split (artifacts/imdb-classifier/parity.json)."""
    r = load_artifact("artifacts/imdb-classifier/parity.json")
    lines = [f"Reference: the Keras float32 model, **{r['reference']['accuracy']:.2%}** on {r['n']:,} "
             f"{r['split']} reviews. Each `.tflite` runs through `edge_runtime` ({r['versions']['runtime']}), "
             "one review at a time on 1 thread.\n",
             "| variant | size | vs float32 | vs float32, integer tables left out | accuracy | Δ accuracy | agreement "
             "| max abs Δp | p50 / p95 ms per review | thresholds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    fixed, float32 = r.get("integer_table_bytes", 0), r["variants"][REFERENCE]["size_bytes"]
    for variant, row in r["variants"].items():
        failures = r["failures"].get(variant)
        lines.append(f"| `{variant}` | {row['size_bytes'] / 1e6:.2f} MB | {row['size_vs_float32']:.1%} | "
                     f"{(row['size_bytes'] - fixed) / (float32 - fixed):.1%} | "
                     f"{row['accuracy']:.2%} | {row['delta_accuracy_pp']:+.2f} pp | {row['agreement']:.2%} | "
                     f"{row['max_abs_prob_diff']:.1e} | {row['latency_ms_p50']:.1f} / {row['latency_ms_p95']:.1f} | "
                     f"{'❌ ' + '; '.join(failures) if failures else '✅ met'} |")
    lines.append("")
    conversion = ModelFolder(ROOT / "artifacts/imdb-classifier").conversion_path
    if conversion.exists():
        c = json.loads(conversion.read_text())
        lines.append(f"One file holds {len(c['lengths'])} input lengths ({', '.join(map(str, c['lengths']))}); the float32 "
                     f"flatbuffer is {c['float32_lengths_vs_single_length']:.2f}× the same model converted for one length "
                     f"(`tflite/conversion.json`). int8 keeps {len(c['float_nodes_int8'])} ops in float.")
        lines.append("")
    if fixed:
        lines.append(f"The size goal (at most 30% of float32) leaves out the {fixed / 1e6:.2f} MB of integer tables "
                     "that every variant stores as they are (the n-gram fingerprints: int8 data, nothing to quantize).")
        lines.append("")
    lines.append(f"Reproduce: `sparse-edge convert artifacts/imdb-classifier` then "
                 f"`sparse-edge parity artifacts/imdb-classifier --split {r['split']}` "
                 "(full table, flipped reviews: `artifacts/imdb-classifier/parity.md`, `parity.json`); "
                 "`--recheck` judges a recorded report against the thresholds again without rerunning it.")
    return "\n".join(lines)


def mediapipe_parity() -> str:
    """MediaPipe's TextClassifier against edge_runtime on the shipped MediaPipe files: all 25,000 test reviews
    and the hostile texts through the newest mediapipe (artifacts/imdb-classifier-mediapipe/mediapipe/parity.json)."""
    from convert.mediapipe_parity import parity_markdown

    blocks = []
    folder = ModelFolder("artifacts/imdb-classifier-mediapipe")
    for directory in (folder.mediapipe_dir, folder.mediapipe_web_dir):
        report = load_artifact((directory / ModelFolder.PARITY).as_posix())
        table = parity_markdown(report).split("\n", 2)[2].strip()   # no title
        runtime = (f"mediapipe {report['mediapipe']}'s TextClassifier" if report["mediapipe"][:1].isdigit()
                   else f"the web page ({report['mediapipe']})")
        blocks.append(f"{report['n']:,} IMDB test reviews and the hostile texts through {runtime}, files written by "
                      f"mediapipe {report['metadata_written_by']}: the goal is "
                      f"{'met' if report['passed'] else '**not met**'}; both runtimes took " + " and ".join(
                          f"{row['seconds'] / 60:.0f} minutes ({variant})" for variant, row in report["variants"].items())
                      + f" here.\n\n{table}")
    return "\n\n".join(blocks)
