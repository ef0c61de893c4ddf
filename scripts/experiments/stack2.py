import sys, json, time
import numpy as np
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
from training.ngrams import NgramHashing, NbLogisticRegression
from training.train_hybrid import truncate
from sklearn.linear_model import LogisticRegression
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
d = np.load("runs/exp/deep_probs.npz")
logit = lambda p: np.log(np.clip(p,1e-6,1-1e-6)/(1-np.clip(p,1e-6,1-1e-6)))
dv, dt = logit(d["validation"]), logit(d["test"])
for b2, b3, C in json.loads(sys.argv[1]):
    t = time.time()
    m = NbLogisticRegression(NgramHashing(len(tok), b2, b3), C).fit(S["train"], tr.labels)
    wv, wt = m.logits(S["validation"]), m.logits(S["test"])
    s = LogisticRegression(C=1.0).fit(np.stack([dv, wv], 1), va.labels)
    acc = (s.predict(np.stack([dt, wt], 1)) == test.labels).mean()
    print(b2, b3, C, f"features {len(m.features)} wide val {((wv>0)==va.labels).mean():.4f} test {((wt>0)==test.labels).mean():.4f} stack test {acc:.4f} coef {s.coef_} ({time.time()-t:.0f}s)", flush=True)
