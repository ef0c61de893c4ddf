"""Tokenizer benchmark: reviews per second on one core, with a cold and a warm word cache."""

from __future__ import annotations

import statistics
import time

from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact
from sparse_edge.bench.goals import GOALS as ALL_GOALS


def run_tokenizer_benchmark(vocab_path: str, json_path: str, limit: int, repeats: int, data_dir=None) -> dict:
    from edge_runtime.tokenizer import WordPieceTokenizer
    from training.files import write_json_atomic
    from training.data import load_imdb

    texts = load_imdb("test", data_dir, limit=limit).texts
    cold, warm = [], []
    for _ in range(repeats):
        tokenizer = WordPieceTokenizer.from_file(vocab_path)  # empty word cache: a cold start
        for bucket in (cold, warm):
            start = time.perf_counter()
            for text in texts:
                tokenizer.token_ids(text)
            bucket.append(len(texts) / (time.perf_counter() - start))
    report = {
        "benchmark": "tokenizer", "reviews": len(texts), "repeats": repeats, "vocab": vocab_path,
        "reviews_per_second_cold_median": round(statistics.median(cold), 1),
        "reviews_per_second_warm_median": round(statistics.median(warm), 1),
        "cold": [round(x, 1) for x in cold], "warm": [round(x, 1) for x in warm],
        "goal_reviews_per_second": ALL_GOALS["tokenizer"]["min_reviews_per_second"], "threads": 1,
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d"),
        "command": f"sparse-edge bench tokenizer --vocab {vocab_path} --limit {limit} --repeats {repeats}",
    }
    write_json_atomic(json_path, report)
    return report


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def tokenizer_bench() -> str:
    """Tokenizer speed on one core (artifacts/bench/tokenizer.json)."""
    t = load_artifact("artifacts/bench/tokenizer.json")
    return (f"Speed on one core: **{t['reviews_per_second_cold_median']:,.0f} reviews/s** with an empty word cache, "
            f"{t['reviews_per_second_warm_median']:,.0f} with a warm one (median of {t['repeats']}, "
            f"{t['reviews']:,} IMDB test reviews; goal {t['goal_reviews_per_second']:,}). Reproduce: `{t['command']}`.")
