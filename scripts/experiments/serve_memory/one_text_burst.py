import sys; sys.path.insert(0, ".")
from pathlib import Path
from sparse_edge.bench.serve import Server, _load
texts = ["A fine film, really good. " * 20] * 100
s = Server(Path("artifacts/imdb-classifier/tflite/int8.tflite"), "--queue", "32")
r = _load(s, texts, 256, None, float(sys.argv[1]), {"negative", "positive"})
s.stop()
m = r["server_rss_mb"]["samples"]; print(r["codes"], len(m)); print(m[::max(1, len(m)//20)])
