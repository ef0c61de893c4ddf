import sys, time, zlib
import numpy as np
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
import sys; sys.path.insert(0, "scripts/experiments")
from plain_hashing import NgramHashing, NbLogisticRegression
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
inv = tok.inverse
W = int(sys.argv[1])
def words(ids):
    out = [2]
    cur = None
    for i in ids[1:-1]:
        t = inv[int(i)]
        if t.startswith("##") and cur is not None:
            cur += t
        else:
            if cur is not None: out.append(cur)
            cur = t
    if cur is not None: out.append(cur)
    return np.array([2] + [5 + zlib.crc32(w.encode()) % (W - 5) if isinstance(w, str) else w for w in out[1:]] + [3])
t = time.time()
WS = {k: [words(s) for s in v] for k, v in S.items()}
print("words", time.time() - t, flush=True)
for b2, b3 in [(800000, 800000)]:
    m = NbLogisticRegression(NgramHashing(W, b2, b3), 0.1).fit(WS["train"], tr.labels)
    print(W, b2, b3, "val", ((m.logits(WS["validation"]) > 0) == va.labels).mean(), "test", ((m.logits(WS["test"]) > 0) == test.labels).mean(), flush=True)
    m = NbLogisticRegression(NgramHashing(W, b2, b3, order=2), 0.1).fit(WS["train"], tr.labels)
    print(W, b2, "order2 val", ((m.logits(WS["validation"]) > 0) == va.labels).mean(), "test", ((m.logits(WS["test"]) > 0) == test.labels).mean(), flush=True)
