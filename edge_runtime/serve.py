"""``sparse-edge serve MODEL.tflite``: a small JSON-over-HTTP classifier for other programs on the device.

Standard library only (``http.server``), so the edge install stays small. Endpoints::

    POST /classify   {"text": "..."}  -> {"result": {...}}
                     {"texts": [...]} -> {"results": [{...}, ...]}   (at most --max-texts)
    GET  /health     {"status": "ok", "model": ..., "labels": [...], "queued": n, "in_flight": n}
    GET  /metrics    Prometheus text format: requests by endpoint and code, latency histogram,
                     reviews classified, queue depth, batch sizes

How a request is served: its handler thread puts the texts on one bounded queue; a worker
gathers what is waiting (up to ``--batch-size`` reviews, waiting at most ``--max-wait-ms`` for
more) and classifies them in one batch (:meth:`TextClassifier.classify_batch`); the handler
waits for its results up to ``--timeout`` seconds (then 504). When ``--queue`` reviews are
already waiting a request is answered 503 at once instead of growing memory; a body over
``--max-body`` bytes is answered 413 without being read. SIGTERM (or Ctrl-C) stops accepting
connections, closes idle ones and those still sending, finishes the requests in flight, then exits 0.
Open connections are capped (``--max-connections``; beyond it a quick 503), a client idle between
requests is closed after ``--idle-timeout`` s, and a request must arrive whole within ``--read-timeout``
s of its first byte (408 otherwise): see :mod:`edge_runtime.connections`. A body must be sent as
``Content-Type: application/json`` (415 otherwise).

Security defaults: bound to 127.0.0.1. Binding any other address needs ``--token`` (clients send
``Authorization: Bearer TOKEN``, compared in constant time; ``/health`` stays open) or an
explicit ``--insecure``. Texts are never logged: the access log (``--access-log``) writes the client,
the method, the endpoint (``other`` for any unknown path; never a query string) and the status code.
"""

from __future__ import annotations

import hmac
import json
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

import click

from edge_runtime.cli import PUBLIC_KEY_OPTION, Command, load_classifier
from edge_runtime.connections import GuardedServer, timed_reader

LOOPBACK = ("127.0.0.1", "::1", "localhost")
ENDPOINTS = ("/classify", "/health", "/metrics")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Job:
    """One request's texts, waiting for a worker."""

    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    results: list | None = None
    error: str | None = None
    cancelled: bool = False   # the handler gave up (timeout): a worker skips it


