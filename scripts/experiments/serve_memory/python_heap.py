import sys, threading, time, tracemalloc, json, http.client
sys.path.insert(0, ".")
from training.data import load_imdb
from edge_runtime import TextClassifier
from edge_runtime.serve import Service
texts = load_imdb("test").texts[:3000]
c = TextClassifier("artifacts/imdb-classifier/tflite/int8.tflite")
svc = Service(c, "127.0.0.1", 0, None, 1, 0.002, 32, 1, 1024*1024, 64, 10.0)
threading.Thread(target=svc.server.serve_forever, daemon=True).start()
port = svc.server.server_address[1]
stop = False
def client(k):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60); i = k
    while not stop:
        conn.request("POST", "/classify", json.dumps({"text": texts[i % 3000]})); conn.getresponse().read(); i += 256
for k in range(256): threading.Thread(target=client, args=(k,), daemon=True).start()
time.sleep(8); tracemalloc.start(); time.sleep(2); a = tracemalloc.take_snapshot()
time.sleep(25); b = tracemalloc.take_snapshot()
for s in b.compare_to(a, "lineno")[:8]: print(s)
stop = True
