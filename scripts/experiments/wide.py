import os, sys, time, json
import numpy as np
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
from training.batching import pad_batch
import sys; sys.path.insert(0, "scripts/experiments")
from plain_hashing import NgramHashing, NbLogisticRegression
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
print("tokenized", flush=True)
for cfg in json.loads(sys.argv[1]):
    C = cfg.pop("C", 0.1)
    t = time.time()
    m = NbLogisticRegression(NgramHashing(len(tok), **cfg), regularization=C).fit(S["train"], tr.labels)
    va_acc = ((m.logits(S["validation"]) > 0) == va.labels).mean()
    te_acc = ((m.logits(S["test"]) > 0) == test.labels).mean()
    print(cfg, "C", C, f"val {va_acc:.4f} test {te_acc:.4f} {time.time()-t:.0f}s", flush=True)
