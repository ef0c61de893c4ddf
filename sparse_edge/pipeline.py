"""The whole story in one run: labelled text -> vocabulary -> sparse Transformer -> .tflite -> parity -> edge.

``sparse-edge pipeline --preset quick|full|small [--data SOURCE] --out DIR`` calls the same functions as the single
commands (``train``, ``convert``, ``parity``, ``predict``), in order, and keeps a record of each
finished stage in ``DIR/pipeline.json``: the stage's *fingerprint* (a hash of its settings and of
the fingerprints of the stages it reads from) and the files it wrote. A stage whose fingerprint
matches and whose files exist is skipped, so a second run, or a run after a failure, picks up
where the last one stopped; ``--force`` redoes everything.

What ``DIR`` holds afterwards::

    vocab.txt                   the WordPiece vocabulary (learned from the training texts [IMDB: + unsupervised])
    lm/                         (full) the causal language model the classifier starts from
    model/                      model.keras, config.json, data.json, log.csv, metrics.json (test), checkpoints/
    model/tflite/<variant>.tflite   one per variant of convert/variants.py (one file = the deployable model)
    model/parity.json, .md      every variant against the Keras model on the test split
    edge.json                   sample test texts classified by edge_runtime with every variant
    summary.json, summary.md    the final table
    pipeline.json               which stages finished, with what settings, in how long
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from convert.variants import EDGE, REFERENCE, names as variant_names
from model.machine import describe_machine
from model.saved import ModelFolder

REPO = Path(__file__).resolve().parents[1]
VOCAB = ModelFolder.VOCAB                             # the run's vocabulary, shared by the LM and the classifier
EDGE_SAMPLES = 6  # test reviews the edge stage classifies with every variant


@dataclass(frozen=True)
class Preset:
    """What a pipeline run trains and how much it checks."""

    train_config: str               # a train_config.json, relative to the repository
    vocab_size: int
    vocab_unsupervised: bool        # learn the vocabulary from train + the 50,000 unlabelled reviews
    calibration_reviews: int        # training reviews per input length that calibrate int8
    parity_limit: int | None        # test reviews the parity stage compares (None: all 25,000)
    minutes: dict[str, float]       # measured stage times here (2 cores), for "time left"
    vocab_file: str | None = None   # use this vocab.txt (relative to the repository) instead of learning one
    lm_config: str | None = None    # pretrain a language model with this config first (`sparse-edge train-lm`)
    hybrid_config: str | None = None  # then build the hybrid (n-grams + Transformer) with these settings


PRESETS = {
    # A small model on 8,000 training reviews: about two minutes on 2 cores (stage times measured
    # by a run of `scripts/run`, artifacts/pipeline-quick/pipeline.json).
    "quick": Preset("configs/quick.json", 8000, False, 16, 2000,
                    {"data": 0.1, "vocab": 0.05, "train": 1.1, "convert": 0.3, "parity": 0.25, "edge": 0.01,
                     "summary": 0.0}),
    # The shipped classifier (artifacts/imdb-classifier), from its committed configs and vocabulary:
    # a language model on the unlabelled and training reviews, then the Transformer started from it
    # and distilled from the n-gram teacher (artifacts/imdb-transformer), then the hybrid: NB-LR on
    # hashed n-grams mixed with that Transformer (configs/hybrid.json). Stage times: the lm and
    # train stages from artifacts/pipeline-full/pipeline.json, the hybrid from its metrics.json.
    # Learning the vocabulary again gives the same 12,000 tokens, but HF's trainer breaks frequency
    # ties differently from run to run, so their ids (and every weight row) would move.
    "full": Preset("artifacts/imdb-transformer/train_config.json", 12000, True, 64, None,
                   {"data": 0.4, "vocab": 0.05, "lm": 33.5, "train": 20.0, "hybrid": 4.0, "convert": 2.0,
                    "parity": 10.0, "edge": 0.01, "summary": 0.0}, vocab_file="artifacts/imdb-transformer/vocab.txt",
                   lm_config="artifacts/imdb-transformer/language-model/train_config.json",
                   hybrid_config="configs/hybrid.json"),
    # Your own data, a few thousand rows: a small model, many epochs with early stopping on the
    # validation rows, distilled from the n-gram teacher; every test row checks parity. Stage
    # times: a run on the Debian package descriptions (scripts/debian_sections.py) here.
    "small": Preset("configs/small.json", 6000, False, 16, None,
                    {"data": 0.1, "vocab": 0.05, "train": 3.0, "convert": 0.6, "parity": 0.3, "edge": 0.01,
                     "summary": 0.0}),
}
IMDB_ONLY = ("full",)   # presets that reproduce a shipped IMDB model, not for other data


def default_preset(data) -> str:
    """quick for IMDB, small for anything else (a user's few thousand rows)."""
    return "quick" if data is None or data.is_imdb else "small"


class StageFailed(RuntimeError):
    """A stage could not finish; the message says which and why."""


@dataclass
class Run:
    """One pipeline run: where it writes, what it was asked, and what earlier runs left."""

    out: Path
    preset: Preset
    data_dir: str | None
    manual_dir: str | None
    progress: bool
    echo: Callable[[str], None]
    record: dict = dataclasses.field(default_factory=dict)   # the contents of pipeline.json
    fingerprints: dict = dataclasses.field(default_factory=dict)
    seed: int | None = None   # replaces the preset's training seed (initialisation, batch order, split)
    data: object = None       # a model.sources.DataSpec (None: IMDB from data_dir/manual_dir)
    vocab_size: int | None = None   # replaces the preset's vocabulary size
    tokenizer_changes: dict = dataclasses.field(default_factory=dict)   # lowercase / strip_accents, if not the preset's
    source: object = None     # the opened data (model.sources.LabelledData), read once before any stage

    @property
    def vocabulary_size(self) -> int:
        return self.vocab_size or self.preset.vocab_size

    @property
    def base_dir(self) -> Path:
        """Where the sparse Transformer classifier is trained."""
        return self.out / "model"

    @property
    def model_name(self) -> str:
        """The folder (under ``out``) of the model that is converted and checked: the hybrid if there is one."""
        return "hybrid" if self.preset.hybrid_config else "model"

    @property
    def model_dir(self) -> Path:
        return self.out / self.model_name

    @property
    def model(self) -> ModelFolder:
        return ModelFolder(self.model_dir)

    @property
    def lm(self) -> ModelFolder:
        return ModelFolder(self.out / "lm")

    @functools.cached_property
    def train_config(self):
        from model.train_config import TrainConfig

        path = REPO / self.preset.train_config
        if not path.exists():
            raise StageFailed(f"the preset's training config {path} is missing; restore it with `git checkout`")
        config = TrainConfig.load(path)
        changes = {"seed": self.seed, **self.tokenizer_changes}
        return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})


