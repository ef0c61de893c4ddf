"""``sparse-edge serve``: JSON over HTTP with the shipped file, its limits, its security defaults, its shutdown."""

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_runtime import TextClassifier

REPO = Path(__file__).resolve().parents[1]
INT8 = REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"
TOKEN = "a-test-token-of-24-chars"


class Service:
    def __init__(self, *options):
        self.process = subprocess.Popen([sys.executable, "-m", "edge_runtime", "serve", str(INT8), "--port", "0",
                                         *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        cwd=REPO)
        line = self.process.stdout.readline()
        assert "http://127.0.0.1:" in line, line + self.process.stderr.read()
        self.port = int(line.split("http://127.0.0.1:")[1].split()[0])

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data, response

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def api():
    return TextClassifier(INT8)


@pytest.fixture(scope="module")
def service():
    server = Service("--max-body", "20000", "--max-texts", "8")
    yield server
    server.stop()


def test_classify_one_text_or_a_list_gives_the_runtimes_answers(service, api):
    status, body, _ = service.request("POST", "/classify", {"text": "A fine film."})
    assert status == 200 and json.loads(body)["result"]["probabilities"] == api.classify("A fine film.").probabilities
    texts = ["Great acting, great story.", "Dull.", "", "Café naïve 😀"]
    status, body, _ = service.request("POST", "/classify", {"texts": texts})
    assert status == 200
    assert [r["probabilities"] for r in json.loads(body)["results"]] == [api.classify(t).probabilities for t in texts]


def test_health_and_prometheus_metrics(service):
    status, body, _ = service.request("GET", "/health")
    assert status == 200 and json.loads(body)["labels"] == ["negative", "positive"]
    service.request("POST", "/classify", {"text": "ok"})
    status, body, response = service.request("GET", "/metrics")
    text = body.decode()
    assert status == 200 and response.getheader("Content-Type").startswith("text/plain")
    assert 'sparse_edge_requests_total{endpoint="/classify",code="200"}' in text
    assert "# TYPE sparse_edge_request_seconds histogram" in text and 'le="+Inf"' in text
    count = int(next(l for l in text.splitlines() if l.startswith("sparse_edge_request_seconds_count")).split()[1])
    assert count >= 1


def test_bad_requests_get_their_status_and_a_message(service):
    cases = [
        ({"text": 5}, 400, "send {"),
        (b"not json", 400, "not UTF-8 JSON"),
        (b"[" * 50_00, 400, "not UTF-8 JSON"),
        ({"texts": []}, 400, "non-empty list"),
        ({"texts": ["a"] * 9}, 400, "at most 8 per request"),
        ({"text": "x" * 30_000}, 413, "over the limit of 20000"),
    ]
    for body, code, message in cases:
        status, data, _ = service.request("POST", "/classify", body, {"Content-Type": "application/json"})
        assert status == code and message in json.loads(data)["error"], (body[:20], status, data)
    status, data, _ = service.request("GET", "/nope")
    assert status == 404
    import socket

    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as raw:   # no Content-Length
        raw.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 411")


def test_a_full_queue_answers_503_at_once_instead_of_growing():
    server = Service("--queue", "1", "--batch-size", "1", "--max-wait-ms", "0")
    try:
        long_review = "A long and winding review of a film that is great. " * 150   # the 1,024 length: slow
        codes, lock = [], threading.Lock()

        def client():
            status, _, _ = server.request("POST", "/classify", {"text": long_review})
            with lock:
                codes.append(status)

        threads = [threading.Thread(target=client) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(codes) == {200, 503} and len(codes) == 24
        status, body, response = server.request("POST", "/classify", {"text": "fine"})
        assert status == 200   # served again once the burst is over
    finally:
        assert server.stop() == 0


def rss_kb(pid: int) -> int:
    return int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS")).split()[1])


def test_sigterm_answers_every_request_in_flight_then_exits_0(api):
    """32 requests are seen in flight by /health, SIGTERM comes, every one gets its 200 and its answer."""
    server = Service("--batch-size", "1", "--queue", "4096", "--timeout", "300")   # 512 long reviews: no 504
    # 16 reviews at the longest length a request (about 0.4 s of work): the first is not done before the last arrives
    texts = [f"A long, slow, {word} film. " * 200 for word in ("great", "dull", "moving", "boring")] * 4
    results = {}

    def client(i):
        status, data, _ = server.request("POST", "/classify", {"texts": texts})
        results[i] = (status, json.loads(data) if status == 200 else data)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while json.loads(server.request("GET", "/health")[1])["in_flight"] < 32:   # all accepted, none done
        assert time.monotonic() < deadline, "the 32 requests never were in flight together"
        time.sleep(0.01)
    assert server.stop() == 0
    for thread in threads:
        thread.join(timeout=60)
    expected = [r.label for r in api.classify_batch(texts)]
    assert sorted(results) == list(range(32))
    assert [status for status, _ in results.values()] == [200] * 32, results
    assert all([r["label"] for r in body["results"]] == expected for _, body in results.values())
    assert "the 32 request(s) in flight at the signal were answered" in server.process.stderr.read()


def test_a_100_megabyte_body_is_refused_before_it_is_read():
    import socket

    server = Service()   # --max-body 1 MiB
    try:
        before = rss_kb(server.process.pid)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            started = time.monotonic()
            raw.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100000000\r\n\r\n" + b"[" * 65536)
            answer = raw.recv(4096)
            while b"}" not in answer and answer:   # the headers and the JSON body may come in two writes
                answer += raw.recv(4096)
            assert answer.startswith(b"HTTP/1.1 413") and b"over the limit of 1048576" in answer, answer[:300]
            assert time.monotonic() - started < 2.0
            sent, chunk = 0, b"[" * (1 << 20)
            with pytest.raises(OSError):   # the server closed the connection: the rest cannot be sent
                while sent < 100_000_000:
                    raw.sendall(chunk)
                    sent += len(chunk)
            assert sent < 100_000_000 and time.monotonic() - started < 10
        assert rss_kb(server.process.pid) - before < 10_000   # under 10 MB more: the body was never held
        assert server.request("POST", "/classify", {"text": "fine"})[0] == 200
    finally:
        assert server.stop() == 0


def test_under_overload_503_is_answered_within_50_ms():
    """16 long reviews fill the queue; while more than 8 still wait, a request of 8 is refused at once."""
    server = Service("--queue", "16", "--max-texts", "16", "--batch-size", "1", "--max-wait-ms", "0")
    try:
        busy = threading.Thread(target=server.request, args=("POST", "/classify",
                                                             {"texts": ["A long, slow, great film. " * 200] * 16}))
        busy.start()
        deadline = time.monotonic() + 30
        while json.loads(server.request("GET", "/health")[1])["queued"] < 14:
            assert time.monotonic() < deadline, "the long reviews never filled the queue"
        times = []
        for _ in range(5):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.connect()
            started = time.perf_counter()
            connection.request("POST", "/classify", json.dumps({"texts": ["fine"] * 8}),
                               {"Content-Type": "application/json"})
            status = connection.getresponse().status
            times.append((status, time.perf_counter() - started))
            connection.close()
        assert [status for status, _ in times] == [503] * 5, times   # 8 reviews of about 25 ms each still wait
        assert max(t for _, t in times) < 0.050, times
        busy.join(timeout=60)
    finally:
        assert server.stop() == 0


def test_a_token_is_checked_and_health_stays_open():
    server = Service("--token", TOKEN)
    try:
        assert server.request("POST", "/classify", {"text": "x"})[0] == 401
        assert server.request("POST", "/classify", {"text": "x"}, {"Authorization": "Bearer wrong"})[0] == 401
        assert server.request("GET", "/metrics")[0] == 401
        assert server.request("POST", "/classify", {"text": "x"}, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert server.request("GET", "/health")[0] == 200
    finally:
        server.stop()


def test_binding_beyond_loopback_needs_a_token_or_insecure():
    for args, message in [(["--host", "0.0.0.0"], "give --token TOKEN"), (["--token", "short"], "at least 16 characters")]:
        result = subprocess.run([sys.executable, "-m", "edge_runtime", "serve", str(INT8), *args],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run([sys.executable, "-m", "edge_runtime", "serve", "/dev/zero"], capture_output=True,
                            text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2 and "not a TFLite model" in result.stderr


@pytest.mark.imdb
def test_the_serve_benchmark_measures_three_overload_bursts_and_where_their_memory_goes(tmp_path):
    from sparse_edge.bench.serve import BURSTS, run_serve_benchmark

    report = run_serve_benchmark(INT8, tmp_path / "serve.json", None, requests=200, clients=4, offline_reviews=40,
                                 overload_clients=64, overload_seconds=2.0, overload_queue=4, progress=lambda _: None)
    written = json.loads((tmp_path / "serve.json").read_text())     # what a reader of the JSON gets
    load = written["load"]
    assert load["clients"] == 4 and load["sent"] == load["answered"] == 200 and load["lost"] == load["errors"] == 0
    assert load["codes"] == {"200": 200} and load["latency_ms"]["p50"] <= load["latency_ms"]["p95"]
    assert written["overload"]["exit_code_after_sigterm"] == 0 and written["goals"]["graceful_exit_0"]
    over = written["overload"]
    assert len(over["bursts"]) == BURSTS == 3
    assert all(b["sent"] > 0 and b["errors"] == 0 and "503" in b["codes"] for b in over["bursts"])
    assert set(over["growth_by_clients_mb"]) == {"8", "64"}
    assert all(b["peak_rss_mb"] > 0 for b in over["bursts"])


def test_memory_is_bounded_when_no_later_burst_peaks_more_than_10_percent_above_the_first():
    from sparse_edge.bench.serve import memory_bounded

    burst = lambda peak, errors=0: {"peak_rss_mb": peak, "errors": errors}  # noqa: E731
    assert memory_bounded([burst(100), burst(104), burst(110)])
    assert not memory_bounded([burst(100), burst(104), burst(110.5)])     # the third grew past 10%
    assert not memory_bounded([burst(100), burst(90, errors=1), burst(95)])   # an error is never bounded
    assert memory_bounded([burst(140), burst(120), burst(150)])


def test_the_committed_serve_benchmark_met_every_goal_with_memory_bounded_over_three_bursts():
    report = json.loads((REPO / "artifacts" / "bench" / "serve.json").read_text())
    first = report["overload"]["bursts"][0]["peak_rss_mb"]
    assert len(report["overload"]["bursts"]) == 3
    assert all(b["peak_rss_mb"] <= 1.1 * first for b in report["overload"]["bursts"])
    assert report["passed"] and all(report["goals"].values()), report["goals"]
