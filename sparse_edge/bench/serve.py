"""Load test of ``sparse-edge serve`` on loopback: throughput, latency, errors, overload.

Phases, one run, one machine (compare within it):

1. offline: the same model in this process, ``classify_batch`` over a sample of the reviews
   (and a one-at-a-time loop over the same sample: what batching buys);
2. load: the service in its own process (``python -m edge_runtime serve``), 64 client threads
   with keep-alive connections sending real test reviews, one per request, until N requests
   are answered; every answer is checked (status 200, a label of the model); the server's
   resident memory is sampled throughout;
3. overload: a second service with a small queue and many more clients than it can serve,
   for a bounded time: it must answer 503 (not time out, not grow), with memory flat.

Writes JSON where ``--json`` says (``runs/bench/serve.json`` by default).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from training.machine import describe_machine
from training.files import write_json_atomic
from sparse_edge.reports.tables import load_artifact, machine_line
from sparse_edge.bench.goals import GOALS as ALL_GOALS

REPO = Path(__file__).resolve().parents[2]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    """``python -m edge_runtime serve`` in a child process, on a free loopback port."""

    def __init__(self, model: Path, *options: str):
        self.process = subprocess.Popen([sys.executable, "-m", "edge_runtime", "serve", str(model), "--port", "0",
                                         *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        cwd=REPO)
        line = self.process.stdout.readline()
        if "http://" not in line:
            self.process.kill()
            raise RuntimeError(f"the service did not start: {line.strip()} {self.process.stderr.read()[-500:]}")
        address = line.split("http://", 1)[1].split()[0]
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


def _load(server: Server, texts: list[str], clients: int, requests: int | None, seconds: float | None,
          labels: set[str], progress=None) -> dict:
    """``clients`` threads send one review per request until ``requests`` are answered (or ``seconds`` pass)."""
    lock = threading.Lock()
    state = {"next": 0, "stop": False}
    latencies, codes, errors, memory = [], {}, [], []
    sent = answered = 0

    def take() -> int | None:
        nonlocal sent
        with lock:
            if state["stop"] or (requests is not None and state["next"] >= requests):
                return None
            state["next"] += 1
            sent += 1
            return state["next"] - 1

    def client():
        nonlocal answered
        connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        while (index := take()) is not None:
            body = json.dumps({"text": texts[index % len(texts)]})
            start = time.perf_counter()
            try:
                connection.request("POST", "/classify", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - start
                ok = response.status == 200 and json.loads(payload)["result"]["label"] in labels
                with lock:
                    answered += 1
                    codes[response.status] = codes.get(response.status, 0) + 1
                    if response.status == 200:
                        latencies.append(elapsed * 1000)
                    if response.status == 200 and not ok:
                        errors.append(f"request {index}: unexpected answer {payload[:100]!r}")
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                with lock:
                    errors.append(f"request {index}: {type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    last_report = start
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.25)
        memory.append(rss_mb(server.process.pid))
        now = time.perf_counter()
        if seconds is not None and now - start > seconds:
            state["stop"] = True
        if progress and now - last_report > 10:
            last_report = now
            progress(f"  {answered:,} answered in {now - start:.0f} s")
    elapsed = time.perf_counter() - start
    memory = [m for m in memory if m is not None]
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {"clients": clients, "sent": sent, "answered": answered, "lost": sent - answered - len(errors),
            "errors": len(errors), "error_examples": errors[:5],
            "codes": {str(k): v for k, v in sorted(codes.items())}, "seconds": round(elapsed, 2),
            "requests_per_s": round(answered / elapsed, 1), "ok_per_s": round(codes.get(200, 0) / elapsed, 1),
            "latency_ms": {q: round(float(np.percentile(lat, int(q[1:]))), 2) for q in ("p50", "p95", "p99")},
            "server_rss_mb": {"first": round(memory[0], 1) if memory else None,
                              "peak": round(max(memory), 1) if memory else None,
                              "last": round(memory[-1], 1) if memory else None,
                              "first_half_peak": round(max(memory[: len(memory) // 2]), 1) if len(memory) > 1 else None,
                              "second_half_peak": round(max(memory[len(memory) // 2:]), 1) if len(memory) > 1 else None,
                              "samples": [round(m, 1) for m in memory[:: max(1, len(memory) // 200)]]}}


def offline(model: Path, texts: list[str], batch_size: int, rounds: int = 3) -> dict:
    """Reviews/s in this process on the same texts: the one-at-a-time loop and classify_batch at
    several batch sizes, interleaved round by round (this host is shared and noisy); medians."""
    import statistics

    from edge_runtime import TextClassifier

    classifier = TextClassifier(model, num_threads=1)
    classifier.classify_batch(texts[:64], batch_size=batch_size)   # warm-up: every length's signature
    runs = {"loop": lambda: [classifier.classify(t) for t in texts]}
    for size in sorted({1, 4, 8, 16, batch_size}):
        runs[str(size)] = lambda size=size: classifier.classify_batch(texts, batch_size=size)
    rates = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            rates[name].append(len(texts) / (time.perf_counter() - start))
    median = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    out = {"loop_reviews_per_s": median.pop("loop"), "batch_sizes": median, "rounds": rounds,
           "reviews": len(texts), "batch_size": batch_size}
    out["batch_reviews_per_s"] = median[str(batch_size)]
    out["batch_vs_loop"] = round(out["batch_reviews_per_s"] / out["loop_reviews_per_s"], 3)
    return out


BURSTS = 3   # overload bursts against one service: its memory must not keep growing from one to the next


def memory_bounded(bursts: list[dict]) -> bool:
    """The overload goal: no burst had errors and the peak of every later burst is within 10% of the
    first's (within a burst RSS rises with the connections open at once, each served by its own thread:
    ``growth_by_clients_mb``)."""
    most = 1.0 + ALL_GOALS["serve"]["max_burst_rss_growth"]
    return all(b["errors"] == 0 and b["peak_rss_mb"] <= most * bursts[0]["peak_rss_mb"] for b in bursts)


def run_serve_benchmark(model: str | Path, json_path: str | Path, data_dir: str | None, requests: int = 20_000,
                        clients: int = 64, batch_size: int = 1, workers: int = 1, offline_reviews: int = 600,
                        overload_clients: int = 256, overload_seconds: float = 20.0, overload_queue: int = 32,
                        progress=print) -> dict:
    from edge_runtime import TextClassifier
    from training.data import load_imdb

    model = Path(model)
    test = load_imdb("test", data_dir)
    order = np.random.default_rng(0).permutation(len(test.texts))
    texts = [test.texts[i] for i in order]
    labels = set(TextClassifier(model).labels)

    progress(f"offline: a loop and classify_batch at batch sizes 1, 4, 8, 16 on {offline_reviews:,} test reviews, 3 rounds")
    base = offline(model, texts[:offline_reviews], batch_size)
    progress(f"  batch {base['batch_reviews_per_s']}/s, loop {base['loop_reviews_per_s']}/s")

    progress(f"load: {clients} clients, {requests:,} requests of test reviews")
    server = Server(model, "--batch-size", str(batch_size), "--workers", str(workers), "--queue", "1024")
    idle = rss_mb(server.process.pid)
    load = _load(server, texts, clients, requests, None, labels, progress)
    load["exit_code_after_sigterm"] = server.stop()
    load["server_rss_mb"]["idle"] = round(idle, 1) if idle else None
    progress(f"  {load['requests_per_s']}/s, p50 {load['latency_ms']['p50']} ms, errors {load['errors']}, "
             f"lost {load['lost']}")

    progress(f"overload: {overload_clients} clients for {overload_seconds:g} s against a queue of {overload_queue}")
    def overload_service(clients: int, bursts: int):
        """(RSS after a warm-up of 200 requests, warm-up, bursts, exit code) of a fresh service."""
        server = Server(model, "--batch-size", str(batch_size), "--workers", str(workers), "--queue", str(overload_queue))
        warm_up = _load(server, texts, 1, 200, None, labels)   # every input length's buffers, before the burst
        warm = rss_mb(server.process.pid)
        return warm, warm_up, [_load(server, texts[200:], clients, None, overload_seconds, labels)
                               for _ in range(bursts)], server.stop()

    warm, warm_up, bursts, code = overload_service(overload_clients, BURSTS)
    overload = {**bursts[0], "warm_up_requests": warm_up["answered"], "exit_code_after_sigterm": code,
                "queue": overload_queue, "bursts": [{"sent": b["sent"], "errors": b["errors"], "codes": b["codes"],
                                                     "peak_rss_mb": b["server_rss_mb"]["peak"]} for b in bursts]}
    overload["server_rss_mb"]["after_warm_up"] = round(warm, 1) if warm else None
    progress(f"  codes {overload['codes']}, server RSS peak by burst {[b['peak_rss_mb'] for b in overload['bursts']]} MB")
    few = max(1, overload_clients // 8)   # where a burst's growth goes: an eighth of the clients, a fresh service
    few_warm, _, [few_burst], _ = overload_service(few, 1)
    overload["growth_by_clients_mb"] = {str(few): round(few_burst["server_rss_mb"]["peak"] - few_warm, 1),
                                        str(overload_clients): round(overload["server_rss_mb"]["peak"] - warm, 1)}

    # against the best the same model does offline in this run: the loop or any batch size
    best_offline = max(base["loop_reviews_per_s"], *base["batch_sizes"].values())
    ratio = load["ok_per_s"] / best_offline
    goals = {
        "zero_errors_and_lost": load["errors"] == 0 and load["lost"] == 0 and load["codes"] == {"200": requests},
        "at_least_20000_requests": load["answered"] >= ALL_GOALS["serve"]["min_requests"],
        "throughput_at_least_80pct_of_best_offline": ratio >= ALL_GOALS["serve"]["min_share_of_best_offline"],
        "overload_answers_503": overload["codes"].get("503", 0) > 0 and overload["errors"] == 0,
        "overload_memory_bounded": memory_bounded(overload["bursts"]),
        "graceful_exit_0": load["exit_code_after_sigterm"] == 0 and overload["exit_code_after_sigterm"] == 0,
    }
    report = {
        "benchmark": "serve", "model": str(model), "date": time.strftime("%Y-%m-%d"),
        "command": f"sparse-edge bench serve --model {model} --requests {requests} --clients {clients}",
        "machine": describe_machine(), "workers": workers, "batch_size": batch_size,
        "offline": base, "load": load, "overload": overload,
        "best_offline_reviews_per_s": best_offline, "service_vs_best_offline": round(ratio, 3), "goals": goals, "passed": all(goals.values()),
    }
    write_json_atomic(json_path, report)
    return report


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def serve_bench() -> str:
    """The service under load and overload (artifacts/bench/serve.json)."""
    r = load_artifact("artifacts/bench/serve.json")
    o, load, over = r["offline"], r["load"], r["overload"]
    lat = load["latency_ms"]
    lines = ["| phase | requests | answered per s | p50 / p95 / p99 | status codes | errors, lost | server memory |",
             "|---|---:|---:|---:|---|---:|---:|",
             f"| load: {load['clients']} clients | {load['sent']:,} | {load['ok_per_s']:,.1f} | "
             f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} ms | {', '.join(f'{k}: {v:,}' for k, v in load['codes'].items())} | "
             f"{load['errors']}, {load['lost']} | {load['server_rss_mb']['idle']:.0f} MB idle, peak {load['server_rss_mb']['peak']:.0f} MB |",
             f"| overload: {over['clients']} clients, queue {over['queue']}, {over['seconds']:.0f} s | {over['sent']:,} | "
             f"{over['ok_per_s']:,.1f} | — | {', '.join(f'{k}: {v:,}' for k, v in over['codes'].items())} | "
             f"{over['errors']}, {over['lost']} | {over['server_rss_mb']['after_warm_up']:.0f} MB after a warm-up of "
             f"{over['warm_up_requests']} requests; peak by burst "
             + " / ".join(f"{b['peak_rss_mb']:.0f}" for b in over["bursts"]) + " MB |",
             "",
             f"Offline in the same run, same model, {o['reviews']:,} of the same reviews (median of {o.get('rounds', 1)} interleaved rounds): `classify_batch` "
             f"{o['batch_reviews_per_s']:,.1f} reviews/s, one at a time {o['loop_reviews_per_s']:,.1f} reviews/s "
             f"(batch / loop {o['batch_vs_loop']:.2f}"
             + (f"; by batch size: {', '.join(f'{k}: {v:,.0f}/s' for k, v in sorted(o['batch_sizes'].items(), key=lambda kv: int(kv[0])))}"
                if o.get("batch_sizes") else "") + "). On this 2-core host an invoke is compute-bound: batching saves "
             f"Python and call overhead, not arithmetic. The service answers {r['service_vs_best_offline']:.0%} of the "
             f"best offline throughput ({r['best_offline_reviews_per_s']:,.1f} reviews/s). Latency under load is mostly waiting: {load['clients']} clients share one "
             "classifying worker."
             + f" Under overload each open connection has its own handler thread: the service's memory rises with "
               f"the clients connected at once ({', '.join(f'{c} clients: +{mb:.0f} MB' for c, mb in over['growth_by_clients_mb'].items())} "
               "over its warm-up), and a later burst peaks where the first did.",
             ""]
    lines += [f"- {'✅' if met else '❌'} {goal.replace('_', ' ')}" for goal, met in r["goals"].items()]
    lines += ["", f"Machine: {machine_line(r['machine'])}; {r['date']}. Reproduce: `{r['command']}`."]
    return "\n".join(lines)
