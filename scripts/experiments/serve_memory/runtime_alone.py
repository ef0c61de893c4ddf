import resource, sys
from training.data import load_imdb
from edge_runtime import TextClassifier
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])//1024
texts = load_imdb("test").texts[:4000]
c = TextClassifier("artifacts/imdb-classifier/tflite/int8.tflite")
c.tokenizer._cache.clear()
out=[]
for i, t in enumerate(texts):
    c.classify(t)
    if i % 500 == 0: out.append((i, rss(), len(c.tokenizer._cache)))
print(out)
