"""The service under slow, idle and too many clients (issue 39): timeouts, a connection cap, a stop that lets idle
clients go, Content-Type, and logs without review text. Every loop is bounded; everything runs on 127.0.0.1."""

import json
import select
import signal
import socket
import time
from pathlib import Path

from tests.test_serve import Service

REQUEST = (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
           b'{"text": "fine"}')


def threads(pid: int) -> int:
    return int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("Threads:")).split()[1])


def read_until_closed(raw: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed (or ``limit`` s)."""
    started, data = time.monotonic(), b""
    raw.settimeout(limit)
    try:
        while chunk := raw.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    return data, time.monotonic() - started


def answered(raw: socket.socket) -> bytes:
    """One whole response to REQUEST (keep-alive: the connection stays open)."""
    raw.settimeout(30)
    data = b""
    while b"}\n" not in data:
        chunk = raw.recv(4096)
        assert chunk, data
        data += chunk
    return data


def test_a_connection_idle_after_its_request_is_closed_after_the_idle_timeout():
    server = Service("--idle-timeout", "0.5")
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(REQUEST)
            assert answered(raw).startswith(b"HTTP/1.1 200")
            data, seconds = read_until_closed(raw, 10)
            assert data == b"" and 0.4 < seconds < 3, seconds        # closed by the server, not by our limit
    finally:
        assert server.stop() == 0


def test_sigterm_lets_idle_and_half_sent_clients_go_and_exits_within_2_seconds():
    """The attack of issue 39: a keep-alive client after a POST, and a half-sent body, held serve past SIGTERM."""
    server = Service()        # idle timeout 5 s, read timeout 10 s: neither can explain a quick exit
    idle = socket.create_connection(("127.0.0.1", server.port))
    half = socket.create_connection(("127.0.0.1", server.port))
    try:
        idle.sendall(REQUEST)
        assert answered(idle).startswith(b"HTTP/1.1 200")
        half.sendall(REQUEST[:-8])                               # the headers and half the body
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 2.0
        assert read_until_closed(idle, 5)[0] == b""
        assert read_until_closed(half, 5)[0].startswith(b"HTTP/1.1 408")
    finally:
        idle.close()
        half.close()


def test_headers_or_a_body_trickled_in_are_cut_off_at_the_read_timeout():
    server = Service("--read-timeout", "1")
    try:
        for head, trickle in [(b"POST /classify HTTP/1.1\r\n", b"X-Slow: " + b"a" * 100),   # slow headers
                              (REQUEST[:-16].replace(b"16", b"99"), b" " * 99)]:             # slow body
            with socket.create_connection(("127.0.0.1", server.port)) as raw:
                raw.sendall(head)
                started, data = time.monotonic(), b""
                for byte in trickle:                      # one byte every 0.1 s: never idle, never done
                    try:
                        raw.sendall(bytes([byte]))
                    except OSError:
                        break
                    if select.select([raw], [], [], 0.1)[0]:
                        break
                data, _ = read_until_closed(raw, 5)
                seconds = time.monotonic() - started
                assert 0.8 < seconds < 3, (head, seconds)
                assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
        assert server.request("POST", "/classify", {"text": "fine"})[0] == 200    # others are still served
    finally:
        assert server.stop() == 0


def test_500_idle_connections_hold_at_most_the_cap_of_threads_and_the_rest_get_a_quick_503():
    server = Service("--idle-timeout", "60")          # the default cap: 100
    pid, before = server.process.pid, threads(server.process.pid)
    sockets = []
    try:
        for _ in range(500):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        refused, deadline = set(), time.monotonic() + 20
        while len(refused) < 400 and time.monotonic() < deadline:
            ready = select.select([s for s in sockets if s not in refused], [], [], 0.5)[0]
            for raw in ready:
                assert raw.recv(200).startswith(b"HTTP/1.1 503"), "a refused connection gets a 503"
                refused.add(raw)
        assert len(refused) == 400
        assert threads(pid) <= before + 100, (before, threads(pid))
        held = [s for s in sockets if s not in refused]
        assert not select.select(held, [], [], 0.2)[0]    # the 100 held ones are not answered: they sent nothing
        for raw in held[:10]:                             # and they are served when they ask
            raw.sendall(REQUEST)
            assert answered(raw).startswith(b"HTTP/1.1 200")
    finally:
        for raw in sockets:
            raw.close()
    try:
        deadline = time.monotonic() + 20
        while (health := server.request("GET", "/health"))[0] != 200 or json.loads(health[1])["connections"] > 1:
            assert time.monotonic() < deadline, "closed connections were never released"
            time.sleep(0.1)
        assert json.loads(health[1])["refused_connections"] >= 400
        assert threads(pid) <= before + 2
    finally:
        assert server.stop() == 0


def test_a_body_must_be_sent_as_json():
    server = Service()
    try:
        for kind, code in [(None, 415), ("text/plain", 415), ("application/x-www-form-urlencoded", 415),
                           ("application/json", 200), ("Application/JSON; charset=utf-8", 200)]:
            status, data, _ = server.request("POST", "/classify", json.dumps({"text": "fine"}),
                                             {"Content-Type": kind} if kind else {})
            assert status == code, (kind, status, data)
            if code == 415:
                assert "Content-Type: application/json" in json.loads(data)["error"]
    finally:
        assert server.stop() == 0


def test_no_review_text_reaches_the_log():
    server = Service("--access-log")
    try:
        assert server.request("GET", "/classify?text=SECRET-IN-QUERY")[0] == 404
        assert server.request("POST", "/SECRET-IN-PATH", {"text": "x"})[0] == 404
        assert server.request("POST", "/classify", {"text": "SECRET-IN-BODY"})[0] == 200
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(b"GET /x SECRET-IN-A-BAD-LINE HTTP/1.1 more\r\n\r\n")
            assert read_until_closed(raw, 10)[0].startswith(b"HTTP/1.1 400")
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(b"SECRET-VERB /classify HTTP/1.1\r\n\r\n")
            assert read_until_closed(raw, 10)[0].startswith(b"HTTP/1.1 501")
    finally:
        assert server.stop() == 0
    log = server.process.stderr.read()
    assert "SECRET" not in log, log
    lines = log.splitlines()
    assert any(line.endswith("GET other 404") for line in lines), log
    assert any(line.endswith("POST /classify 200") for line in lines), log
    assert any("Bad Request" in line and line.endswith("400") for line in lines), log
