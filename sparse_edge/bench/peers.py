"""``sparse-edge bench peers``: the shipped classifier against the models a user would pick instead.

Peers, trained here in the same run on the same 25,000 IMDB training reviews:

- ``tfidf-lr``: TF-IDF of word 1-2-grams and a logistic regression (scikit-learn);
- ``nb-lr``: NB-LR (Wang & Manning 2012's NBSVM as a logistic regression) on binary word
  1-3-grams, each feature scaled by its naive-Bayes log-count ratio;
- ``fasttext``: fastText with word bigrams, quantized to a ``.ftz`` (when ``fasttext`` imports;
  the JSON says so when it does not).

Against them, the shipped ``.tflite`` variants through ``edge_runtime``. For every system, on the
25,000 test reviews: accuracy, file size, latency of one review per call on one thread (p50, p95;
the systems take turns review by review, so they share the machine's noise), batch throughput,
cold start and peak memory of a fresh process that loads the file and classifies one review, the
training time, and the behavioural suite (``sparse_edge.bench.behaviour``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from convert.variants import FULL_INTEGER
from training.machine import describe_machine
from sparse_edge.reports.tables import load_artifact, machine_line
from sparse_edge.bench.goals import GOALS as ALL_GOALS

REPO = Path(__file__).resolve().parents[2]
BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean(text: str) -> str:
    """What every peer reads: HTML line breaks as spaces (the project's tokenizer does the same)."""
    return BREAK.sub(" ", text)


# -- the peers ----------------------------------------------------------------------------------

def train_tfidf_lr(texts: list[str], labels: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, preprocessor=_lower_clean),
                          LogisticRegression(C=8.0, max_iter=2000, solver="liblinear"))
    model.fit(texts, labels)
    model[0].stop_words_ = None   # every n-gram min_df dropped: only for inspection, most of the file otherwise
    return model


class NbLr:
    """Binary word 1-3-grams scaled by naive-Bayes log-count ratios, then a logistic regression."""

    def __init__(self, regularization: float = 0.1, smoothing: float = 1.0):
        self.regularization, self.smoothing = regularization, smoothing

    def fit(self, texts, labels):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = CountVectorizer(ngram_range=(1, 3), binary=True, min_df=2, preprocessor=_lower_clean,
                                          token_pattern=r"(?u)\b\w+\b|[!?]")
        x = self.vectorizer.fit_transform(texts)
        self.vectorizer.stop_words_ = None   # the n-grams min_df dropped: not needed to predict
        p = self.smoothing + np.asarray(x[labels == 1].sum(axis=0)).ravel()
        q = self.smoothing + np.asarray(x[labels == 0].sum(axis=0)).ravel()
        self.ratios = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        self.regression = LogisticRegression(C=self.regularization, solver="liblinear", dual=True, max_iter=1000)
        self.regression.fit(x.multiply(self.ratios).tocsr(), labels)
        return self

    def predict_proba(self, texts):
        return self.regression.predict_proba(self.vectorizer.transform(texts).multiply(self.ratios).tocsr())


def _lower_clean(text: str) -> str:
    return clean(text).lower()


def train_fasttext(texts, labels, path: Path):
    import fasttext

    train_file = path.with_suffix(".train.txt")
    train_file.write_text("".join(f"__label__{y} {' '.join(_lower_clean(t).split())}\n" for t, y in zip(texts, labels)),
                          encoding="utf-8")
    model = fasttext.train_supervised(str(train_file), wordNgrams=2, epoch=10, lr=0.5, dim=50, minCount=2,
                                      bucket=2_000_000, thread=2, verbose=0, seed=0)
    # product quantization of the 100,000 input rows of largest norm; a small training set (a --limit check)
    # has far fewer words, and 4 rows per word keep its quantization from costing what IMDB's does
    model.quantize(input=str(train_file), qnorm=True, retrain=True, cutoff=min(100_000, 4 * len(model.words)),
                   thread=2, verbose=0)
    train_file.unlink()
    model.save_model(str(path))
    return path


