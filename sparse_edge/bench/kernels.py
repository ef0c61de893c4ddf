"""How much a ``.tflite`` file's outputs depend on which CPU kernels run it.

The same file on the same runtime gives bit-identical probabilities only when the same kernels
run it. XNNPACK (the interpreter's default delegate) picks its kernels by the CPU's instruction
set (AVX2, AVX-512, NEON), and other kernels add floats in another order. A float model hardly
notices (under 1e-6 here). A quantized model rounds its activations while it runs, so a value next to
a rounding edge can land one step away, and that step reaches the output: ``dynamic`` quantizes
activations at run time, and ``int8``'s output itself is in 1/256 steps.

This benchmark runs every review twice on this machine, with XNNPACK and with the interpreter's
built-in kernels alone, and records the differences per variant. The tolerances with which
``tests/test_artifacts.py`` compares today's outputs with those recorded in ``parity.json`` (on
whatever CPU it ran) come from here.

Writes ``artifacts/bench/kernels.json``.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import numpy as np

from edge_runtime import TextClassifier
from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact, machine_line


class BuiltinKernelClassifier(TextClassifier):
    """A TextClassifier whose interpreters run the runtime's built-in kernels, without XNNPACK."""

    def _thread_interpreter(self):
        if not isinstance(self._Interpreter, functools.partial):   # first call, from __init__
            resolver = importlib.import_module(self._Interpreter.__module__).OpResolverType
            self._Interpreter = functools.partial(
                self._Interpreter, experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        return super()._thread_interpreter()


def kernel_spread(path: Path, texts: list[str]) -> dict:
    """|P(positive) with XNNPACK - P(positive) with built-in kernels| over ``texts``, summarised."""
    xnnpack, builtin = TextClassifier(path), BuiltinKernelClassifier(path)
    pairs = [(xnnpack.classify(t), builtin.classify(t)) for t in texts]
    diffs = np.array([abs(float(a.probabilities[1]) - float(b.probabilities[1])) for a, b in pairs])
    return {"reviews": len(texts), "max_abs_prob_diff": float(diffs.max()),
            "p99_abs_prob_diff": float(np.quantile(diffs, 0.99)), "median_abs_prob_diff": float(np.median(diffs)),
            "reviews_above_1e-6": int((diffs > 1e-6).sum()),
            "labels_changed": sum(a.label != b.label for a, b in pairs),
            "runtime": f"{xnnpack.backend} {xnnpack.backend_version}", "size_bytes": Path(path).stat().st_size}


def run_kernel_benchmark(model_dir: str, variants: list[str], json_path: str, data_dir: str | None = None,
                         limit: int = 1000, progress=None) -> dict:
    """Measure every variant on the first ``limit`` test reviews and write the report atomically."""
    from training.files import write_json_atomic
    from training.data import load_imdb

    from training.saved import ModelFolder

    folder = ModelFolder(model_dir)
    missing = [v for v in variants if not folder.tflite(v).exists()]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)} .tflite in {folder.tflite_dir}; "
                                f"run `sparse-edge convert {folder.path}` first")
    texts = load_imdb("test", data_dir, limit=limit).texts
    report = {"benchmark": "kernels", "model_dir": str(folder.path), "machine": describe_machine(),
              "variants": {},
              "command": f"sparse-edge bench kernels --model-dir {folder.path} --limit {limit}"}
    for variant in variants:
        row = kernel_spread(folder.tflite(variant), texts)
        report["variants"][variant] = row
        if progress:
            progress(f"{variant}: max |dp| {row['max_abs_prob_diff']:.1e}, "
                     f"{row['reviews_above_1e-6']} of {row['reviews']} reviews above 1e-6")
    write_json_atomic(Path(json_path), report)
    return report


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def kernel_spread_table() -> str:
    """How far each variant's outputs move when other CPU kernels run it (artifacts/bench/kernels.json)."""
    r = load_artifact("artifacts/bench/kernels.json")
    machine = r["machine"]
    rows = [f"| `{v}` | {row['max_abs_prob_diff']:.1e} | {row['p99_abs_prob_diff']:.1e} | "
            f"{row['reviews_above_1e-6']:,} of {row['reviews']:,} | {row['labels_changed']} |"
            for v, row in r["variants"].items()]
    return "\n".join([
        "| variant | max abs Δp | p99 abs Δp | reviews above 1e-6 | labels changed |", "|---|---:|---:|---:|---:|",
        *rows, "",
        f"The same file and runtime ({next(iter(r['variants'].values()))['runtime']}), with XNNPACK and with the "
        f"interpreter's built-in kernels, on {machine_line(machine)}. Reproduce: `{r['command']}`."])