def fingerprint(settings: dict, *upstream: str) -> str:
    """A short hash of a stage's settings and of the stages it reads from."""
    text = json.dumps({"settings": settings, "upstream": list(upstream)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- the stages, in order ------------------------------------------------------------------------
# Each takes the run and returns (its fingerprint's settings, a function doing the work, the files
# that must exist for the stage to count as done, the stages it reads from).

def data_stage(run: Run):
    config = run.train_config
    source = run.source
    record = source.record()

    def work() -> dict:
        counts = {}
        for split, limit in (("train", config.train_limit), ("test", config.test_limit)):
            counts[split] = len(source.load(split, limit=limit))
        if run.preset.vocab_unsupervised:
            counts["unsupervised"] = len(source.load("unsupervised"))
        return {"reviews": counts, "labels": source.labels, "split": record["split"]}

    return {"train_limit": config.train_limit, "test_limit": config.test_limit, "data": record}, work, [], []


def vocab_stage(run: Run):
    from model.vocab import learn_vocab

    config = run.train_config
    settings = {"size": run.vocabulary_size, "unsupervised": run.preset.vocab_unsupervised,
                "lowercase": config.lowercase, "strip_accents": config.strip_accents,
                "train_limit": config.train_limit, "vocab_limit": config.vocab_limit,
                "file": run.preset.vocab_file}

    if run.preset.vocab_file:
        source = REPO / run.preset.vocab_file

        def copy() -> dict:
            from model.files import write_atomic

            write_atomic(run.out / VOCAB, source.read_bytes())
            return {"copied_from": run.preset.vocab_file, "entries": len(source.read_text(encoding="utf-8").split())}

        settings["file_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
        return settings, copy, [VOCAB], ["data"]

    def work() -> dict:
        # the same texts `sparse-edge train` learns from when it is given no vocabulary
        texts = run.source.load("train", limit=config.train_limit).texts
        if run.preset.vocab_unsupervised:
            texts = texts + run.source.load("unsupervised").texts
        tokenizer = learn_vocab(texts[: config.vocab_limit], run.vocabulary_size, run.out / VOCAB,
                                lowercase=config.lowercase, strip_accents=config.strip_accents)
        return {"entries": len(tokenizer), "texts": len(texts[: config.vocab_limit])}

    return settings, work, [VOCAB], ["data"]


def lm_stage(run: Run):
    from model.train_lm import LMConfig, train_lm

    path = REPO / run.preset.lm_config
    if not path.exists():
        raise StageFailed(f"the preset's language-model config {path} is missing; restore it with `git checkout`")
    config = LMConfig.from_dict(json.loads(path.read_text()))

    def work() -> dict:
        shutil.rmtree(run.lm.path, ignore_errors=True)   # no resume: an interrupted LM starts again
        metrics = train_lm(config, run.lm.path, str(run.out / VOCAB), run.data_dir, progress=run.progress)
        return {key: metrics[key] for key in ("val_perplexity", "steps", "train_seconds")}

    return config.to_dict(), work, [f"lm/{ModelFolder.MODEL}", f"lm/{ModelFolder.METRICS}"], ["vocab"]


def train_stage(run: Run):
    from model.train import train

    config = run.train_config
    if run.preset.lm_config:   # start from this run's language model, not the folder named in the file
        config = dataclasses.replace(config, init_from=str(run.lm.path))

    def work() -> dict:
        checkpoint = ModelFolder(run.base_dir).checkpoint_dir
        resume = checkpoint.exists() and _started_with(run, "train")
        if run.base_dir.exists() and not resume:
            shutil.rmtree(run.base_dir)   # a run with other settings: start clean
        _remember_start(run, "train")
        metrics = train(config, run.base_dir, run.data_dir, run.manual_dir, resume=resume,
                        vocab_path=str(run.out / VOCAB), progress=run.progress, data=run.data)
        return {key: metrics[key] for key in ("accuracy", "macro_f1", "n", "val_accuracy", "best_epoch",
                                              "train_seconds")}

    files = [f"model/{name}" for name in (ModelFolder.MODEL, ModelFolder.METRICS, ModelFolder.CONFIG)]
    return config.to_dict(), work, files, ["lm" if run.preset.lm_config else "vocab"]


def hybrid_stage(run: Run):
    from model.train_config import HybridSettings
    from model.train_hybrid import train_hybrid

    path = REPO / run.preset.hybrid_config
    if not path.exists():
        raise StageFailed(f"the preset's hybrid settings {path} are missing; restore them with `git checkout`")
    settings = dataclasses.replace(HybridSettings.from_dict(json.loads(path.read_text())), base=str(run.base_dir))

    def work() -> dict:
        shutil.rmtree(run.model_dir, ignore_errors=True)   # no resume: one short epoch starts again
        metrics = train_hybrid(settings, run.model_dir, run.data_dir, run.manual_dir, progress=run.progress,
                               cache_dir=str(ModelFolder(run.base_dir).cache_dir))
        return {key: metrics[key] for key in ("accuracy", "n", "val_accuracy", "train_seconds", "hybrid_seconds")}

    files = [f"hybrid/{name}" for name in (ModelFolder.MODEL, ModelFolder.METRICS, ModelFolder.CONFIG)]
    return {**dataclasses.asdict(settings), "mix": list(settings.mix)}, work, files, ["train"]


def convert_stage(run: Run):
    from convert.export import convert_model_dir

    def work() -> dict:
        written = convert_model_dir(run.model_dir, variant_names(EDGE), data_dir=run.data_dir, manual_dir=run.manual_dir,
                                    calibration_reviews=run.preset.calibration_reviews, progress=run.progress)
        return {variant: path.stat().st_size for variant, path in written.items()}

    settings = {"variants": variant_names(EDGE), "calibration_reviews": run.preset.calibration_reviews}
    upstream = ["hybrid" if run.preset.hybrid_config else "train"]
    return settings, work, [f"{run.model_name}/{ModelFolder.TFLITE}/{v}.tflite" for v in variant_names(EDGE)], upstream


def parity_stage(run: Run):
    from convert.parity import check, run_parity

    def work() -> dict:
        report = run_parity(run.model_dir, "test", variant_names(EDGE), run.preset.parity_limit, run.data_dir,
                            run.manual_dir, progress=run.progress)
        # accuracy and agreement must hold for any model; the file-size goals are judged on the
        # shipped classifier (a small model's file is mostly vocabulary and structure)
        missed = {v: check(v, row, None) for v, row in report["variants"].items()}
        problems = "; ".join(f"{v}: {', '.join(f)}" for v, f in missed.items() if f)
        if problems:
            raise StageFailed(f"parity thresholds not met ({problems}); see {run.model.parity_markdown_path}")
        return {"n": report["n"], "reference_accuracy": report["reference"]["accuracy"],
                "size_notes": report["failures"]}

    return ({"limit": run.preset.parity_limit}, work,
            [f"{run.model_name}/{ModelFolder.PARITY}", f"{run.model_name}/{ModelFolder.PARITY_MARKDOWN}"], ["convert"])


def edge_stage(run: Run):
    from model.files import write_json_atomic

    def work() -> dict:
        from edge_runtime import TextClassifier

        reviews = run.source.load("test", limit=EDGE_SAMPLES)
        labels = run.model.labels
        rows = [{"id": int(reviews.ids[i]), "text": reviews.texts[i][:120], "true_label": labels[reviews.labels[i]],
                 "predictions": {}} for i in range(len(reviews))]
        for variant in variant_names(EDGE):
            classifier = TextClassifier(run.model.tflite(variant))
            for row, result in zip(rows, classifier.classify_batch(reviews.texts)):
                row["predictions"][variant] = {"label": result.label, "score": round(result.score, 4),
                                               "probabilities": {label: round(p, 4) for label, p in
                                                                 zip(labels, result.probabilities)},
                                               "latency_ms": round(result.latency_ms, 2)}
        write_json_atomic(run.out / "edge.json", {"backend": classifier.backend, "reviews": rows})
        return {"reviews": len(rows), "backend": classifier.backend}

    return {"samples": EDGE_SAMPLES, "variants": variant_names(EDGE)}, work, ["edge.json"], ["parity"]


def summary_stage(run: Run):
    def work() -> dict:
        from model.files import write_json_atomic, write_text_atomic

        summary = build_summary(run.out)
        write_json_atomic(run.out / "summary.json", summary)
        write_text_atomic(run.out / "summary.md", summary_markdown(summary))
        return {}

    return {}, work, ["summary.json", "summary.md"], ["edge"]


STAGES = [("data", "load the data (train, test) and check it", data_stage),
          ("vocab", "learn (or, for full, copy the shipped) WordPiece vocabulary", vocab_stage),
          ("train", "train the sparse classifier, evaluate it on test", train_stage),
          ("convert", "convert to every variant's .tflite (convert/variants.py)", convert_stage),
          ("parity", "compare every .tflite with the Keras model on test", parity_stage),
          ("edge", "classify sample reviews with edge_runtime", edge_stage),
          ("summary", "write the summary table", summary_stage)]
LM_STAGE = ("lm", "pretrain the language model the classifier starts from", lm_stage)
HYBRID_STAGE = ("hybrid", "add the n-gram half (NB-LR) and fine-tune the Transformer as its residual", hybrid_stage)


def stages_for(preset: Preset) -> list:
    """The stages a preset runs: ``STAGES``, with the language model before training and the hybrid
    after it where the preset has them."""
    stages = list(STAGES)
    at = [name for name, _, _ in stages].index("train")
    if preset.hybrid_config:
        stages.insert(at + 1, HYBRID_STAGE)
    if preset.lm_config:
        stages.insert(at, LM_STAGE)
    return stages


def _started_with(run: Run, stage: str) -> bool:
    """Whether an interrupted attempt at ``stage`` had the same fingerprint as this one."""
    return run.record.get("started", {}).get(stage) == run.fingerprints.get(stage)


def _remember_start(run: Run, stage: str) -> None:
    run.record.setdefault("started", {})[stage] = run.fingerprints[stage]
    _save_record(run)


def _save_record(run: Run) -> None:
    from model.files import write_json_atomic

    write_json_atomic(run.out / "pipeline.json", run.record)


def run_pipeline(preset_name: str | None, out: str | Path, data_dir: str | None = None, manual_dir: str | None = None,
                 force: bool = False, progress: bool = True, echo: Callable[[str], None] = print,
                 presets: dict[str, Preset] | None = None, seed: int | None = None, data=None,
                 vocab_size: int | None = None, lowercase: bool | None = None,
                 strip_accents: bool | None = None) -> dict:
    """Run every stage not already done; return the summary (``DIR/summary.json``).

    ``data`` is a ``model.sources.DataSpec`` (None: IMDB); ``preset_name`` None picks
    ``default_preset(data)``.

    Raises:
        StageFailed: a stage failed; its message names the stage and the reason. Outputs of the
            stages before it are left as they were.
        model.data.DatasetMissing: IMDB is not available (raised by the first stage, at once).
        model.sources.DataError: the data cannot be used (raised before any stage runs).
    """
    from model.data import DatasetMissing

    presets = presets or PRESETS
    if data is not None:   # later stages read the folder's data.json and need to know where TFDS data is
        data_dir, manual_dir = data_dir or data.data_dir, manual_dir or data.manual_dir
    preset_name = preset_name or default_preset(data)
    if preset_name not in presets:
        raise ValueError(f"unknown preset {preset_name!r}; choose one of {', '.join(presets)}")
    if preset_name in IMDB_ONLY and data is not None and not data.is_imdb:
        raise ValueError(f"the {preset_name} preset rebuilds the shipped IMDB classifier; for {data.source} use "
                         "--preset small (a few thousand rows) or quick")
    from model.sources import DataSpec, open_data

    source = open_data(data or DataSpec("imdb", data_dir=data_dir, manual_dir=manual_dir))   # bad data stops here
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "pipeline.json"
    record = json.loads(record_path.read_text()) if record_path.exists() and not force else {}
    if record.get("preset") not in (None, preset_name):
        echo(f"{out} holds a '{record['preset']}' run; stages are redone for '{preset_name}'")
    record.update(preset=preset_name, stages=record.get("stages", {}))
    run = Run(out, presets[preset_name], data_dir, manual_dir, progress, echo, record, seed=seed, data=data,
              vocab_size=vocab_size, tokenizer_changes={"lowercase": lowercase, "strip_accents": strip_accents},
              source=source)

    started = time.time()
    stages = stages_for(run.preset)
    clock = StageClock(run.preset.minutes)
    for number, (name, what, make) in enumerate(stages, 1):
        try:
            settings, work, files, upstream = make(run)
        except StageFailed as error:
            raise StageFailed(f"stage {number}/{len(stages)} '{name}' failed: {error}") from error
        run.fingerprints[name] = fingerprint(settings, *(run.fingerprints[u] for u in upstream))
        done = record["stages"].get(name, {})
        if (not force and done.get("fingerprint") == run.fingerprints[name]
                and all((out / f).exists() for f in files)):
            echo(f"[{number}/{len(stages)}] {name}: done earlier, skipped ({what})")
            continue
        echo(f"[{number}/{len(stages)}] {name}: {what}  ({clock.left([n for n, _, _ in stages[number - 1:]])})")
        stage_start = time.time()
        record["stages"].pop(name, None)
        _save_record(run)
        try:
            result = work()
        except DatasetMissing:
            raise
        except Exception as error:  # noqa: BLE001 - reported with the stage's name
            reason = str(error) if isinstance(error, StageFailed) else f"{type(error).__name__}: {error}"
            raise StageFailed(f"stage {number}/{len(stages)} '{name}' failed: {reason}. The outputs of "
                              f"the stages before it are intact in {out}; fix the cause and run the same "
                              "command again to continue from this stage.") from error
        clock.finished(name, time.time() - stage_start)
        record["stages"][name] = {"fingerprint": run.fingerprints[name], "seconds": round(time.time() - stage_start, 1),
                                  "files": files, "result": result}
        _save_record(run)
    record["seconds_last_run"] = round(time.time() - started, 1)
    _save_record(run)
    return json.loads((out / "summary.json").read_text())


def _minutes(minutes: float) -> str:
    return f"{minutes * 60:.0f} s" if minutes < 1 else f"{minutes:.0f} min"


class StageClock:
    """Time left, from this host's measured pace.

    The preset's table says how long each stage took on the machine that measured it; that gives
    the stages' proportions. Once a stage of at least a few seconds has finished here, the rest is
    scaled by how much faster or slower this host was on the stages done so far.
    """

    def __init__(self, reference_minutes: dict[str, float]):
        self.reference = reference_minutes
        self.expected = self.actual = 0.0   # seconds, over the stages finished in this run

    def finished(self, stage: str, seconds: float) -> None:
        self.expected += self.reference.get(stage, 0.0) * 60
        self.actual += seconds

    def pace(self) -> float | None:
        """This host's time over the reference's, once enough has been measured (else None)."""
        return self.actual / self.expected if self.expected >= 20 and self.actual >= 5 else None

    def left(self, stages: list[str]) -> str:
        minutes = sum(self.reference.get(name, 0.0) for name in stages)
        pace = self.pace()
        if pace is None:
            return f"about {_minutes(minutes)} left on the reference machine; refined as stages finish here"
        return f"about {_minutes(minutes * pace)} left at this host's pace ({pace:.1f}x the reference)"


# -- the final table -----------------------------------------------------------------------------

def build_summary(out: Path) -> dict:
    """Accuracy, drift, size and latency per variant, and where each file is."""
    out = Path(out)
    model = ModelFolder(out / ("hybrid" if (out / "hybrid" / ModelFolder.METRICS).exists() else "model"))
    metrics = model.metrics()
    parity = json.loads(model.parity_path.read_text())
    edge = json.loads((out / "edge.json").read_text())
    record = json.loads((out / "pipeline.json").read_text())
    rows = [{"model": f"keras {REFERENCE}", "accuracy": parity["reference"]["accuracy"], "delta_pp": 0.0,
             "agreement": 1.0, "size_bytes": _size(model.model_path), "latency_ms_p50": None,
             "path": str(model.model_path)}]
    for variant, row in parity["variants"].items():
        rows.append({"model": variant, "accuracy": row["accuracy"], "delta_pp": row["delta_accuracy_pp"],
                     "agreement": row["agreement"], "size_bytes": row["size_bytes"],
                     "latency_ms_p50": row["latency_ms_p50"],
                     "path": str(model.tflite(variant))})
    edge_correct = {v: sum(r["predictions"][v]["label"] == r["true_label"] for r in edge["reviews"])
                    for v in variant_names(EDGE)}
    return {
        "preset": record.get("preset"), "date": time.strftime("%Y-%m-%d"),
        "machine": describe_machine(),
        "data": (model.data_record() or {"source": "imdb"})["source"],
        "labels": model.labels, "test_macro_f1": metrics.get("macro_f1"),
        "teacher_test": metrics.get("teacher_test"),
        "test_accuracy": metrics["accuracy"], "test_reviews": metrics["n"],
        "train_seconds": metrics["train_seconds"], "parity_reviews": parity["n"],
        "variants": rows,
        "edge": {"backend": edge["backend"], "reviews": len(edge["reviews"]), "correct": edge_correct},
        "stage_seconds": {name: stage["seconds"] for name, stage in record["stages"].items()},
        "total_seconds": round(sum(stage["seconds"] for stage in record["stages"].values()), 1),
        "files": {"parity_report": str(model.parity_markdown_path), "edge_predictions": str(out / "edge.json")},
    }


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.exists() else None


def summary_markdown(summary: dict) -> str:
    """The summary as a Markdown table (also what the command prints)."""
    data = summary.get("data", "imdb")
    texts = "reviews" if data == "imdb" else "texts"
    macro = f", macro-F1 {summary['test_macro_f1']:.3f}" if summary.get("test_macro_f1") is not None else ""
    teacher = summary.get("teacher_test")
    teacher = (f" The n-gram teacher alone: {teacher['accuracy']:.2%}, macro-F1 {teacher['macro_f1']:.3f}."
               if teacher else "")
    labels = summary.get("labels") or []
    about = "" if data == "imdb" else \
        f"Data `{data}` ({len(labels)} labels: {', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''}). "
    lines = [f"{about}Preset `{summary['preset']}`: Keras model {summary['test_accuracy']:.2%}{macro} on "
             f"{summary['test_reviews']:,} test {texts}, trained in {summary['train_seconds']:.0f} s.{teacher} "
             f"Every variant met the parity thresholds on {summary['parity_reviews']:,} test {texts}.", "",
             f"| model | accuracy ({summary['parity_reviews']:,} {texts}) | Δ vs Keras (pp) | agreement | size (MB) "
             "| p50 latency (ms) | file |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in summary["variants"]:
        size = f"{row['size_bytes'] / 1e6:.2f}" if row["size_bytes"] else "-"
        latency = f"{row['latency_ms_p50']:.2f}" if row["latency_ms_p50"] is not None else "-"
        lines.append(f"| {row['model']} | {row['accuracy']:.2%} | {row['delta_pp']:+.2f} | {row['agreement']:.2%} "
                     f"| {size} | {latency} | `{row['path']}` |")
    edge = summary["edge"]
    correct = ", ".join(f"{v} {n}/{edge['reviews']}" for v, n in edge["correct"].items())
    lines += ["", f"edge_runtime ({edge['backend']}) on {edge['reviews']} sample test {texts}, labels right: {correct}."]
    return "\n".join(lines) + "\n"