class Metrics:
    """Counters and a latency histogram, rendered in the Prometheus text format."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.reviews = 0
        self.batches = 0

    def observe(self, endpoint: str, code: int, seconds: float) -> None:
        with self.lock:
            self.requests[endpoint, code] = self.requests.get((endpoint, code), 0) + 1
            if endpoint == "/classify":
                index = next((i for i, edge in enumerate(LATENCY_BUCKETS) if seconds <= edge), len(LATENCY_BUCKETS))
                self.buckets[index] += 1
                self.latency_sum += seconds

    def batch(self, size: int) -> None:
        with self.lock:
            self.reviews += size
            self.batches += 1

    def render(self, queued: int) -> str:
        with self.lock:
            lines = ["# HELP sparse_edge_requests_total HTTP requests by endpoint and status code.",
                     "# TYPE sparse_edge_requests_total counter"]
            lines += [f'sparse_edge_requests_total{{endpoint="{e}",code="{c}"}} {n}'
                      for (e, c), n in sorted(self.requests.items())]
            lines += ["# HELP sparse_edge_request_seconds Time to answer POST /classify.",
                      "# TYPE sparse_edge_request_seconds histogram"]
            total = 0
            for edge, count in zip([*LATENCY_BUCKETS, "+Inf"], self.buckets):
                total += count
                lines.append(f'sparse_edge_request_seconds_bucket{{le="{edge}"}} {total}')
            lines += [f"sparse_edge_request_seconds_sum {self.latency_sum:.6f}",
                      f"sparse_edge_request_seconds_count {total}",
                      "# HELP sparse_edge_reviews_total Reviews classified.",
                      "# TYPE sparse_edge_reviews_total counter", f"sparse_edge_reviews_total {self.reviews}",
                      "# HELP sparse_edge_batches_total Interpreter batches run.",
                      "# TYPE sparse_edge_batches_total counter", f"sparse_edge_batches_total {self.batches}",
                      "# HELP sparse_edge_queued_reviews Reviews waiting for a worker.",
                      "# TYPE sparse_edge_queued_reviews gauge", f"sparse_edge_queued_reviews {queued}"]
            return "\n".join(lines) + "\n"


class Batcher:
    """A bounded queue of jobs and the worker threads that classify them in batches."""

    def __init__(self, classifier, batch_size: int, max_wait: float, capacity: int, workers: int, metrics: Metrics):
        self.classifier, self.batch_size, self.max_wait = classifier, batch_size, max_wait
        self.capacity, self.metrics = capacity, metrics
        self.jobs: queue.Queue = queue.Queue()
        self.queued = 0                      # reviews waiting, bounded by capacity
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"classify-{i}", daemon=True) for i in range(workers)]
        for thread in self.threads:
            thread.start()

    def submit(self, texts: list[str]) -> Job | None:
        """Queue a job, or None when ``capacity`` reviews are already waiting (the caller answers 503)."""
        with self.lock:
            if self.queued + len(texts) > self.capacity:
                return None
            self.queued += len(texts)
        job = Job(texts)
        self.jobs.put(job)
        return job

    def stop(self) -> None:
        """Let the workers finish what is queued, then end."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()

    def _work(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch, size = [first], len(first.texts)
            deadline = time.monotonic() + self.max_wait
            while size < self.batch_size:
                try:
                    job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:          # stopping: put the marker back for after this batch
                    self.jobs.put(None)
                    break
                batch.append(job)
                size += len(job.texts)
            self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        live = [job for job in batch if not job.cancelled]
        texts = [text for job in live for text in job.texts]
        try:
            results = self.classifier.classify_batch(texts, batch_size=self.batch_size) if texts else []
        except Exception as error:  # noqa: BLE001 - answered as a 500 to the requests of this batch
            results, failure = None, f"{type(error).__name__}: {error}"
        else:
            failure = None
            self.metrics.batch(len(texts))
        start = 0
        for job in live:
            if failure:
                job.error = failure
            else:
                job.results = results[start:start + len(job.texts)]
                start += len(job.texts)
            job.done.set()
        with self.lock:
            self.queued -= sum(len(job.texts) for job in batch)


class ServiceHandler(BaseHTTPRequestHandler):
    """The HTTP side of a ``Service``: ``/classify``, ``/health`` and ``/metrics``."""

    service: "Service"   # set by make_handler
    protocol_version = "HTTP/1.1"        # keep-alive: a client reuses its connection
    server_version = "sparse-edge"
    sys_version = ""

    def setup(self):
        super().setup()
        self.link = self.server.links[self.request]
        self.rfile = timed_reader(self.connection, self.link)

    def handle_one_request(self):
        if not self.link.wait_for_request():       # the service is stopping: no next request
            self.close_connection = True
            return
        super().handle_one_request()

    @property
    def endpoint(self) -> str:
        """The path as logs and metrics name it: a known endpoint or "other" (never a query string)."""
        path = getattr(self, "path", "")
        return path if path in ENDPOINTS else "other"

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a bad request line, an unknown method, a line too long): a JSON answer
        with the standard explanation, never echoing the client's bytes, always with a status line."""
        phrase, explanation = self.responses.get(code, ("Error", "error"))
        self.log_error(f"{phrase} %d", int(code))
        self.request_version = "HTTP/1.1"      # a line too broken to name its version still gets HTTP/1.1
        self.close_connection = True
        self._json(code, {"error": f"{phrase}: {explanation.lower()}"})

    def log_request(self, code="-", size="-"):
        if self.service.access_log:
            method = getattr(self, "command", None)
            method = method if method in ("GET", "POST") else "other"
            sys.stderr.write(f"{self.address_string()} {method} {self.endpoint} "
                             f"{int(code) if isinstance(code, int) else code}\n")

    def log_error(self, format, *args):   # noqa: A002 - the summary only: its arguments hold client bytes
        if self.service.access_log:
            codes = [str(arg) for arg in args if isinstance(arg, int)]
            sys.stderr.write(f"{self.address_string()} error: {format.split('%')[0].rstrip(' :(,')} "
                             f"{' '.join(codes)}".rstrip() + "\n")

    def log_message(self, format, *args):   # noqa: A002 - anything else http.server logs: never its arguments
        self.log_error(format)

    def do_GET(self):
        self.link.busy()
        start = time.perf_counter()
        if self.path == "/health":
            code = self._json(HTTPStatus.OK, self.service.health())
        elif self.path == "/metrics":
            code = HTTPStatus.UNAUTHORIZED
            if self._authorized():
                code = self._send(HTTPStatus.OK, self.service.metrics.render(self.service.batcher.queued).encode(),
                                  "text/plain; version=0.0.4")
        else:
            code = self._json(HTTPStatus.NOT_FOUND, {"error": "no such endpoint; use POST /classify, "
                                                              "GET /health or GET /metrics"})
        self.service.metrics.observe(self.endpoint if self.endpoint != "/classify" else "other",
                                     int(code), time.perf_counter() - start)

    def do_POST(self):
        with self.service.flight:
            self._post()

    def _post(self):
        start = time.perf_counter()
        if self.path != "/classify":
            self.close_connection = True   # its body is not read
            code = self._json(HTTPStatus.NOT_FOUND, {"error": "no such endpoint; POST /classify"})
            endpoint = "other"
        else:
            code, endpoint = self._classify(), "/classify"
        self.service.metrics.observe(endpoint, int(code), time.perf_counter() - start)

    def _classify(self) -> int:
        if not self._authorized():
            self.close_connection = True   # its body is not read
            return HTTPStatus.UNAUTHORIZED
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            self.close_connection = True   # the body is not read
            return self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                              {"error": "send the body as JSON with the header Content-Type: application/json"})
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length header"})
        if int(length) > self.service.max_body:
            self.close_connection = True   # the body is not read: the connection cannot be reused
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              {"error": f"body of {length} bytes is over the limit of {self.service.max_body}; "
                                        "send fewer or shorter texts per request"})
        try:
            body = self.rfile.read(int(length))
        except (TimeoutError, OSError):
            body = b""
        if len(body) < int(length):       # too slow (--read-timeout), gone, or cut off by a stop
            self.close_connection = True
            return self._json(HTTPStatus.REQUEST_TIMEOUT,
                              {"error": f"the body did not arrive whole within {self.service.read_timeout:g} s"})
        self.link.busy()
        texts, single, problem = parse_request(body, self.service.max_texts)
        if problem:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": problem})
        job = self.service.batcher.submit(texts)
        if job is None:
            return self._json(HTTPStatus.SERVICE_UNAVAILABLE,
                              {"error": "the queue is full; retry shortly"}, {"Retry-After": "1"})
        if not job.done.wait(self.service.timeout):
            job.cancelled = True
            return self._json(HTTPStatus.GATEWAY_TIMEOUT,
                              {"error": f"not classified within {self.service.timeout:g} s; retry later"})
        if job.error:
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": job.error})
        results = [r.to_dict() for r in job.results]
        return self._json(HTTPStatus.OK, {"result": results[0]} if single else {"results": results})

    def _authorized(self) -> bool:
        if self.service.token is None:
            return True
        given = self.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {self.service.token}".encode()):
            return True
        self._json(HTTPStatus.UNAUTHORIZED, {"error": "send Authorization: Bearer TOKEN (the --token of the service)"},
                   {"WWW-Authenticate": "Bearer"})
        return False

    def _json(self, code, payload, headers=None) -> int:
        return self._send(code, (json.dumps(payload) + "\n").encode(), "application/json", headers)

    def _send(self, code, data: bytes, content_type: str, headers=None) -> int:
        self.connection.settimeout(self.service.read_timeout)   # a client that does not read is let go
        if self.link.stopping:
            self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        return code


