"""Attention benchmark: forward time and peak memory per pattern and sequence length.

Each measurement runs in its own process so that peak memory (``VmHWM``, ``bench/memory.py``) belongs to that
measurement alone. For the ``tflite`` backend one process (with TensorFlow) converts the model
to a dynamic-range ``.tflite``; a second process, which imports only numpy and ai-edge-litert,
times it on one thread. The parent watches each child's memory and records ``oom`` or
``timeout`` instead of crashing.

Run it with ``sparse-edge bench attention`` (see ``--help``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact, machine_line
from sparse_edge.bench.memory import peak_rss_mb
from sparse_edge.bench.goals import GOALS as ALL_GOALS

BACKENDS = ("tensorflow", "tflite")
# The model every measurement uses: small, so that attention is a visible share of the cost.
MODEL = dict(vocab_size=1000, d_model=128, num_heads=4, num_layers=2, d_ff=512, dropout=0.0)
PATTERN = dict(block_size=64, window=3, num_global=1, num_random=2, seed=0)
GOALS = {k: v for k, v in ALL_GOALS["attention"].items() if k != "max_growth"}
MAX_GROWTH = ALL_GOALS["attention"]["max_growth"]   # time growth per doubling of n, per pattern's cost class


@dataclass
class BenchSettings:
    repeats: int = 5
    memory_limit_gb: float = 12.0
    timeout_s: int = 300


def bench_config(pattern: str, n: int):
    from model.config import TransformerConfig
    from model.patterns import AttentionPattern

    return TransformerConfig(max_length=n, pattern=AttentionPattern(pattern, **PATTERN), **MODEL)




def _time_calls(call, repeats: int, min_total_s: float = 2.0, max_repeats: int = 200) -> list[float]:
    """At least ``repeats`` timed calls, more for fast ones (until ``min_total_s``), so medians are stable."""
    call()  # warm-up: tracing, allocation
    times = []
    while len(times) < repeats or (sum(times) < min_total_s * 1000 and len(times) < max_repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def worker_tensorflow(pattern: str, n: int, repeats: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from model.transformer import SparseTransformerClassifier

    baseline = peak_rss_mb()
    model = SparseTransformerClassifier(bench_config(pattern, n))
    forward = tf.function(lambda ids: model(ids, training=False))
    ids = tf.constant(np.random.default_rng(0).integers(1, 1000, size=(1, n)), tf.int32)
    times = _time_calls(lambda: forward(ids).numpy(), repeats)
    return {"times_ms": times, "baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb()}


def worker_convert(pattern: str, n: int, out: str) -> dict:
    from convert.tflite import convert_keras_model
    from model.transformer import SparseTransformerClassifier

    model = SparseTransformerClassifier(bench_config(pattern, n))
    model.build(None)
    Path(out).write_bytes(convert_keras_model(model, n, "dynamic"))
    return {"size_bytes": os.path.getsize(out)}


def worker_tflite(model_path: str, n: int, repeats: int) -> dict:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    baseline = peak_rss_mb()
    interpreter = Interpreter(model_path=model_path, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    interpreter.set_tensor(index, np.random.default_rng(0).integers(1, 1000, size=(1, n), dtype=np.int32))
    times = _time_calls(interpreter.invoke, repeats)
    assert "tensorflow" not in sys.modules, "the TFLite measurement must not load TensorFlow"
    return {"times_ms": times, "baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb()}


def _run_child(args: list[str], settings: BenchSettings, module: str = "sparse_edge.bench.attention") -> dict:
    """Run ``python -m MODULE ARGS``; watch memory and time; return its JSON (or an ``oom``/``timeout``/``error`` status)."""
    import psutil

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    child = subprocess.Popen([sys.executable, "-m", module, *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = settings.memory_limit_gb * 1024**3
    start, status = time.monotonic(), None
    proc = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss
        except psutil.Error:
            rss = 0
        if rss > limit:
            status = "oom"
        elif time.monotonic() - start > settings.timeout_s:
            status = "timeout"
        if status:
            child.kill()
            child.wait()
            return {"status": status}
        time.sleep(0.05)
    out, err = child.communicate()
    if child.returncode != 0:
        # The kernel's OOM killer (-9) or an allocation failure are out-of-memory results too.
        oom = child.returncode == -9 or "MemoryError" in err or "OOM" in err or "bad_alloc" in err
        errors = [line.strip() for line in err.splitlines() if "Error" in line or "error" in line]
        return {"status": "oom" if oom else "error", "error": (errors or err.strip().splitlines() or [""])[-1][:300]}
    return dict(json.loads(out.strip().splitlines()[-1]), status="ok")


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def measure(pattern: str, n: int, backend: str, settings: BenchSettings, workdir: str) -> dict:
    row = {"pattern": pattern, "n": n, "backend": backend}
    if backend == "tensorflow":
        result = _run_child(["tensorflow", pattern, str(n), str(settings.repeats)], settings)
    else:
        path = os.path.join(workdir, f"{pattern}-{n}.tflite")
        result = _run_child(["convert", pattern, str(n), path], settings)
        if result["status"] == "ok":
            row["size_bytes"] = result["size_bytes"]
            result = _run_child(["tflite", path, str(n), str(settings.repeats)], settings)
            os.unlink(path)
        else:
            result["status"] = f"convert-{result['status']}"
    row["status"] = result["status"]
    if result["status"] == "ok":
        row.update(median_ms=round(_median(result["times_ms"]), 3),
                   times_ms=[round(t, 3) for t in result["times_ms"]],
                   peak_rss_mb=round(result["peak_rss_mb"], 1),
                   baseline_rss_mb=round(result["baseline_rss_mb"], 1))
    else:
        row.update(median_ms=None, peak_rss_mb=None, error=result.get("error"))
    from model.patterns import AttentionPattern, block_layout

    layout = block_layout(AttentionPattern(pattern, **PATTERN), math.ceil(n / PATTERN["block_size"]))
    row.update(keys_per_query=layout.keys_per_query * PATTERN["block_size"])
    return row


def summarize(rows: list[dict]) -> dict:
    """Growth per doubling of n, and the sparse-vs-dense ratios the project promises."""
    ok = {(r["pattern"], r["n"], r["backend"]): r for r in rows if r["status"] == "ok"}
    growth, lines, checks = {}, [], {}
    for backend in sorted({r["backend"] for r in rows}):
        for pattern in sorted({r["pattern"] for r in rows}):
            ns = sorted(n for (p, n, b) in ok if p == pattern and b == backend)
            pairs = [(a, b) for a, b in zip(ns, ns[1:]) if b == 2 * a]
            ratios = {f"{a}->{b}": round(ok[(pattern, b, backend)]["median_ms"] / ok[(pattern, a, backend)]["median_ms"], 3)
                      for a, b in pairs}
            if ratios:
                growth[f"{pattern}/{backend}"] = ratios
                judged = [ratios[f"{a}->{b}"] for a, b in pairs if a >= GOALS["growth_from"]]
                worst = max(judged or ratios.values())
                lines.append(f"{backend:10s} {pattern:9s} time growth per doubling: max {worst:.2f}x from "
                             f"{GOALS['growth_from']:,} up ({', '.join(f'{k}: {v:.2f}' for k, v in ratios.items())})")
                if pattern in MAX_GROWTH and judged:
                    checks[f"growth<= {MAX_GROWTH[pattern]} from n={GOALS['growth_from']:,}: {pattern}/{backend}"] = (
                        worst <= MAX_GROWTH[pattern])
    n = GOALS["n"]
    dense = ok.get(("dense", n, "tflite"))
    for pattern in GOALS["vs_dense"]:
        sparse = ok.get((pattern, n, "tflite"))
        if sparse and dense:
            speedup = dense["median_ms"] / sparse["median_ms"]
            memory = dense["peak_rss_mb"] / sparse["peak_rss_mb"]
            lines.append(f"tflite n={n}: {pattern} is {speedup:.1f}x faster and uses {memory:.1f}x less "
                         f"peak memory than dense")
            checks[f"speedup>= {GOALS['min_speedup']}: {pattern} vs dense at n={n}"] = speedup >= GOALS["min_speedup"]
            checks[f"memory ratio>= {GOALS['min_memory_ratio']}: {pattern} vs dense at n={n}"] = (
                memory >= GOALS["min_memory_ratio"])
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"{r['backend']:10s} {r['pattern']:9s} n={r['n']}: {r['status']}")
    return {"growth_per_doubling": growth, "checks": checks, "all_checks_pass": all(checks.values()),
            "lines": lines}


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"tflite": "-", "tensorflow": "--"}
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    colors = dict(zip(patterns, plt.cm.tab10.colors))
    for backend in styles:
        for pattern in patterns:
            pts = sorted((r["n"], r["median_ms"], r["peak_rss_mb"]) for r in rows
                         if r["pattern"] == pattern and r["backend"] == backend and r["status"] == "ok")
            if not pts:
                continue
            ns, ms, mb = zip(*pts)
            kwargs = dict(ls=styles[backend], color=colors[pattern], marker="o", ms=3,
                          label=f"{pattern} ({backend})")
            axes[0].plot(ns, ms, **kwargs)
            axes[1].plot(ns, mb, **kwargs)
    for ax, label in zip(axes, ("forward time, median (ms)", "peak RSS of the process (MB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle("Block-sparse attention, 2 layers x width 128 x 4 heads, batch 1, 1 thread (TFLite)\n"
                 "reproduce: sparse-edge bench attention", fontsize=9)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    plt.close(fig)


def run_attention_benchmark(lengths, patterns, backends, json_path, plot_path=None,
                            settings: BenchSettings | None = None) -> dict:
    from tqdm import tqdm

    from training.files import write_json_atomic
    from model.patterns import PATTERNS

    settings = settings or BenchSettings()
    for name in patterns:
        if name not in PATTERNS:
            raise ValueError(f"unknown attention pattern {name!r}; choose from {', '.join(PATTERNS)}")
    for name in backends:
        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    if not lengths or min(lengths) < PATTERN["block_size"]:
        raise ValueError(f"lengths must be at least the block size {PATTERN['block_size']}, got {lengths}")
    jobs = [(p, n, b) for p in patterns for n in sorted(lengths) for b in backends]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for pattern, n, backend in tqdm(jobs, desc="attention benchmark", unit="run"):
            rows.append(measure(pattern, n, backend, settings, workdir))
    report = {
        "benchmark": "attention",
        "command": "sparse-edge bench attention " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "attention"]
        else "sparse-edge bench attention",
        "model": MODEL, "pattern_settings": PATTERN, "batch": 1, "tflite_threads": 1,
        "tflite_variant": "dynamic-range int8 weights",
        "settings": dataclasses.asdict(settings), "goals": {k: v for k, v in GOALS.items()},
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "summary": summarize(rows),
    }
    write_json_atomic(json_path, report)
    plot(rows, plot_path or str(Path(json_path).with_suffix(".png")))
    return report


if __name__ == "__main__":  # worker entry point: python -m sparse_edge.bench.attention KIND ...
    kind, *rest = sys.argv[1:]
    if kind == "tensorflow":
        result = worker_tensorflow(rest[0], int(rest[1]), int(rest[2]))
    elif kind == "convert":
        result = worker_convert(rest[0], int(rest[1]), rest[2])
    elif kind == "tflite":
        result = worker_tflite(rest[0], int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result))


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def attention_bench() -> str:
    """Forward time and peak memory per pattern and length (artifacts/bench/attention.json)."""
    report = load_artifact("artifacts/bench/attention.json")
    rows = report["rows"]
    lengths = sorted({r["n"] for r in rows})
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    lines = []
    for backend, title in (("tflite", "TFLite, dynamic range, 1 thread"), ("tensorflow", "TensorFlow (Keras)")):
        if not any(r["backend"] == backend for r in rows):
            continue
        lines.append(f"**{title}**: median forward time in ms / peak RSS in MB, batch 1\n")
        lines.append("| pattern | " + " | ".join(f"n={n:,}" for n in lengths) + " |")
        lines.append("|---|" + "---:|" * len(lengths))
        for p in patterns:
            cells = []
            for n in lengths:
                r = next((r for r in rows if (r["pattern"], r["n"], r["backend"]) == (p, n, backend)), None)
                if r is None:
                    cells.append("")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    cells.append(f"{r['median_ms']:,.1f} / {r['peak_rss_mb']:,.0f}")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    summary = report["summary"]
    lines.append("Checks (from the same run):\n")
    for name, ok in summary["checks"].items():
        lines.append(f"- {'✅' if ok else '❌'} {name}")
    lines.append("")
    lines += [f"- {line}" for line in summary["lines"] if "growth" in line]
    lines.append("")
    lines.append(f"Machine: {machine_line(report['machine'])}; {report['date']}. "
                 f"Reproduce: `{report['command']}`.")
    return "\n".join(lines)
