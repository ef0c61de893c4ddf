import sys, json, time
import numpy as np
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from model.data import load_imdb, tokenize_cached, train_validation_split
from model.ngrams import NgramHashing, NbLogisticRegression
from model.train_hybrid import truncate
from sklearn.linear_model import LogisticRegression
tok = WordPieceTokenizer.from_file("artifacts/imdb-classifier/vocab.txt")
cache = Path("runs/cache")
train_all = load_imdb("train"); test = load_imdb("test")
tr, va = train_validation_split(train_all, 0.1, 0)
S = {n: truncate(tokenize_cached(r, tok, cache / f"{n}.npz", False), 1024) for n, r in (("train", tr), ("validation", va), ("test", test))}
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
