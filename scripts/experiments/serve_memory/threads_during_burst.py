import sys, threading, time; sys.path.insert(0, ".")
from pathlib import Path
from training.data import load_imdb
from sparse_edge.bench.serve import Server, _load
texts = load_imdb("test").texts[:5000]
s = Server(Path("artifacts/imdb-classifier/tflite/int8.tflite"), "--queue", "32")
info = []
def watch():
    while s.process.poll() is None and len(info) < 12:
        st = dict(l.split(":", 1) for l in open(f"/proc/{s.process.pid}/status"))
        info.append((st["Threads"].strip(), st["VmRSS"].strip())); time.sleep(5)
threading.Thread(target=watch, daemon=True).start()
r = _load(s, texts, 256, None, 50, {"negative", "positive"})
s.stop(); print(r["codes"]); print(info)
