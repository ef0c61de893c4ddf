"""What a user's process needs to classify one document with the byte model's int8 file, per length.

Each length in its own process (run from the repository with the project's Python):
    for n in 1024 4096 16384; do .venv/bin/python scripts/experiments/byte_memory.py $n; done
prints resident memory before loading, after loading, after classifying one document of n ids,
and the process's own peak (VmHWM).
"""
import json
import sys

from edge_runtime import TextClassifier
from sparse_edge.bench.memory import peak_rss_mb, rss_mb

n = int(sys.argv[1])
before = rss_mb()
classifier = TextClassifier("artifacts/lra-text/model/tflite/int8.tflite", num_threads=1)
loaded = rss_mb()
result = classifier.classify("a" * (n - 2))
print(json.dumps({"ids": result.n_tokens, "before_mb": round(before), "loaded_mb": round(loaded),
                  "classified_mb": round(rss_mb()), "peak_mb": round(peak_rss_mb())}))
