"""Streaming from the command line with the shipped file: results as they go, bad lines, Ctrl-C, caps."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_runtime import TextClassifier

REPO = Path(__file__).resolve().parents[1]
INT8 = REPO / "artifacts" / "imdb-classifier" / "tflite" / "int8.tflite"
EDGE = [sys.executable, "-m", "edge_runtime", str(INT8)]


def ctrl_c_reaches_python():
    """Popen's preexec_fn: SIGINT back to its default before Python starts. A shell without job control
    starts background commands (`cmd &`, as a CI runner may run the tests) with SIGINT ignored, which
    children inherit, and Python then rightly leaves it ignored: Ctrl-C would never reach the command."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(*args, **kw):
    return subprocess.run([*EDGE, *args], capture_output=True, cwd=REPO, timeout=120, **kw)


@pytest.fixture(scope="module")
def api():
    return TextClassifier(INT8)


def test_results_are_printed_while_the_input_is_still_open(api):
    """A log tail: one line in, its result out, before the next line is even written."""
    process = subprocess.Popen([*EDGE, "--lines", "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=REPO)
    try:
        for number, text in enumerate(["A wonderful film.", "Dull and far too long.", "Loved every minute."], 1):
            process.stdin.write(text.encode() + b"\n")
            process.stdin.flush()
            result = json.loads(process.stdout.readline())     # blocks until this line's result is printed
            assert result["line"] == number and result["label"] == api.classify(text).label
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def test_bad_jsonl_lines_are_reported_by_number_skipped_and_fail_at_the_end(tmp_path, api):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"text": "A fine film.", "id": "a"}\n'
                     b'not json\n'
                     + ("[" * 100_000).encode() + b"\n"
                     + b'{"text": 5}\n'
                     + json.dumps({"text": "great\u2028film\u2029really\u0085good", "id": 5}, ensure_ascii=False).encode() + b"\n"
                     + b'\n{"text": "Awful."}\n')
    out = run("--jsonl", str(path))
    assert out.returncode == 1
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 5, 7] and [r.get("id") for r in results] == ["a", 5, None]
    assert results[1]["probabilities"] == api.classify("great\u2028film\u2029really\u0085good").probabilities
    errors = out.stderr.decode().splitlines()
    assert errors[0].startswith(f"error: {path} line 2 is not JSON")
    assert errors[1].startswith(f"error: {path} line 3 is JSON nested too deeply")
    assert errors[2].startswith(f"error: {path} line 4 has no string field")
    assert errors[-1] == f"error: 3 bad line(s) in {path} skipped (the first: line 2); 3 review(s) classified"
    assert "Traceback" not in out.stderr.decode()
    strict = run("--jsonl", str(path), "--strict")
    assert strict.returncode == 1 and len(strict.stdout.splitlines()) == 1
    assert strict.stderr.decode().strip() == (f"error: {path} line 2 is not JSON (Expecting value at column 1); give one "
                                              'object per line, for example {"text": "..."} (stopped: --strict)')


def test_file_lines_keep_their_numbers_and_order_with_threads(tmp_path, api):
    texts = [f"review {i}: " + ("a great film " if i % 3 else "a dull plot ") * (i % 50) for i in range(120)]
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(texts[:60]) + "\n\n" + "\n".join(texts[60:]) + "\n")
    out = run("--file", str(path), "--json", "--threads", "2", "--batch-size", "7")
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["line"] for r in results] == list(range(1, 61)) + list(range(62, 122))
    assert [r["label"] for r in results] == [api.classify(t).label for t in texts]


def test_ctrl_c_stops_cleanly_after_printing_whole_results():
    process = subprocess.Popen([*EDGE, "--lines"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=REPO, preexec_fn=ctrl_c_reaches_python)
    process.stdin.write(b"A fine film.\n" * 50)
    process.stdin.flush()
    first = process.stdout.readline()              # running and printing; the input stays open
    process.send_signal(signal.SIGINT)
    # the input stays open until the process has ended, so only Ctrl-C can end it
    try:
        process.wait(timeout=60)
    finally:
        process.kill()
    rest, errors = process.stdout.read(), process.stderr.read()
    process.stdin.close()
    assert process.returncode == 130
    lines = (first + rest).decode().splitlines()
    assert len(lines) >= 1 and all(line.startswith(tuple(f"{n}\tpositive" for n in range(1, 51))) for line in lines)
    assert errors.decode().strip().splitlines()[-1] == "error: interrupted" and b"Traceback" not in errors


@pytest.fixture(scope="module")
def python_start_seconds():
    """How long Python itself takes to start here (before any project code runs), doubled for noise.

    A Ctrl-C inside that window interrupts Python's own start-up (runpy, site), which no project
    code can catch; the project's part starts after it."""
    start = time.perf_counter()   # what runs before the project's own handler: Python, runpy, the package
    subprocess.run([sys.executable, "-c", "import runpy, edge_runtime, sparse_edge.entry"], check=True)
    return 3 * (time.perf_counter() - start)


@pytest.mark.parametrize("after", [0.0, 0.1, 0.25, 0.5])
@pytest.mark.parametrize("command", ["python -m edge_runtime", "sparse-edge predict"])
def test_ctrl_c_while_starting_prints_no_traceback(after, command, python_start_seconds):
    start = EDGE if command.startswith("python") else [str(Path(sys.executable).parent / "sparse-edge"), "predict", str(INT8)]
    process = subprocess.Popen([*start, "A fine film."], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                               preexec_fn=ctrl_c_reaches_python)
    time.sleep(python_start_seconds + after)    # importing numpy, the interpreter, building the tokenizer
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    # interrupted: exit 130 with one line, or ended by the signal itself as Unix programs are (-2);
    # it may also have finished before the signal came. Never a traceback.
    assert process.returncode in (0, 130, -signal.SIGINT) and b"Traceback" not in errors, errors.decode()[-500:]
    assert errors.decode().strip() in ("", "error: interrupted")


def test_empty_standard_input_is_no_text_like_an_empty_argument():
    for args, given in ([(), b""], [(), b"  \n\t\n"], [("--lines",), b"\n\n"]):
        out = run(*args, input=given)
        assert out.returncode == 2 and out.stdout == b""
        assert out.stderr.decode().startswith("error: no text to classify")


def test_device_files_as_input_hit_the_line_cap_not_memory():
    out = run("--file", "/dev/zero")
    assert out.returncode == 1
    assert out.stderr.decode().strip() == ("error: /dev/zero line 1 is longer than 16 MiB; give one review per line "
                                           "of a text file (0 review(s) classified before it)")


def test_a_five_megabyte_review_is_tokenized_only_up_to_the_longest_length(api):
    text = "A quietly great film with a superb cast. " * 125_000     # 5 MB, a million tokens whole
    result = api.classify(text)
    assert result.truncated and result.label == "positive"
    assert api.max_length < result.n_tokens <= api.max_length + 10   # stopped once 1,024 were filled
