"""Invoke time per input length of two .tflite files on this host, interleaved (they share its noise).

    git show 96b76ef:artifacts/imdb-classifier/tflite/int8.tflite > runs/exp/transformer-int8.tflite
    python scripts/experiments/latency_vs_transformer.py runs/exp/transformer-int8.tflite artifacts/imdb-classifier/tflite/int8.tflite
"""
import sys, time
import numpy as np
from edge_runtime import TextClassifier

a, b = TextClassifier(sys.argv[1]), TextClassifier(sys.argv[2])
for n in (128, 320, 1024):
    ids = np.random.default_rng(0).integers(5, 12000, (1, n)).astype(np.int32)
    times = {0: [], 1: []}
    for _ in range(30):
        for k, c in ((0, a), (1, b)):
            start = time.perf_counter()
            c.probabilities(ids)
            times[k].append((time.perf_counter() - start) * 1000)
    print(f"length {n}: {sys.argv[1]} {np.median(times[0][1:]):.2f} ms, {sys.argv[2]} {np.median(times[1][1:]):.2f} ms "
          f"(median of 29, interleaved)", flush=True)
