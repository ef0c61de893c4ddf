import sys, time
import numpy as np, scipy.sparse as sp
from pathlib import Path
from sklearn.linear_model import LogisticRegression
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
V = 12000
def keys(ids):
    ids = np.asarray(ids, np.int64); real = ids >= 5
    k = [ids[real]]
    a, b = ids[:-1], ids[1:]
    k.append((V + a * V + b)[real[:-1] & real[1:]])
    c = ids[2:]
    k.append((V + V*V + (a[:-1] * V + b[:-1]) * V + c)[real[:-2] & real[1:-1] & real[2:]])
    return np.unique(np.concatenate(k))
K = {n: [keys(s) for s in v] for n, v in S.items()}
def matrix(klist, feats):
    rows, cols = [], []
    for i, k in enumerate(klist):
        w = np.searchsorted(feats, k); w = np.minimum(w, len(feats) - 1); ok = feats[w] == k
        cols.append(w[ok]); rows.append(np.full(ok.sum(), i))
    return sp.csr_matrix((np.ones(sum(len(c) for c in cols), np.float32), (np.concatenate(rows), np.concatenate(cols))), shape=(len(klist), len(feats)))
def nblr(feats, C=0.1):
    x = matrix(K["train"], feats); y = tr.labels
    p = 1 + np.asarray(x[y == 1].sum(0)).ravel(); q = 1 + np.asarray(x[y == 0].sum(0)).ravel()
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    lr = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000).fit(x.multiply(r).tocsr(), y)
    w = lr.coef_.ravel() * r
    acc = lambda n, lab: (((matrix(K[n], feats) @ w + lr.intercept_[0]) > 0) == lab).mean()
    return w, acc("validation", va.labels), acc("test", test.labels)
allf = np.unique(np.concatenate(K["train"]))
t = time.time(); w, v, te = nblr(allf); print("exact all", len(allf), v, te, time.time() - t, flush=True)
# frequency >= 2
cnt = np.bincount(np.searchsorted(allf, np.concatenate(K["train"])), minlength=len(allf))
f2 = allf[cnt >= 2]; w2, v, te = nblr(f2); print("exact df>=2", len(f2), v, te, flush=True)
for nb in [int(x) for x in sys.argv[1:]]:
    h = (f2 * 2654435761 % (2**61 - 1)) % nb
    imp = np.abs(w2)
    order = np.lexsort((-imp, h))
    first = np.ones(len(order), bool); first[1:] = h[order][1:] != h[order][:-1]
    kept = np.sort(f2[order][first])
    _, v, te = nblr(kept); print("buckets", nb, "kept", len(kept), v, te, flush=True)
