"""Ctrl-C (SIGINT) and SIGTERM stop the streaming command line at any moment, within a second.

Each source (``--file``, ``--jsonl``, ``--lines`` on standard input) with 1 and 4 threads, each
signal, at several moments: while starting, while classifying, while blocked writing to a pipe
nobody reads, and (``--lines``) while waiting for more input. Every time: exit 130 (SIGINT) or
143 (SIGTERM), one line on stderr and no traceback, and standard output holding whole result
lines only, each one a review's result in input order (edge_runtime/stopping.py).
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_edge_stream import EDGE, REPO, ctrl_c_reaches_python, python_start_seconds  # noqa: F401 - a fixture

# the console script, as users start it (its own Ctrl-C handling covers the imports: sparse_edge/entry.py)
PREDICT = [str(Path(sys.executable).parent / "sparse-edge"), "predict", EDGE[-1]]
REVIEWS = [f"Review {i}: a fine film, well acted, though the ending drags a little." for i in range(20_000)]
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
SAID = {signal.SIGINT: "error: interrupted", signal.SIGTERM: "error: terminated"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signals")
    (folder / "reviews.txt").write_text("".join(text + "\n" for text in REVIEWS))
    (folder / "reviews.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(REVIEWS)))
    return folder


def start(source: str, threads: int, inputs, stdout=subprocess.PIPE, command=None) -> subprocess.Popen:
    args = {"--file": ["--file", str(inputs / "reviews.txt")], "--jsonl": ["--jsonl", str(inputs / "reviews.jsonl")],
            "--lines": ["--lines"]}[source]
    process = subprocess.Popen([*(command or EDGE), *args, "--json", "--threads", str(threads), "--batch-size", "4"],
                               stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE, cwd=REPO,
                               preexec_fn=ctrl_c_reaches_python)
    if source == "--lines":   # a few reviews now; the input stays open, as a log tail's would
        process.stdin.write("".join(text + "\n" for text in REVIEWS[:300]).encode())
        process.stdin.flush()
    return process


def stop_and_check(process: subprocess.Popen, sig, already: int = 0, early_exit_ok: bool = False) -> list[dict]:
    """Send ``sig``; the process must end within 1 s with the signal's code and one line; returns the
    results printed after the ``already`` read."""
    sent = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    finally:
        process.kill()
    waited = time.monotonic() - sent
    out, errors = process.stdout.read(), process.stderr.read().decode()
    process.stdin.close()
    assert waited < 1.0, f"still running {waited:.2f} s after {sig.name}"
    assert "Traceback" not in errors, errors[-800:]
    if early_exit_ok and process.returncode == -sig:   # the signal came inside Python's own start-up
        assert errors.strip() == ""
    else:
        assert process.returncode == EXIT[sig], (process.returncode, errors[-500:])
        assert errors.strip().splitlines()[-1] == SAID[sig]
    assert out == b"" or out.endswith(b"\n"), out[-200:]   # nothing half-written
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert [row["line"] for row in rows] == list(range(already + 1, already + len(rows) + 1))   # whole results, in input order
    return rows


SOURCES = ["--file", "--jsonl", "--lines"]
SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_signal_while_classifying_stops_after_whole_lines(sig, source, threads, inputs):
    process = start(source, threads, inputs)
    first = process.stdout.readline()       # classifying and printing
    assert json.loads(first)["line"] == 1
    rows = stop_and_check(process, sig, already=1)
    assert len(rows) < len(REVIEWS) - 1     # stopped, not finished


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_sparse_edge_predict_stops_as_the_runtime_does_while_classifying(sig, inputs):
    """docs/edge.md promises the same stop for `sparse-edge predict`, which runs the same streaming code."""
    process = start("--file", 1, inputs, command=PREDICT)
    first = process.stdout.readline()
    assert json.loads(first)["line"] == 1
    rows = stop_and_check(process, sig, already=1)
    assert len(rows) < len(REVIEWS) - 1


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_signal_while_blocked_on_a_pipe_nobody_reads_stops_at_once(sig, source, threads, inputs):
    process = start(source, threads, inputs)
    if source == "--lines":
        # 600 more (43 KB: within the input pipe, so this write does not block): 900 results outgrow 64 KB
        process.stdin.write("".join(text + "\n" for text in REVIEWS[300:900]).encode())
        process.stdin.flush()
    time.sleep(5)            # the output pipe (64 KB, about 500 results) is full: every write blocks
    rows = stop_and_check(process, sig)
    assert len(rows) >= 100  # the blocked writer was stopped, after what the pipe had taken


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_signal_while_waiting_for_more_input_stops_at_once(sig, threads, inputs):
    process = start("--lines", threads, inputs)
    rows = []
    while len(rows) < 300:     # everything sent so far is printed; the command waits for the next line
        rows.append(json.loads(process.stdout.readline()))
    assert stop_and_check(process, sig, already=300) == []   # nothing more was printed after the 300


@pytest.mark.parametrize("after", [0.0, 0.3, 0.8])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_signal_while_starting_ends_quietly(sig, source, after, inputs, python_start_seconds):
    process = start(source, 4, inputs)
    time.sleep(python_start_seconds + after)   # importing numpy and the interpreter, loading the file
    stop_and_check(process, sig, early_exit_ok=True)


def test_a_reader_that_goes_away_ends_the_command_quietly(inputs):
    """``| head -1``: the pipe closes; the command stops (exit 141, as Unix tools do), no traceback."""
    process = start("--jsonl", 4, inputs)
    assert json.loads(process.stdout.readline())["line"] == 1
    process.stdout.close()
    process.wait(timeout=10)
    errors = process.stderr.read().decode()
    process.stdin.close()
    assert process.returncode == 141 and "Traceback" not in errors, (process.returncode, errors[-500:])