def make_handler(service: "Service"):
    """The request handler class of one service (``ThreadingHTTPServer`` makes one per request)."""
    return type("Handler", (ServiceHandler,), {"service": service})


def parse_request(body: bytes, max_texts: int) -> tuple[list[str], bool, str | None]:
    """(texts, whether one "text" was sent, a message saying what is wrong or None) of a /classify body."""
    usage = 'send {"text": "..."} or {"texts": ["...", ...]}'
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return [], False, f"the body is not UTF-8 JSON; {usage}"
    if isinstance(payload, dict) and isinstance(payload.get("text"), str):
        return [payload["text"]], True, None
    if isinstance(payload, dict) and isinstance(payload.get("texts"), list):
        texts = payload["texts"]
        if not texts or not all(isinstance(t, str) for t in texts):
            return [], False, '"texts" must be a non-empty list of strings'
        if len(texts) > max_texts:
            return [], False, f'"texts" has {len(texts)} items; at most {max_texts} per request'
        return texts, False, None
    return [], False, usage


class InFlight:
    """How many POST requests are being served (a context manager around each)."""

    def __init__(self):
        self.count, self._lock = 0, threading.Lock()

    def __enter__(self):
        with self._lock:
            self.count += 1

    def __exit__(self, *exc):
        with self._lock:
            self.count -= 1


