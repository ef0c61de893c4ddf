import sys, json, time
import numpy as np
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
import sys; sys.path.insert(0, "scripts/experiments")
from plain_hashing import NgramHashing, NbLogisticRegression
from sklearn.linear_model import LogisticRegression
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
d = np.load("runs/exp/deep_probs.npz")
logit = lambda p: np.log(np.clip(p,1e-6,1-1e-6)/(1-np.clip(p,1e-6,1-1e-6)))
dv, dt = logit(d["validation"]), logit(d["test"])
for cfg in json.loads(sys.argv[1]):
    C = cfg.pop("C", 0.1)
    m = NbLogisticRegression(NgramHashing(len(tok), **cfg), regularization=C).fit(S["train"], tr.labels)
    wv, wt = m.logits(S["validation"]), m.logits(S["test"])
    np.savez(f"runs/exp/wide_{cfg.get('order')}_{cfg.get('bigram_buckets')}_{cfg.get('trigram_buckets')}.npz", validation=wv, test=wt)
    s = LogisticRegression(C=1.0).fit(np.stack([dv, wv], 1), va.labels)
    acc = (s.predict(np.stack([dt, wt], 1)) == test.labels).mean()
    avg = (((dt + wt) > 0) == test.labels).mean()
    print(cfg, C, f"wide test {((wt>0)==test.labels).mean():.4f} stack {acc:.4f} coef {s.coef_} {s.intercept_} plain-sum {avg:.4f}", flush=True)