def load_predictor(kind: str, path: str):
    """``texts -> P(positive)`` for a saved system (also what the cold-start child runs).

    A review counts as positive where this is above 0.5, the rule each system's own label follows
    (a tie is negative). For a ``.tflite`` it is ``0.5 + (p_positive - p_negative) / 2``: an int8
    file's two outputs come in 1/256 steps and need not add up to 1, and its label is the larger.
    """
    if kind == "tflite":
        from edge_runtime import TextClassifier

        classifier = TextClassifier(path, num_threads=1)

        def predict(texts):
            out = []
            for text in texts:
                p = classifier.classify(text).probabilities
                out.append(0.5 + (p[1] - p[0]) / 2)
            return out
        return predict
    if kind == "fasttext":
        import fasttext

        model = fasttext.load_model(path)

        def predict(texts):
            # the low-level call, one text at a time: fastText's own predict() fails under numpy 2
            # (np.array(copy=False)), and its multi-line call returns the same probability for every label
            out = []
            for text in texts:
                pairs = dict((label, p) for p, label in model.f.predict(" ".join(_lower_clean(text).split()), 2, 0.0,
                                                                         "strict"))
                out.append(float(pairs.get("__label__1", 0.0)))
            return out
        return predict
    import joblib

    model = joblib.load(path)
    return lambda texts: [float(p) for p in model.predict_proba(list(texts))[:, 1]]


def cold_start_child(kind: str, path: str, text: str) -> None:
    """Run in a fresh process: import, load, classify once; print seconds and peak RSS as JSON.

    Peak RSS is the kernel's high-water mark of this process's own memory (VmHWM). Not
    ``ru_maxrss``: on Linux it survives ``exec``, so a child of a large parent reports the parent's.
    """
    start = time.perf_counter()
    p = load_predictor(kind, path)([text])[0]
    seconds = time.perf_counter() - start
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    peak = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "p": p}))


def cold_start(kind: str, path: Path, text: str, repeats: int = 3) -> dict:
    """Median over ``repeats`` fresh processes of import + load + first result, whole-process time, peak RSS."""
    runs = []
    code = "import sys; from sparse_edge.bench.peers import cold_start_child; cold_start_child(*sys.argv[1:])"
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", code, kind, str(path), text], capture_output=True,
                                text=True, cwd=REPO)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"cold start of {path} failed: {result.stderr.strip()[-400:]}")
        row = json.loads(result.stdout.strip().splitlines()[-1])
        runs.append((row["seconds"], wall, row["peak_rss_mb"]))
    seconds, wall = (float(np.median([r[i] for r in runs])) for i in range(2))
    rss = [r[2] for r in runs if r[2] is not None]
    return {"ms": round(seconds * 1000, 1), "process_ms": round(wall * 1000, 1),
            "peak_rss_mb": round(float(np.median(rss)), 1) if rss else None, "peak_rss_source": "VmHWM"}


# -- the benchmark ------------------------------------------------------------------------------

def _train_peers(train, out: Path, progress) -> tuple[dict, str | None]:
    """TF-IDF + LR, NB-LR and (if installed) fastText trained on ``train``, saved under ``out``."""
    import joblib

    systems = {}
    progress("training tfidf-lr (TF-IDF word 1-2-grams + logistic regression)")
    start = time.perf_counter()
    joblib.dump(train_tfidf_lr(train.texts, train.labels), out / "tfidf-lr.joblib")
    systems["tfidf-lr"] = {"kind": "joblib", "path": out / "tfidf-lr.joblib", "train_seconds": time.perf_counter() - start}
    progress("training nb-lr (NB-LR, binary word 1-3-grams)")
    start = time.perf_counter()
    joblib.dump(NbLr().fit(train.texts, train.labels), out / "nb-lr.joblib")
    systems["nb-lr"] = {"kind": "joblib", "path": out / "nb-lr.joblib", "train_seconds": time.perf_counter() - start}
    try:
        import fasttext  # noqa: F401
    except ImportError:
        note = "fasttext is not installed here (pip install fasttext-wheel); not measured"
        progress(note)
        return systems, note
    progress("training fasttext (word bigrams, quantized .ftz)")
    start = time.perf_counter()
    train_fasttext(train.texts, train.labels, out / "fasttext.ftz")
    systems["fasttext"] = {"kind": "fasttext", "path": out / "fasttext.ftz", "train_seconds": time.perf_counter() - start}
    return systems, None


def _interleaved_latency(predictors: dict, sample: list[str]) -> dict:
    """Per system, p50 and p95 ms of one review per call, the systems taking turns on each review."""
    from tqdm import tqdm

    times = {name: [] for name in predictors}
    names = list(predictors)
    for i, text in enumerate(tqdm(sample, desc="latency (systems take turns)", unit="review")):
        for name in names[i % len(names):] + names[: i % len(names)]:
            start = time.perf_counter()
            predictors[name]([text])
            times[name].append((time.perf_counter() - start) * 1000)
    latency = {}
    for name in predictors:
        values = np.asarray(times[name][1:])   # the first call of each warms caches
        latency[name] = {"p50": round(float(np.percentile(values, 50)), 3),
                         "p95": round(float(np.percentile(values, 95)), 3), "n": len(values)}
    return latency


