"""Quantized language models judged like classifiers: each file's held-out perplexity against Keras.

The Keras model reads each of the language model's own held-out reviews whole (as training judged
it, ``training.train_lm.position_losses``). Each ``.tflite`` reads the same reviews the way the device
generates: ``prefill`` of the review's [CLS], then ``decode`` one token at a time, scoring every
next token with a full softmax over its logits. The ratio of the two perplexities is held to the
variant's ``max_perplexity_ratio`` (``convert/variants.py``). A file without a cached decoder would
need one full window per token (hours for a review set) and is refused with that reason.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from convert.variants import LANGUAGE_MODEL as LANGUAGE_MODEL_TARGET, names, variant as variant_of
from training.saved import ModelFolder

RATIO = "max_perplexity_ratio"


def keras_losses(folder: ModelFolder, config, reviews: list[np.ndarray]) -> tuple[float, int]:
    """Summed loss (nats) and predicted tokens of the Keras model over whole reviews."""
    from training.train_lm import LMTrainer, position_losses

    trainer = LMTrainer(config, np.ones(config.model.vocab_size))
    trainer.model = folder.load_keras()
    longest = max(len(r) for r in reviews) - 1
    lengths = (config.model.device_lengths(max(longest, config.model.max_length)) if config.model.reads_any_length
               else config.model.bucket_lengths)
    if not config.model.reads_any_length and longest > config.model.max_length:
        raise ValueError(f"a held-out review has {longest + 1} tokens, more than this model reads "
                         f"({config.model.max_length}); perplexity parity needs a model that reads any length")
    measured = position_losses(trainer, reviews, lengths, max(config.batch_tokens, config.model.max_length * 8))
    return float(measured["sums"].sum()), int(measured["counts"].sum())


def device_losses(path: Path, reviews: list[np.ndarray], progress: bool = True) -> tuple[float, int, float]:
    """Summed loss and predicted tokens of one ``.tflite`` decoding every review token by token; seconds."""
    from tqdm import tqdm

    from edge_runtime.generator import TextGenerator

    generator = TextGenerator(path, num_threads=1)
    if not generator.decoder:
        raise ValueError(f"{path} has no cached decoder: scoring each token through the full window would take "
                         "hours; convert a model with relative positions and a local or global pattern")
    total, count, started = 0.0, 0, time.perf_counter()
    for review in tqdm(reviews, desc=path.stem, unit="review", disable=not progress, leave=False):
        model = generator.model(cached=True)
        logits = model.start([int(review[0])])
        for token in review[1:]:
            shifted = logits.astype(np.float64) - logits.max()
            total -= float(shifted[token] - np.log(np.exp(shifted).sum()))
            count += 1
            logits = model.advance(int(token))
    return total, count, time.perf_counter() - started


def run_lm_parity(model_dir: str | Path, variants: list[str] | None = None, limit: int | None = None,
                  data_dir: str | None = None, progress: bool = True, out_dir: str | Path | None = None,
                  cache_dir: str = "runs/cache/lm-tokens") -> dict:
    """Held-out perplexity of every variant against the Keras model; writes ``parity.json`` (``out_dir``)."""
    import json

    from training.files import write_json_atomic
    from training.machine import describe_machine
    from training.train_lm import LMConfig, lm_data

    folder = ModelFolder(model_dir)
    folder.require(folder.MODEL, folder.TRAIN_CONFIG, folder.VOCAB,
                   hint="train one with `sparse-edge train-lm --out DIR`, then `sparse-edge convert DIR`")
    config = LMConfig.from_dict(json.loads(folder.train_config_path.read_text()))
    variants = variants or [v for v in names(LANGUAGE_MODEL_TARGET) if folder.tflite(v).exists()]
    missing = [v for v in variants if not folder.tflite(v).exists()]
    if missing or not variants:
        raise ValueError(f"no {', '.join(missing) or 'converted'} .tflite in {folder.tflite_dir}; run "
                         f"`sparse-edge convert {folder.path}` first")
    data = lm_data(config, folder.tokenizer(), data_dir, Path(cache_dir), progress)
    reviews = data.val_sequences[:limit]
    started = time.perf_counter()
    total, count = keras_losses(folder, config, reviews)
    reference = {"perplexity": math.exp(total / count), "loss_nats_per_token": total / count,
                 "seconds": round(time.perf_counter() - started, 1)}
    report = {"reviews": len(reviews), "tokens": count, "keras": reference, "variants": {}, "failures": {},
              "reading": "Keras: each review whole; files: prefill of [CLS], then decode token by token",
              "machine": describe_machine()}
    for name in variants:
        path = folder.tflite(name)
        v_total, v_count, seconds = device_losses(path, reviews, progress)
        if v_count != count:
            raise RuntimeError(f"{path} scored {v_count} tokens, the Keras model {count}")
        perplexity = math.exp(v_total / v_count)
        limit_ratio = variant_of(name).thresholds.get(RATIO)
        row = {"perplexity": perplexity, "ratio_to_keras": perplexity / reference["perplexity"],
               "max_ratio": limit_ratio, "size_bytes": path.stat().st_size, "seconds": round(seconds, 1)}
        report["variants"][name] = row
        if limit_ratio is not None and row["ratio_to_keras"] > limit_ratio:
            report["failures"][name] = [f"perplexity {perplexity:.2f} is {row['ratio_to_keras']:.4f}x the Keras "
                                        f"model's (at most {limit_ratio}x)"]
    report["passed"] = not report["failures"]
    report["command"] = (f"sparse-edge parity {folder.path} --variants {','.join(variants)}"
                         + (f" --limit {limit}" if limit else "") + (f" --out {out_dir}" if out_dir else ""))
    out = ModelFolder(out_dir) if out_dir else folder
    write_json_atomic(out.parity_path, report)
    return report
