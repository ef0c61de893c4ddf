import sys; sys.path.insert(0, ".")
from pathlib import Path
from training.data import load_imdb
from sparse_edge.bench.serve import Server, _load
texts = load_imdb("test").texts[:5000]
s = Server(Path("artifacts/imdb-classifier/tflite/int8.tflite"), "--queue", "32")
r = _load(s, texts, 256, None, float(sys.argv[1]), {"negative", "positive"})
s.stop()
m = r["server_rss_mb"]["samples"]; print(r["codes"], len(m)); print(m[::max(1, len(m)//24)])