def run_peers_benchmark(model_dir: str, variants: list[str], json_path: str, data_dir: str | None = None,
                        out_dir: str = "runs/bench/peers", latency_reviews: int = 500, cold_repeats: int = 3,
                        progress=print, limit: int | None = None, combine_with: str | None = None,
                        combine=None) -> dict:
    """Train the peers, measure every system, write ``json_path``; return the report."""
    from training.data import load_imdb
    from training.files import write_json_atomic
    from training.saved import ModelFolder
    from sparse_edge.bench.behaviour import run_suite

    folder, out = ModelFolder(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [v for v in variants if not folder.tflite(v).exists()]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)} .tflite in {folder.tflite_dir}; "
                                f"run `sparse-edge convert {folder.path}` first")
    # a quick check (limit): the first reviews of each split; TFDS stores IMDB shuffled, so both labels are there
    train = load_imdb("train", data_dir, limit=limit)
    test = load_imdb("test", data_dir, limit=limit)

    systems, fasttext_note = _train_peers(train, out, progress)   # name -> {"kind", "path", "train_seconds"}
    shipped_train = folder.metrics().get("train_seconds")
    for variant in variants:
        systems[f"shipped {variant}"] = {"kind": "tflite", "path": folder.tflite(variant), "train_seconds": shipped_train}

    predictors = {name: load_predictor(s["kind"], str(s["path"])) for name, s in systems.items()}
    report = {"benchmark": "peers", "model_dir": str(folder.path), "test_reviews": len(test), "train_reviews": len(train),
              "machine": describe_machine(), "date": time.strftime("%Y-%m-%d"), "fasttext_note": fasttext_note,
              "systems": {}}
    for name, system in systems.items():
        row = report["systems"][name] = {"kind": system["kind"], "path": str(system["path"]),
                                         "size_bytes": Path(system["path"]).stat().st_size,
                                         "train_seconds": None if system["train_seconds"] is None
                                         else round(system["train_seconds"], 1)}
        progress(f"{name}: accuracy and throughput on {len(test):,} test reviews")
        start = time.perf_counter()
        probs = np.asarray(_batched(predictors[name], test.texts, name), np.float32)
        seconds = time.perf_counter() - start
        row["accuracy"] = float(((probs > 0.5) == test.labels).mean())
        row["batch_reviews_per_second"] = round(len(test) / seconds, 1)
        row["behaviour"] = run_suite(predictors[name])
        np.save(out / f"{name.replace(' ', '-')}-test-probs.npy", probs)

    # latency: one review per call, the systems taking turns on each review
    sample = [test.texts[i] for i in np.random.default_rng(0).permutation(len(test))[:latency_reviews]]
    for name, latency in _interleaved_latency(predictors, sample).items():
        report["systems"][name]["latency_ms"] = latency
    for name, system in systems.items():
        progress(f"{name}: cold start and peak memory ({cold_repeats} fresh processes)")
        report["systems"][name]["cold_start"] = cold_start(system["kind"], system["path"], sample[0], cold_repeats)
    if combine_with:   # combine (sparse_edge.bench.combine.combination) is passed in: it imports this module
        variant = FULL_INTEGER if FULL_INTEGER in variants else variants[0]
        report["combination"] = combine(model_dir, combine_with, variant,
                                            np.load(out / f"shipped-{variant}-test-probs.npy"),
                                            np.load(out / "nb-lr-test-probs.npy"), test, data_dir, progress, limit)
    report["command"] = (f"sparse-edge bench peers --model-dir {folder.path} --variants {','.join(variants)} --json {json_path}"
                         + (f" --limit {limit}" if limit else "") + (f" --combine-with {combine_with}" if combine_with else ""))
    write_json_atomic(json_path, report)
    return report


def _batched(predict, texts, name, size: int = 1000):
    from tqdm import tqdm

    out = []
    for start in tqdm(range(0, len(texts), size), desc=name, unit="batch", leave=False):
        out.extend(predict(texts[start:start + size]))
    return out


