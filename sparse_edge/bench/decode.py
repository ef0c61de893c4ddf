"""Decoding benchmark: what a language model's token costs on the device, with the cache and without.

For each ``.tflite`` variant of a language-model folder, in its own process that imports numpy and
the TFLite interpreter only, on one thread:

- tokens per second of the cached decoder (``decode``) at the positions in ``--positions``: the
  text is grown one token at a time from [CLS] to the last position, and each position's figure is
  the median step time of the ``WINDOW`` steps ending there, timed ``ROUNDS`` times from the same
  cache and the fastest round kept (a busy machine only ever slows a round down; a cache of fixed
  size: the goal is that the positions stay within 20% of each other);
- first-token latency: ``prefill`` of a ``--prompt-tokens`` prompt (the median of ``REPEATS``);
- recomputing the window (``next_token``, the way a file without a cache generates): the median
  time of one token with a full window of the model's ``max_length`` ids, and the speed-up of
  the cache at that context;
- the process's peak resident memory, and the cache's bytes.

Token ids are drawn from the vocabulary with a fixed seed: the time of a step does not depend on
which token it is. Writes JSON where ``--json`` says; compare medians and ratios within one run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from sparse_edge.bench.memory import peak_rss_mb, run_child
from sparse_edge.bench.goals import GOALS as ALL_GOALS

WINDOW = 64          # decode steps whose median is a position's time
ROUNDS = 3           # each position's steps are timed this often from the same cache; the fastest round counts
REPEATS = 5          # prefills and full-window steps timed
GOALS = ALL_GOALS["decode"]




def worker(model_path: str, positions: list[int], prompt_tokens: int) -> dict:
    """In a fresh process: the measurements of one file (see the module docstring)."""
    from edge_runtime.generator import TextGenerator

    generator = TextGenerator(model_path, num_threads=1)
    vocab = len(generator.tokenizer)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1000, vocab, max(max(positions), generator.context + REPEATS) + 1).tolist()
    prompt = [generator.tokenizer.cls_id, *tokens[:prompt_tokens - 1]]
    cached = generator.model(cached=True)
    prefill_ms = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        cached.start(prompt)
        prefill_ms.append(1000 * (time.perf_counter() - start))
    cached.start([generator.tokenizer.cls_id])
    at = {}
    for p in sorted(positions):   # grow the text to WINDOW steps before p, then time those steps ROUNDS times
        while cached.position < max(1, p - WINDOW + 1):
            cached.advance(tokens[cached.position])
        saved = (cached.position, dict(cached.cache))
        medians = []
        for _ in range(ROUNDS):
            cached.position, cached.cache = saved[0], dict(saved[1])
            times = []
            while cached.position <= p:
                start = time.perf_counter()
                cached.advance(tokens[cached.position])
                times.append(1000 * (time.perf_counter() - start))
            medians.append(float(np.median(times)))
        at[str(p)] = {"median_ms": min(medians), "tokens_per_s": 1000 / min(medians), "rounds_ms": medians}
    window = generator.model(cached=False)
    full = [generator.tokenizer.cls_id, *tokens[:generator.context - 1]]
    window.start(full)
    recompute_ms = []
    for token in tokens[generator.context:generator.context + REPEATS]:
        start = time.perf_counter()
        window.advance(token)
        recompute_ms.append(1000 * (time.perf_counter() - start))
    assert "tensorflow" not in sys.modules, "the device measurement must not load TensorFlow"
    return {"decode": at, "prefill_ms": float(np.median(prefill_ms)), "prompt_tokens": len(prompt),
            "recompute_ms": float(np.median(recompute_ms)), "recompute_context": generator.context,
            "cache_bytes": generator.cache_bytes(), "peak_rss_mb": peak_rss_mb(), "backend": generator.backend,
            "backend_version": generator.backend_version}




def summarize(row: dict, positions: list[int]) -> dict:
    speeds = [row["decode"][str(p)]["tokens_per_s"] for p in positions]
    at = str(GOALS["speedup_vs_recompute_at"]) if str(GOALS["speedup_vs_recompute_at"]) in row["decode"] \
        else str(min(positions, key=lambda p: abs(p - row["recompute_context"])))
    return {"spread_across_positions": float(max(speeds) / min(speeds) - 1),
            "speedup_vs_recompute": float(row["recompute_ms"] / row["decode"][at]["median_ms"]),
            "speedup_measured_at": int(at)}


def run_decode_benchmark(model_dir: str, variants: list[str], positions: list[int], prompt_tokens: int,
                         json_path: str, progress: bool = True) -> dict:
    from training.files import write_json_atomic
    from training.machine import describe_machine
    from training.saved import ModelFolder

    folder = ModelFolder(model_dir)
    rows = {}
    for variant in variants:
        path = folder.tflite(variant)
        if not path.exists():
            raise ValueError(f"{path} does not exist; convert the model first (`sparse-edge convert {model_dir}`)")
        if progress:
            print(f"{variant}: decoding to position {max(positions):,} ...", flush=True)
        row = run_child("sparse_edge.bench.decode", ["--worker", str(path), "--positions",
                                                     ",".join(map(str, positions)), "--prompt-tokens", str(prompt_tokens)])
        row.update(summarize(row, positions))
        rows[variant] = row
    goals = {
        "flat": all(r["spread_across_positions"] <= GOALS["max_spread_across_positions"] for r in rows.values()),
        "speedup": all(r["speedup_vs_recompute"] >= GOALS["min_speedup_vs_recompute"] for r in rows.values()),
        "int8_tokens_per_s": (min(v["tokens_per_s"] for v in rows["int8"]["decode"].values())
                              >= GOALS["min_int8_tokens_per_s"]) if "int8" in rows else None,
    }
    report = {"model_dir": str(folder.path), "positions": positions, "window_steps": WINDOW, "threads": 1,
              "variants": rows, "goals": GOALS, "goals_met": goals, "machine": describe_machine(),
              "command": f"sparse-edge bench decode --model-dir {folder.path} --variants {','.join(variants)} "
                         f"--positions {','.join(map(str, positions))} --json {json_path}"}
    write_json_atomic(json_path, report)
    return report


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--positions", required=True)
    parser.add_argument("--prompt-tokens", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(worker(args.worker, [int(p) for p in args.positions.split(",")], args.prompt_tokens)))