class Service:
    def __init__(self, classifier, host, port, token, batch_size, max_wait, capacity, workers,
                 max_body, max_texts, timeout, access_log=False, max_connections=100, idle_timeout=5.0,
                 read_timeout=10.0):
        self.classifier, self.token, self.max_body, self.max_texts = classifier, token, max_body, max_texts
        self.timeout, self.access_log, self.read_timeout = timeout, access_log, read_timeout
        self.metrics = Metrics()
        self.flight = InFlight()
        self.in_flight_at_stop = None
        self.batcher = Batcher(classifier, batch_size, max_wait, capacity, workers, self.metrics)
        self.server = GuardedServer((host, port), make_handler(self), max_connections, idle_timeout, read_timeout)

    def health(self) -> dict:
        c = self.classifier
        return {"status": "ok", "model": str(c.path), "variant": c.config.variant, "labels": c.labels,
                "backend": f"{c.backend} {c.backend_version}", "queued": self.batcher.queued,
                "in_flight": self.flight.count, "connections": self.server.open_connections,
                "refused_connections": self.server.refused}

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def run(self) -> None:
        """Serve until SIGTERM or Ctrl-C, then finish the requests in flight."""
        def stop(signum, frame):
            if self.in_flight_at_stop is None:
                self.in_flight_at_stop = self.flight.count
            threading.Thread(target=self.server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.close_idle()        # clients between requests, or still sending, are let go
            self.server.server_close()      # joins the handler threads: in-flight requests finish
            self.batcher.stop()


@click.command("serve", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback needs --token or --insecure.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port; the first line printed says which).")
@click.option("--token", envvar="SPARSE_EDGE_TOKEN", help="Require 'Authorization: Bearer TOKEN' "
              "(also from SPARSE_EDGE_TOKEN).")
@click.option("--insecure", is_flag=True, help="Allow binding a non-loopback address without a token.")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Reviews classified in one invoke at most (per input length); 1 was fastest on the "
                   "host that measured it (bench serve).")
@click.option("--max-wait-ms", default=2.0, show_default=True, type=click.FloatRange(0, 1000),
              help="How long a worker waits for more reviews to fill a batch.")
@click.option("--queue", "capacity", default=256, show_default=True, type=click.IntRange(1),
              help="Reviews waiting at most; beyond it requests get 503.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Classifying threads (each with its own interpreter).")
@click.option("--max-body", default=1024 * 1024, show_default=True, type=click.IntRange(1),
              help="Largest request body in bytes (413 beyond).")
@click.option("--max-texts", default=64, show_default=True, type=click.IntRange(1),
              help="Texts per request at most (400 beyond).")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.01),
              help="Seconds a request may wait for its results (504 beyond).")
@click.option("--max-connections", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Open connections at most (each has a thread); beyond it a new one gets a quick 503.")
@click.option("--idle-timeout", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds a connection may wait between requests before it is closed.")
@click.option("--read-timeout", default=10.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds from a request's first byte until its headers and body have all arrived (408 beyond).")
@click.option("--backend", default="auto", show_default=True,
              type=click.Choice(["auto", "ai_edge_litert", "tflite_runtime", "tensorflow"]))
@click.option("--access-log", is_flag=True, help="One line per request on stderr (never the texts).")
@PUBLIC_KEY_OPTION
def main(model, host, port, token, insecure, batch_size, max_wait_ms, capacity, workers, max_body, max_texts,
         timeout, max_connections, idle_timeout, read_timeout, backend, access_log, public_key):
    """Serve MODEL (a bundled .tflite) as JSON over HTTP: POST /classify, GET /health, GET /metrics.

    \b
      curl -s localhost:8080/classify -H 'Content-Type: application/json' -d '{"text": "A fine film."}'
      curl -s localhost:8080/classify -H 'Content-Type: application/json' -d '{"texts": ["Great!", "Dull."]}'
    """
    if host not in LOOPBACK and not token and not insecure:
        raise click.UsageError(f"binding {host} exposes the service beyond this device; give --token TOKEN "
                               "(clients send 'Authorization: Bearer TOKEN') or --insecure")
    if token is not None and len(token) < 16:
        raise click.UsageError("--token must be at least 16 characters (for example: "
                               "python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    classifier = load_classifier(model, backend, public_key=public_key)
    try:
        service = Service(classifier, host, port, token, batch_size, max_wait_ms / 1000, capacity, workers,
                          max_body, max_texts, timeout, access_log, max_connections, idle_timeout, read_timeout)
    except OSError as error:
        raise click.UsageError(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port") from None
    click.echo(f"serving {model} on {service.url} (POST /classify, GET /health, GET /metrics; "
               f"SIGTERM or Ctrl-C stops)", err=False)
    sys.stdout.flush()
    service.run()
    click.echo(f"stopped: the {service.in_flight_at_stop or 0} request(s) in flight at the signal were answered",
               err=True)
