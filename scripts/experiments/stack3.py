"""Richer stackers of the Transformer's and the shipped n-gram half's log-odds (fitted on validation)."""
import sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from training.ngrams import NgramHashing, NbLogisticRegression
sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
d = np.load("runs/exp/deep_probs.npz")
logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
dv, dt = logit(d["validation"]), logit(d["test"])
m = NbLogisticRegression(NgramHashing(len(tok), 400000, 400000)).fit(S["train"], tr.labels)
wv, wt = m.logits(S["validation"]), m.logits(S["test"])
features = {
    "linear (shipped)": lambda a, b: np.stack([a, b], 1),
    "+ product": lambda a, b: np.stack([a, b, a * b], 1),
    "+ product, squares": lambda a, b: np.stack([a, b, a * b, a * a, b * b], 1),
    "+ agreement sign": lambda a, b: np.stack([a, b, np.sign(a) * np.sign(b) * np.minimum(abs(a), abs(b))], 1),
}
for name, f in features.items():
    for C in (0.1, 1.0, 10.0):
        s = LogisticRegression(C=C, max_iter=1000).fit(f(dv, wv), va.labels)
        print(f"{name:22s} C={C:<5} val {(s.predict(f(dv, wv)) == va.labels).mean():.4f} "
              f"test {(s.predict(f(dt, wt)) == test.labels).mean():.4f}", flush=True)
