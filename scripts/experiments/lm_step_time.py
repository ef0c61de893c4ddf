"""Where a language-model training step's time goes: median seconds per step of candidate sizes.

Each candidate trains a few steps on random tokens at one bucket length (batch of about
``--batch-tokens`` tokens) after its compiled step is traced; prints one JSON line per candidate.
Run: .venv/bin/python scripts/experiments/lm_step_time.py --candidates d256-l4 d256-l4-full
"""
import argparse
import json
import time

import numpy as np

from model.config import TransformerConfig
from model.patterns import AttentionPattern
from training.train_lm import LMConfig, LMTrainer

CANDIDATES = {   # name: (d_model, layers, heads, d_ff, sampled_softmax, pattern)
    "d256-l4": (256, 4, 4, 1024, 1024, "global"),
    "d256-l4-s2048": (256, 4, 4, 1024, 2048, "global"),
    "d256-l4-full": (256, 4, 4, 1024, 0, "global"),
    "d256-l6": (256, 6, 4, 1024, 1024, "global"),
    "d384-l4": (384, 4, 6, 1536, 1024, "global"),
    "d384-l5": (384, 5, 6, 1536, 2048, "global"),
    "d384-l6": (384, 6, 6, 1536, 2048, "global"),
    "d512-l6": (512, 6, 8, 2048, 2048, "global"),
    "d256-l4-dense": (256, 4, 4, 1024, 1024, "dense"),
    "d128-l2": (128, 2, 4, 256, 1024, "global"),
}

parser = argparse.ArgumentParser()
parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
parser.add_argument("--length", type=int, default=1024)
parser.add_argument("--batch-tokens", type=int, default=8192)
parser.add_argument("--steps", type=int, default=6)
args = parser.parse_args()
for name in args.candidates:
    d, layers, heads, ff, sampled, pattern = CANDIDATES[name]
    model = TransformerConfig(vocab_size=12000, max_length=1024, d_model=d, num_heads=heads, num_layers=layers,
                              d_ff=ff, dropout=0.1, positional="relative",
                              pattern=AttentionPattern(pattern, block_size=64, window=4, num_global=1, causal=True))
    config = LMConfig(model=model, steps=100, sampled_softmax=sampled, whole_reviews=True,
                      batch_tokens=args.batch_tokens)
    trainer = LMTrainer(config, np.ones(12000))
    rng = np.random.default_rng(0)
    batch = rng.integers(1, 12000, (max(1, args.batch_tokens // args.length), args.length + 1)).astype(np.int32)
    start = time.perf_counter()
    trainer.step(batch, 0)
    compile_s = time.perf_counter() - start
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        trainer.step(batch, i + 1)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    params = sum(int(np.prod(v.shape)) for v in trainer.model.trainable_variables)
    print(json.dumps({"candidate": name, "length": args.length, "batch": len(batch), "params": params,
                      "compile_s": round(compile_s, 1), "step_s": round(median, 3),
                      "tokens_per_s": round(batch.shape[0] * args.length / median)}), flush=True)
