"""Long-document benchmark: what a byte-level model costs on the device as documents grow.

- time per document (tokenize + invoke + postprocess, through ``edge_runtime.TextClassifier`` on
  one thread) at each input length in ``--lengths``: real IMDB test reviews joined end to end and
  cut at the length less the two reserved ids ([CLS], [SEP]), so each document fills the
  signature of that length exactly (4,094 bytes are 4,096 ids);
- the same model with dense attention (the same weights, the same variant, converted the same way,
  one input length ``--dense-at``) timed on the same documents at that length, in the same run;
- the memory each model needs: the process's peak resident memory minus what it held before the
  interpreter was created (each measurement is its own process, so the peak is that model's).

Every timing runs in a child process that imports numpy and the TFLite interpreter only. Writes
JSON where ``--json`` says (``runs/bench/long.json`` by default); compare medians and ratios within
one run.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact, machine_line
from sparse_edge.bench.memory import peak_rss_mb, rss_mb, run_child
from sparse_edge.bench.goals import GOALS as ALL_GOALS

# What the issue promises for a byte model's int8 file on one thread.
SPECIAL_IDS = 2   # [CLS] and [SEP] around a byte model's bytes
GOALS = ALL_GOALS["long"]


def documents(texts: list[str], length: int, count: int) -> list[str]:
    """``count`` documents of exactly ``length`` UTF-8 bytes (less at most 3 where a character would
    be split), each the next reviews of ``texts`` joined by blank lines."""
    out, i = [], 0
    for _ in range(count):
        data = b""
        while len(data) < length:
            data += (b"\n\n" if data else b"") + texts[i % len(texts)].encode("utf-8")
            i += 1
        data = data[:length]
        out.append(data.decode("utf-8", errors="ignore"))
    return out






def worker_time(model_path: str, docs_path: str, repeats: int) -> dict:
    """In a fresh process: load the file, classify each document ``repeats`` times after a warm-up."""
    docs = json.loads(Path(docs_path).read_text())
    before = rss_mb()
    from edge_runtime import TextClassifier

    classifier = TextClassifier(model_path, num_threads=1)
    times, lengths, ids = [], set(), []
    for doc in docs:
        result = classifier.classify(doc)            # warm-up: this length's signature is allocated
        ids.append(result.n_tokens)
        lengths.add(classifier.input_length(result.n_tokens))
        for _ in range(repeats):
            times.append(classifier.classify(doc).latency_ms)
    assert "tensorflow" not in sys.modules, "the device measurement must not load TensorFlow"
    return {"times_ms": times, "ids": ids, "signatures": sorted(lengths), "truncated": bool(result.truncated),
            "rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "backend": classifier.backend}




def dense_twin(model_dir: Path, out: Path, variant: str, length: int, data_dir, manual_dir) -> Path:
    """The model of ``model_dir`` with dense attention (same weights: the pattern adds none), saved as
    a model folder under ``out`` and converted to ``variant`` with the one input length ``length``."""
    from convert.export import convert_model_dir
    from training.files import save_keras_atomic, write_atomic, write_json_atomic
    from model.config import TransformerConfig
    from training.saved import ModelFolder
    from model.transformer import SparseTransformerClassifier

    source = ModelFolder(model_dir)
    model, _, _ = source.load()
    config = model.config.to_dict()
    config.update(pattern=dict(config["pattern"], name="dense"), max_length=length)
    dense = SparseTransformerClassifier(TransformerConfig.from_dict(config))
    dense(np.zeros((1, length), np.int32))
    dense.set_weights(model.get_weights())
    out.mkdir(parents=True, exist_ok=True)
    for name in (ModelFolder.TRAIN_CONFIG, ModelFolder.DATA):
        if (source / name).exists():
            write_atomic(out / name, (source / name).read_bytes())
    record = json.loads((source / ModelFolder.CONFIG).read_text())
    record["model"] = dense.config.to_dict()
    write_json_atomic(out / ModelFolder.CONFIG, record)
    save_keras_atomic(dense, out / ModelFolder.MODEL)
    written = convert_model_dir(out, [variant], data_dir=data_dir, manual_dir=manual_dir, lengths=[length])
    return written[variant]


def summarize(rows: list[dict], dense: dict | None) -> dict:
    by_n = {r["length"]: r for r in rows}
    ns = sorted(by_n)
    growth = {f"{a}->{b}": round(by_n[b]["p50_ms"] / by_n[a]["p50_ms"], 3) for a, b in zip(ns, ns[1:])}
    per_doubling = {k: round(v ** (1 / math.log2(int(k.split("->")[1]) / int(k.split("->")[0]))), 3)
                    for k, v in growth.items()}
    checks, lines = {}, []
    if per_doubling:
        worst = max(per_doubling.values())
        checks[f"time grows at most {GOALS['max_growth_per_doubling']}x per doubling"] = (
            worst <= GOALS["max_growth_per_doubling"])
        lines.append("time per doubling of the document: " + ", ".join(f"{k}: {v:.2f}x" for k, v in per_doubling.items()))
    at = by_n.get(GOALS["p50_ms_at"])
    if at:
        checks[f"a {GOALS['p50_ms_at']:,}-id document in at most {GOALS['max_p50_ms']:.0f} ms p50"] = (
            at["p50_ms"] <= GOALS["max_p50_ms"])
    if dense and dense.get("status") == "ok" and dense["length"] in by_n:
        sparse = by_n[dense["length"]]
        speedup = dense["p50_ms"] / sparse["p50_ms"]
        memory = dense["model_memory_mb"] / sparse["model_memory_mb"]
        dense.update(speedup=round(speedup, 2), memory_ratio=round(memory, 2))
        checks[f"at least {GOALS['min_speedup_vs_dense']:.0f}x faster than dense at {dense['length']:,} ids"] = (
            speedup >= GOALS["min_speedup_vs_dense"])
        checks[f"at least {GOALS['min_memory_ratio_vs_dense']:.0f}x less memory than dense at {dense['length']:,} ids"] = (
            memory >= GOALS["min_memory_ratio_vs_dense"])
        lines.append(f"at {dense['length']:,} ids sparse is {speedup:.1f}x faster than dense and needs "
                     f"{memory:.1f}x less memory ({sparse['model_memory_mb']:.0f} MB against {dense['model_memory_mb']:.0f} MB)")
    return {"growth": growth, "growth_per_doubling": per_doubling, "checks": checks,
            "all_checks_pass": bool(checks) and all(checks.values()), "lines": lines}


def _row(result: dict, n: int) -> dict:
    return {"length": n, "bytes": n - SPECIAL_IDS, "status": "ok", "p50_ms": round(float(np.percentile(result["times_ms"], 50)), 3),
            "p90_ms": round(float(np.percentile(result["times_ms"], 90)), 3), "calls": len(result["times_ms"]),
            "ids": sorted(set(result["ids"])), "signatures": result["signatures"], "truncated": result["truncated"],
            "model_memory_mb": round(result["peak_rss_mb"] - result["rss_before_mb"], 1),
            "peak_rss_mb": round(result["peak_rss_mb"], 1), "backend": result["backend"]}


def run_long_benchmark(model_dir: str, variant: str, lengths: list[int], dense_at: int | None, json_path: str,
                       docs_per_length: int = 5, repeats: int = 4, data_dir=None, manual_dir=None,
                       work_dir: str = "runs/bench/long-dense") -> dict:
    from tqdm import tqdm

    from training.files import write_json_atomic
    from training.saved import ModelFolder
    from training.sources import data_for_folder

    folder = ModelFolder(model_dir)
    path = folder.tflite(variant)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; convert first: sparse-edge convert {model_dir} --variants {variant}")
    if dense_at is not None and dense_at not in lengths:
        raise ValueError(f"--dense-at {dense_at} must be one of --lengths ({', '.join(map(str, lengths))}): "
                         "dense and sparse are compared on the same documents")
    from edge_runtime.bundle import read_bundle

    signatures = list(read_bundle(path.read_bytes(), str(path)).config.lengths)
    unknown = [n for n in lengths if n not in signatures]
    if unknown:
        raise ValueError(f"{path.name} has no input of length {', '.join(map(str, unknown))}; choose --lengths "
                         f"from its signatures: {', '.join(map(str, signatures))}")
    texts = data_for_folder(folder, data_dir, manual_dir).load("test", limit=2000).texts
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    rows, dense = [], None
    with tempfile.TemporaryDirectory() as tmp:
        docs = {}
        for n in lengths:
            docs[n] = Path(tmp) / f"docs-{n}.json"
            docs[n].write_text(json.dumps(documents(texts, n - SPECIAL_IDS, docs_per_length)))
        for n in tqdm(lengths, desc="sparse, per length", unit="length"):
            timed = run_child("sparse_edge.bench.long", ["time", str(path), str(docs[n]), str(repeats)])
            rows.append(_row(timed, n))
        if dense_at is not None:
            dense_path = dense_twin(Path(model_dir), Path(work_dir), variant, dense_at, data_dir, manual_dir)
            timed = run_child("sparse_edge.bench.long", ["time", str(dense_path), str(docs[dense_at]), str(repeats)])
            dense = dict(_row(timed, dense_at),
                         model=str(dense_path), size_bytes=dense_path.stat().st_size)
    report = {
        "benchmark": "long",
        "command": "sparse-edge bench long " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "long"]
        else "sparse-edge bench long",
        "model_dir": str(model_dir), "variant": variant, "size_bytes": path.stat().st_size,
        "documents": f"{docs_per_length} per length: IMDB test reviews (seeded order) joined by blank lines, cut at the length",
        "repeats_per_document": repeats, "threads": 1, "goals": GOALS,
        "machine": describe_machine(), "date": time.strftime("%Y-%m-%d"),
        "rows": rows, "dense": dense,
    }
    report["summary"] = summarize(rows, dense)
    write_json_atomic(json_path, report)
    return report


if __name__ == "__main__":  # worker entry point: python -m sparse_edge.bench.long time MODEL DOCS REPEATS
    kind, *rest = sys.argv[1:]
    if kind != "time":
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(worker_time(rest[0], rest[1], int(rest[2]))))


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
def long_bench(path: str = "artifacts/lra-text/long-bench.json") -> str:
    """Time and memory per document length of the shipped byte model, and dense at the same size."""
    report = load_artifact(path)
    lines = [f"`{report['variant']}.tflite` ({report['size_bytes'] / 1e6:.2f} MB), one thread, "
             f"{report['documents']}; each document classified {report['repeats_per_document']} times after a warm-up.\n",
             "| input (ids) | document (bytes) | attention | p50 ms | p90 ms | memory MB (peak − before loading) |",
             "|---:|---:|---|---:|---:|---:|"]
    measured = [(r, "sparse (local)") for r in report["rows"]]
    measured += [(report["dense"], "dense, same weights")] if report.get("dense") else []
    for r, attention in measured:
        lines.append(f"| {r['length']:,} | {r['bytes']:,} | {attention} | {r['p50_ms']:,.1f} | {r['p90_ms']:,.1f} | "
                     f"{r['model_memory_mb']:,.0f} |")
    lines.append("")
    for name, ok in report["summary"]["checks"].items():
        lines.append(f"- {'✅' if ok else '❌'} {name}")
    lines += [f"- {line}" for line in report["summary"]["lines"]]
    lines.append("")
    lines.append(f"Machine: {machine_line(report['machine'])}; {report['date']}. Reproduce: `{report['command']}`.")
    return "\n".join(lines)
