"""Training-step benchmark: what one optimizer step of a model shape costs, per pattern, in one run.

For a training recipe (a ``configs/*.json``), each attention pattern in ``--patterns`` gets the
recipe's model with that pattern and one XLA-compiled AdamW step on ``--batch`` random documents of
``--length`` ids (the recipe's own batch: ``batch_tokens`` / length). Every pattern is measured in
its own process, so its peak memory is its own; a pattern that outgrows ``--memory-limit-gb`` or
``--timeout`` is recorded as ``oom`` or ``timeout``. From the median step and the bytes of the
recipe's training split cut at the length, the time of one epoch follows.

This is how the side-by-side table says what it would have cost to train a pattern it did not train.
"""

from __future__ import annotations

import json
import sys
import time

from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact, machine_line
from sparse_edge.bench.attention import BenchSettings, _median, _run_child
from sparse_edge.bench.memory import peak_rss_mb


def worker(model_json: str, length: int, batch: int, repeats: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from model.config import TransformerConfig
    from model.transformer import SparseTransformerClassifier

    baseline = peak_rss_mb()
    config = TransformerConfig.from_dict(dict(json.loads(model_json), max_length=length))
    model = SparseTransformerClassifier(config)
    model.build(None)
    optimizer = keras.optimizers.AdamW(1e-3)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(5, config.vocab_size, (batch, length)), tf.int32)
    y = tf.constant(rng.integers(0, config.num_classes, batch), tf.int32)

    @tf.function(jit_compile=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model.logits(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    start = time.perf_counter()
    step(x, y).numpy()                                  # compile
    compile_s = time.perf_counter() - start
    step(x, y).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x, y).numpy()
        times.append(time.perf_counter() - start)
    return {"times_s": times, "compile_s": compile_s, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline,
            "parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables))}


def training_bytes(config_path: str, length: int, data_dir=None, manual_dir=None) -> int:
    """Ids a training epoch of the recipe reads at ``length``: IMDB's training split less the recipe's
    validation reviews, each text cut at ``length`` ids ([CLS] and [SEP] included)."""
    from training.data import train_validation_split
    from training.sources import DataSpec, open_data
    from training.train_config import TrainConfig

    recipe = TrainConfig.load(config_path)
    data = open_data(DataSpec("imdb", data_dir=data_dir, manual_dir=manual_dir)).load("train", limit=recipe.train_limit)
    train, _ = train_validation_split(data, recipe.val_fraction, recipe.validation_seed)
    return int(sum(min(len(text.encode("utf-8")) + 2, length) for text in train.texts))


def run_train_step_benchmark(config_path: str, patterns: list[str], length: int, json_path: str,
                             settings: BenchSettings, data_dir=None, manual_dir=None) -> dict:
    from tqdm import tqdm

    from training.files import write_json_atomic
    from model.patterns import PATTERNS
    from training.train_config import TrainConfig

    recipe = TrainConfig.load(config_path)
    for name in patterns:
        if name not in PATTERNS:
            raise ValueError(f"unknown attention pattern {name!r}; choose from {', '.join(PATTERNS)}")
    batch = max(1, min(recipe.max_batch, recipe.batch_tokens // length))
    epoch_ids = training_bytes(config_path, length, data_dir, manual_dir)
    rows = []
    for pattern in tqdm(patterns, desc="training step", unit="pattern"):
        model = recipe.model.to_dict()
        model["pattern"] = dict(model["pattern"], name=pattern)
        result = _run_child(["step", json.dumps(model), str(length), str(batch), str(settings.repeats)], settings,
                            module="sparse_edge.bench.train_step")
        row = {"pattern": pattern, "status": result["status"]}
        if result["status"] == "ok":
            median = _median(result["times_s"])
            row.update(median_step_s=round(median, 3), times_s=[round(t, 3) for t in result["times_s"]],
                       us_per_id=round(median / (batch * length) * 1e6, 1),
                       epoch_seconds=round(median / (batch * length) * epoch_ids, 1),
                       peak_rss_mb=round(result["peak_rss_mb"], 0), compile_s=round(result["compile_s"], 1),
                       parameters=result["parameters"])
        else:
            row["error"] = result.get("error")
        rows.append(row)
    report = {
        "benchmark": "train-step", "config": config_path,
        "command": "sparse-edge bench train-step " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "train-step"]
        else "sparse-edge bench train-step",
        "length": length, "batch": batch, "epoch_ids": epoch_ids, "settings": vars(settings),
        "note": "an epoch's hours assume every batch full at this length; the trainer buckets by length, so a real "
                "epoch of local attention takes less (most reviews are shorter than the cut)",
        "machine": describe_machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows,
    }
    write_json_atomic(json_path, report)
    return report


if __name__ == "__main__":  # worker entry point: python -m sparse_edge.bench.train_step step MODEL_JSON N BATCH REPEATS
    kind, *rest = sys.argv[1:]
    if kind != "step":
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(worker(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))))


def train_step_bench(path: str = "artifacts/lra-text/train-step.json") -> str:
    """Training-step cost per attention pattern (committed JSON of ``sparse-edge bench train-step``)."""
    report = load_artifact(path)
    lines = [f"One AdamW step of `{report['config']}`'s model, {report['batch']} random documents of "
             f"{report['length']:,} ids, XLA, median of {report['settings']['repeats']}:\n",
             "| attention | step (s) | µs per id | one epoch at this length (h) | peak memory (MB) |",
             "|---|---:|---:|---:|---:|"]
    for r in report["rows"]:
        if r["status"] == "ok":
            lines.append(f"| {r['pattern']} | {r['median_step_s']:.2f} | {r['us_per_id']:.1f} | {r['epoch_seconds'] / 3600:.2f} | "
                         f"{r['peak_rss_mb']:,.0f} |")
        else:
            lines.append(f"| {r['pattern']} | {r['status']} | | | |")
    lines.append("")
    lines.append(f"An epoch: {report['epoch_ids']:,} ids ({report['note']}). Machine: {machine_line(report['machine'])}; "
                 f"{report['date']}. Reproduce: `{report['command']}`.")
    return "\n".join(lines)