# -- the generated table of its committed JSON (sparse_edge.report) --------------------------
PEER_NAMES = {"tfidf-lr": "TF-IDF word 1-2-grams + logistic regression", "nb-lr": "NB-LR, binary word 1-3-grams",
              "fasttext": "fastText, word bigrams, quantized `.ftz`"}


def peers() -> str:
    """The shipped classifier against the models a user would pick instead, one run (artifacts/bench/peers.json)."""
    report = load_artifact("artifacts/bench/peers.json")
    lines = ["| system | test accuracy | size | p50 / p95 ms, one review, 1 thread | batch reviews/s | cold start "
             "(process) | peak RSS | training |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    best_peer = max((r["accuracy"], n) for n, r in report["systems"].items() if r["kind"] != "tflite")
    for name, row in report["systems"].items():
        label = PEER_NAMES.get(name, f"`{name.split()[-1]}.tflite` (this project)" if row["kind"] == "tflite" else name)
        accuracy = f"{row['accuracy']:.2%}"
        if row["kind"] == "tflite" or name == best_peer[1]:
            accuracy = f"**{accuracy}**"
        seconds = row["train_seconds"]
        if row["kind"] == "tflite":   # not trained by the benchmark: the model folder's own record
            seconds = load_artifact(f"{report['model_dir']}/metrics.json").get("train_seconds")
        train = "—" if seconds is None else f"{seconds / 60:.1f} min"
        cold = row["cold_start"]
        # runs before the VmHWM fix recorded ru_maxrss, which a child inherits from its parent: not shown
        rss = f"{cold['peak_rss_mb']:,.0f} MB" if cold.get("peak_rss_source") == "VmHWM" and cold["peak_rss_mb"] else "—"
        lines.append(f"| {label} | {accuracy} | {row['size_bytes'] / 1e6:.1f} MB | {row['latency_ms']['p50']:.2f} / "
                     f"{row['latency_ms']['p95']:.2f} | {row['batch_reviews_per_second']:,.0f} | {cold['ms']:,.0f} ms "
                     f"({cold['process_ms']:,.0f} ms) | {rss} | {train} |")
    if any(row["cold_start"].get("peak_rss_source") != "VmHWM" for row in report["systems"].values()):
        lines.append("\nPeak RSS is not shown for this run: it read `ru_maxrss`, which on Linux a child inherits "
                     "from its parent (every system showed the benchmark's own 2.2 GB); the command now reads VmHWM.")
    tfidf = report["systems"].get("tfidf-lr", {}).get("latency_ms", {}).get("p50")
    for name, row in report["systems"].items():
        if row["kind"] == "tflite" and tfidf:
            ratio = row["latency_ms"]["p50"] / tfidf
            most = ALL_GOALS["peers"]["max_latency_vs_tfidf"]
            lines.append(f"\n{'✅' if ratio <= most else '❌'} `{name.split()[-1]}` p50 is {ratio:.1f}x TF-IDF + LR's "
                         f"in this run (goal: at most {most:g}x).")
    c = report.get("combination")
    if c:
        a, v, w = c["accuracy"], c["mcnemar_vs_nb_lr"], c["mcnemar_vs_word_alone"]
        lines.append(f"\n**The word model and the byte model together** ({c['word_model']}; {c['byte_model']}): their "
                     f"log-odds mixed by logistic regression fitted on the {c['validation_reviews']:,} validation "
                     f"reviews (word {c['weights']['word']:.3f}, bytes {c['weights']['bytes']:.3f}, bias "
                     f"{c['weights']['bias']:.3f}): **{a['combined']:.2%}** on the test reviews, against NB-LR "
                     f"{a['nb-lr']:.2%} (exact McNemar: {v['only_first_right']:,} reviews only the mix gets right, "
                     f"{v['only_second_right']:,} only NB-LR, p = {v['p_value']:.2g}) and the word model alone "
                     f"{a['word']:.2%} (p = {w['p_value']:.2g}); the byte model alone {a['bytes']:.2%}. {c['decision']}.")
    lines += ["", f"All trained on the same {report['train_reviews']:,} training reviews and measured in one run on "
              f"{report['test_reviews']:,} test reviews; one review per call, the systems taking turns review by review "
              f"({report['systems'][next(iter(report['systems']))]['latency_ms']['n']} reviews each). Machine: "
              f"{machine_line(report['machine'])}; {report['date']}."
              + (f" {report['fasttext_note']}." if report.get("fasttext_note") else "")
              + f" Reproduce: `{report['command']}`."]
    return "\n".join(lines)
