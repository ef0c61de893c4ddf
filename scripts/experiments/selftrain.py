"""Self-training the n-gram half: NB-LR refitted on the training reviews plus unlabelled reviews
that a first NB-LR labels confidently (margins from the command line); alone and stacked."""
import sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from training.ngrams import NgramHashing, NbLogisticRegression
sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split(unsupervised=True)
d = np.load("runs/exp/deep_probs.npz")
logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
dv, dt = logit(d["validation"]), logit(d["test"])
hashing = NgramHashing(len(tok), 400000, 400000)
first = NbLogisticRegression(hashing).fit(S["train"], tr.labels)
p_unl = 1 / (1 + np.exp(-first.logits(S["unsupervised"])))
for margin in [float(m) for m in sys.argv[1:]]:
    t = time.time()
    keep = np.abs(p_unl - 0.5) >= margin
    seqs = S["train"] + [s for s, k in zip(S["unsupervised"], keep) if k]
    labels = np.concatenate([tr.labels, (p_unl[keep] >= 0.5).astype(np.int64)])
    m = NbLogisticRegression(hashing).fit(seqs, labels)
    wv, wt = m.logits(S["validation"]), m.logits(S["test"])
    s = LogisticRegression(C=1.0).fit(np.stack([dv, wv], 1), va.labels)
    acc = (s.predict(np.stack([dt, wt], 1)) == test.labels).mean()
    print(f"margin {margin}: +{keep.sum()} unlabelled, wide val {((wv>0)==va.labels).mean():.4f} "
          f"test {((wt>0)==test.labels).mean():.4f} stacked test {acc:.4f} ({time.time()-t:.0f}s)", flush=True)
