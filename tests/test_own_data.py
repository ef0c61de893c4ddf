"""Your own data: CSV, JSONL, a folder per label and TFDS datasets, through the same commands as IMDB.

The data is made here: texts whose words say their label, so a small model learns them in one
or two epochs. Every bad-input case gets one line naming the file, the row and the fix, and
leaves nothing on disk.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.sources import DataError, DataSpec, open_data

REPO = Path(__file__).resolve().parents[1]
TOPICS = {   # label -> words that give it away; shared words make it less trivial
    "billing": "invoice refund charge payment card receipt price subscription".split(),
    "it": "printer laptop password screen wifi reboot install driver".split(),
    "shipping": "parcel delivery courier tracking address package late box".split(),
    "hr": "holiday salary contract leave payslip pension training manager".split(),
    "facilities": "desk heating light chair door kitchen parking cleaning".split(),
}
FILLER = "please help my the a is not with since yesterday again thanks".split()


def make_rows(labels, per_label=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(per_label):
        for label in labels:
            words = list(rng.choice(FILLER + TOPICS[label] * 2, size=int(rng.integers(4, 24))))
            words += list(rng.choice(TOPICS[label], size=2))   # every row says its label at least twice: no
            # borderline rows, whose int8 flip would be 5 pp of a 20-row test split
            rows.append((" ".join(words), label))
    return rows


def write_csv(path, rows, header=("id", "body", "team")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([(i, text, label) for i, (text, label) in enumerate(rows)])
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": x}) + "\n" for t, x in rows), encoding="utf-8")
    return path


def write_dir(root, rows):
    for i, (text, label) in enumerate(rows):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


def csv_spec(path, **kw):
    return DataSpec(f"csv:{path}", text_column="body", label_column="team", **kw)


# -- reading and splitting ------------------------------------------------------------------------

def test_csv_labels_are_sorted_and_the_stratified_split_is_seeded_and_recorded(tmp_path):
    path = write_csv(tmp_path / "t.csv", make_rows(["shipping", "billing", "it"], per_label=30))
    data = open_data(csv_spec(path))
    assert data.labels == ["billing", "it", "shipping"]
    train, test = data.load("train"), data.load("test")
    assert len(train) + len(test) == 90 and np.bincount(test.labels).tolist() == [6, 6, 6]
    assert not set(train.ids) & set(test.ids)
    again = open_data(csv_spec(path))
    assert again.load("test").ids.tolist() == test.ids.tolist()
    other = open_data(csv_spec(path, split_seed=1))
    assert other.load("test").ids.tolist() != test.ids.tolist()
    record = data.record()
    assert record["split"]["test"] == "stratified" and record["counts"]["test_per_label"] == {
        "billing": 6, "it": 6, "shipping": 6}


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = [(f"{TOPICS['it'][i % 8]} stars {i}", str(stars)) for i in range(10) for stars in (1, 2, 10)]
    data = open_data(csv_spec(write_csv(tmp_path / "r.csv", rows)))
    assert data.labels == ["1", "2", "10"]


def test_a_folder_with_train_and_test_files_uses_the_given_test_split(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", make_rows(["it", "hr"], 20))
    write_jsonl(tmp_path / "test.jsonl", make_rows(["it", "hr"], 5, seed=1))
    data = open_data(DataSpec(f"jsonl:{tmp_path}"))
    assert data.labels == ["hr", "it"] and len(data.load("train")) == 40 and len(data.load("test")) == 10
    assert data.record()["split"]["test"] == "given"


def test_aclimdb_layout_train_test_and_unsup(tmp_path):
    write_dir(tmp_path / "train", make_rows(["it", "hr"], 15))
    write_dir(tmp_path / "test", make_rows(["it", "hr"], 4, seed=2))
    (tmp_path / "train" / "unsup").mkdir()
    (tmp_path / "train" / "unsup" / "0.txt").write_text("no label here")
    (tmp_path / "train" / "urls_pos.txt").write_text("not a text of the data")
    data = open_data(DataSpec(f"dir:{tmp_path}"))
    assert data.labels == ["hr", "it"] and len(data.load("train")) == 30 and len(data.load("test")) == 8
    assert data.load("unsupervised").texts == ["no label here"] and data.has_unlabelled


def test_the_model_folder_refuses_data_that_changed_since_training(tmp_path):
    from training.saved import ModelFolder
    from training.sources import data_for_folder

    path = write_csv(tmp_path / "t.csv", make_rows(["it", "hr"], 20))
    folder = ModelFolder(tmp_path / "model")
    folder.write_data_record(open_data(csv_spec(path)).record())
    assert data_for_folder(folder).load("test").ids.tolist() == open_data(csv_spec(path)).load("test").ids.tolist()
    write_csv(path, make_rows(["it", "hr"], 20, seed=5))
    with pytest.raises(DataError, match="no longer gives the test rows .* trained with"):
        data_for_folder(folder)


# -- bad input: one line naming the file, the row and the fix ----------------------------------------

def bad_csv(tmp_path, text: str, name="bad.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


GOOD = "".join(f"printer {i},it\nrefund {i},billing\n" for i in range(15))


@pytest.mark.parametrize("content, spec_kw, message", [
    ("text,label\n" + GOOD, {"text_column": "body"},
     r"has no column 'body' \(columns found: 'text', 'label'\); name the right one with --text-column"),
    ("body,team\n" + GOOD, {}, r"has no column 'text' \(columns found: 'body', 'team'\)"),
    ("text,label\n" + GOOD + " ,it\n", {}, r"bad.csv line 32: the text is empty; remove the row or give it a text"),
    ("text,label\n" + GOOD + "scanner jam,hardware\n", {},
     r"every label needs at least 2 training rows; too few: 'hardware' \(1 row, .*bad.csv line 32\)"),
    ("text,label\n" + "".join(f"printer {i},it\n" for i in range(30)), {},
     r"has one label \('it'\) in all 30 rows; a classifier needs at least two labels"),
    ("text,label\n" + GOOD + "a,b,c\n", {}, r"bad.csv line 32 has 3 fields but the header has 2; quote fields"),
    (b"text,label\n" + GOOD.encode() + b"caf\xe9,it\n", {},
     r"bad.csv line 32 is not UTF-8 \(byte 0xe9 at offset \d+\); save the file as UTF-8"),
    ("text,label\n" + "".join(f"printer {i},1\nrefund {i},spam\n" for i in range(15)), {},
     r"mixes numbers and names in its labels \('1' at .*line 2, 'spam' at .*line 3\); use one kind"),
    ("text,label\n" + GOOD[:60], {}, r"has \d rows; at least 20 are needed to hold out test and validation rows"),
    ("", {}, r"bad.csv is empty; a CSV needs a header row"),
])
def test_bad_csv_gets_one_line_naming_the_problem(tmp_path, content, spec_kw, message):
    path = bad_csv(tmp_path, content)
    with pytest.raises(DataError, match=message) as error:
        open_data(DataSpec(f"csv:{path}", **spec_kw))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("lines, message", [
    (['["printer", "it"]'], r"bad.jsonl line 1 is a JSON list, not an object; write one object per line"),
    (['{"text": "printer", "label": "it"', ], r"bad.jsonl line 1 is not valid JSON"),
    (['{"body": "printer", "label": "it"}'], r"line 1 has no key 'text' \(keys found: 'body', 'label'\)"),
    (['{"text": "printer", "label": [1]}'], r"line 1: the label \[1\] is neither a name nor a number"),
])
def test_bad_jsonl_gets_one_line_naming_the_line(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        open_data(DataSpec(f"jsonl:{path}"))


def test_test_labels_the_training_data_lacks_are_named(tmp_path):
    write_csv(tmp_path / "train.csv", make_rows(["it", "hr"], 15), header=("id", "text", "label"))
    write_csv(tmp_path / "test.csv", make_rows(["it", "hr", "shipping"], 3), header=("id", "text", "label"))
    with pytest.raises(DataError, match=r"the test data has labels the training data lacks: 'shipping' "
                                        r"\(first at .*test.csv line 4\)"):
        open_data(DataSpec(f"csv:{tmp_path}"))


@pytest.mark.parametrize("source, message", [
    ("csv:/nonexistent/tickets.csv", r"/nonexistent/tickets.csv does not exist; check the path after csv:"),
    ("parquet:x.parquet", r"unknown data source 'parquet:x.parquet'; write imdb, tfds:NAME, csv:PATH"),
    ("csv:", r"names no path; write csv:PATH"),
    ("tfds:no_such_dataset_here", r"TFDS dataset 'no_such_dataset_here' is not known or not prepared"),
])
def test_a_source_that_does_not_exist_is_named(tmp_path, source, message):
    with pytest.raises(DataError, match=message):
        open_data(DataSpec(source, data_dir=str(tmp_path)))


def test_a_folder_without_label_folders_is_refused(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match=r"has no sub-folders; dir: needs one sub-folder of .txt files per label"):
        open_data(DataSpec(f"dir:{tmp_path}"))


def run_cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sparse_edge.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_cli_bad_data_is_one_line_exit_2_and_nothing_written(tmp_path, command):
    path = bad_csv(tmp_path, "text,label\n" + GOOD + "a,b,c\n")
    out = tmp_path / "out"
    result = run_cli(command, "--data", f"csv:{path}", "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path} line 32 has 3 fields but the header has 2; "
                                                   "quote fields that contain commas or line breaks")
    assert not out.exists()


def test_cli_column_options_need_data(tmp_path):
    result = run_cli("evaluate", str(REPO / "artifacts" / "imdb-transformer"), "--text-column", "body")
    assert result.returncode == 2 and "--text-column and --label-column need --data" in result.stderr


# -- the whole pipeline, on every kind of source -------------------------------------------------

@pytest.fixture(scope="module")
def tiny_presets(tmp_path_factory):
    import dataclasses

    from sparse_edge.pipeline import PRESETS

    folder = tmp_path_factory.mktemp("preset")
    config = json.loads((REPO / PRESETS["small"].train_config).read_text())
    config["model"].update(max_length=128, vocab_size=1000)
    config.update(epochs=6, patience=3, vocab_size=1000, max_batch=16)   # a few hundred rows: small batches
    path = folder / "tiny.json"
    path.write_text(json.dumps(config))
    return {"tiny": dataclasses.replace(PRESETS["small"], train_config=str(path), vocab_size=1000,
                                        calibration_reviews=4)}


_TFDS_BUILDERS = {}   # TFDS registers a builder's name once a process: one class per (labels, rows), reused


def make_tfds(data_dir: Path, labels, per_label):
    """A TFDS dataset prepared here (a ClassLabel in a deliberately unsorted order, train and test)."""
    import tensorflow_datasets as tfds

    key = (tuple(labels), per_label)
    if key in _TFDS_BUILDERS:
        builder = _TFDS_BUILDERS[key]
        builder(data_dir=str(data_dir)).download_and_prepare()
        return f"tfds:{builder.name}"
    train_rows, test_rows = make_rows(labels, per_label), make_rows(labels, max(3, per_label // 4), seed=9)

    class TinyTickets(tfds.core.GeneratorBasedBuilder):
        name = f"tiny_tickets_{len(_TFDS_BUILDERS)}"
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "body": tfds.features.Text(), "team": tfds.features.ClassLabel(names=list(labels))}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(train_rows), "test": self._generate_examples(test_rows)}

        def _generate_examples(self, rows):
            for i, (text, label) in enumerate(rows):
                yield i, {"body": text, "team": labels.index(label)}

    _TFDS_BUILDERS[key] = TinyTickets
    TinyTickets(data_dir=str(data_dir)).download_and_prepare()
    return f"tfds:{TinyTickets.name}"


def test_jsonl_and_a_folder_per_label_give_the_pipeline_the_rows_a_csv_gives(tmp_path):
    """The file sources differ only in how rows are read: the same rows as JSONL or as a folder per label
    open to the same labels and the same rows, split the same way per label, as the CSV that the
    end-to-end pipeline below trains on."""
    rows = make_rows(["it", "hr", "shipping"], per_label=30)
    sources = {"csv": open_data(csv_spec(write_csv(tmp_path / "t.csv", rows))),
               "jsonl": open_data(DataSpec(f"jsonl:{write_jsonl(tmp_path / 't.jsonl', rows)}")),
               "dir": open_data(DataSpec(f"dir:{write_dir(tmp_path / 't', rows)}"))}
    for kind, data in sources.items():
        assert data.labels == ["hr", "it", "shipping"], kind
        train, test = data.load("train"), data.load("test")
        read = sorted((t, data.labels[y]) for part in (train, test) for t, y in zip(part.texts, part.labels))
        assert read == sorted(rows), kind
        assert np.bincount(test.labels).tolist() == [6, 6, 6] and data.split["test"] == "stratified", kind


def test_a_tfds_dataset_keeps_its_classlabel_order_and_its_own_test_split(tmp_path):
    """Label i is the ClassLabel's name i (not sorted), for every row, and the test split is the dataset's."""
    labels = ["shipping", "it"]
    spec = DataSpec(make_tfds(tmp_path / "tfds", labels, 40), text_column="body", data_dir=str(tmp_path / "tfds"))
    data = open_data(spec)
    assert data.labels == labels and data.split["test"] == "given"
    for split, rows in (("train", make_rows(labels, 40)), ("test", make_rows(labels, 10, seed=9))):
        reviews = data.load(split)
        assert sorted((t, labels[y]) for t, y in zip(reviews.texts, reviews.labels)) == sorted(rows), split


def test_pipeline_runs_end_to_end_on_your_own_data(tmp_path, tiny_presets):
    """A CSV with five labels (JSONL, a folder per label and TFDS read to the same rows: the tests above),
    trained with the tokenizer option MediaPipe's tokenizer has (accents kept)."""
    from edge_runtime.bundle import read_bundle
    from training.saved import ModelFolder
    from sparse_edge.pipeline import run_pipeline

    labels = ["shipping", "it", "billing", "hr", "facilities"]
    spec = csv_spec(write_csv(tmp_path / "tickets.csv", make_rows(labels, per_label=50)))
    expected = sorted(labels)
    summary = run_pipeline("tiny", tmp_path / "run", presets=tiny_presets, data=spec, progress=False,
                           echo=lambda line: None, strip_accents=False)
    folder = ModelFolder(tmp_path / "run" / "model")
    assert folder.labels == expected and summary["labels"] == expected
    metrics = folder.metrics()
    assert metrics["accuracy"] >= 0.9 and metrics["macro_f1"] >= 0.9, metrics
    assert list(metrics["per_label"]) == expected
    assert np.array(metrics["confusion_matrix"]["rows_true_cols_predicted"]).shape == (len(labels), len(labels))
    assert metrics["confusion_matrix"]["labels"] == expected
    assert metrics["teacher_test"]["accuracy"] >= 0.9
    for variant in ("float32", "float16", "dynamic", "int8"):
        bundle = read_bundle(folder.tflite(variant).read_bytes())
        assert bundle.labels == expected and bundle.config.model["num_classes"] == len(labels)
        assert bundle.config.tokenizer == {**folder.tokenizer_options, "strip_accents": False}
    parity = json.loads(folder.parity_path.read_text())
    assert parity["n"] == metrics["n"] and parity["labels"] == expected and parity["data"] == spec.source
    edge = json.loads((tmp_path / "run" / "edge.json").read_text())
    assert all(list(r["predictions"]["int8"]["probabilities"]) == expected for r in edge["reviews"])
    # the held-out rows are the recorded ones, and none of them trained the model
    assert folder.data_record()["split"]["test"] == "stratified"


@pytest.mark.parametrize("kind", ["csv", "jsonl", "dir", "tfds"])
def test_train_reads_your_own_data_as_bytes(tmp_path, tiny_presets, kind):
    """`sparse-edge train --tokenizer bytes --data KIND:...` for every kind of source: no vocabulary
    anywhere, the bytes recorded, the source's labels."""
    from click.testing import CliRunner

    from training.saved import ModelFolder
    from sparse_edge.cli import main

    labels = ["shipping", "it"]
    rows = make_rows(labels, per_label=30)
    options = {"csv": ["--data", f"csv:{write_csv(tmp_path / 'tickets.csv', rows)}", "--text-column", "body",
                       "--label-column", "team"],
               "jsonl": ["--data", f"jsonl:{write_jsonl(tmp_path / 'tickets.jsonl', rows)}"],
               "dir": ["--data", f"dir:{write_dir(tmp_path / 'tickets', rows)}"]}
    if kind == "tfds":
        options["tfds"] = ["--data", make_tfds(tmp_path / "tfds", labels, 30), "--text-column", "body",
                           "--label-column", "team", "--data-dir", str(tmp_path / "tfds")]
    config = json.loads(Path(tiny_presets["tiny"].train_config).read_text())
    config.update(epochs=1, teacher=None, unlabelled_reviews=0)
    (tmp_path / "bytes.json").write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["train", "--config", str(tmp_path / "bytes.json"), "--tokenizer", "bytes",
                                       *options[kind], "--out", str(tmp_path / "model"), "--quiet"])
    assert result.exit_code == 0, result.output
    folder = ModelFolder(tmp_path / "model")
    assert folder.tokenizer_options == {"kind": "bytes"} and not folder.vocab_path.exists()
    expected = labels if kind == "tfds" else sorted(labels)   # a TFDS ClassLabel keeps its own order
    assert folder.read_config()["model"]["vocab_size"] == 261 and folder.labels == expected
    assert folder.data_record()["source"].startswith(kind)
    model, tokenizer, _ = folder.load()
    assert tokenizer.encode("ok", 8).ids.tolist() == [2, ord("o") + 5, ord("k") + 5, 3]


def test_the_pipeline_refuses_bytes_for_a_preset_built_on_word_pieces(tmp_path):
    from sparse_edge.pipeline import run_pipeline

    with pytest.raises(ValueError, match="the full preset is built on a WordPiece vocabulary"):
        run_pipeline("full", tmp_path / "run", tokenizer="bytes", progress=False, echo=lambda line: None)
    assert not (tmp_path / "run").exists()


def test_wordpiece_options_with_bytes_are_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from sparse_edge.cli import main

    for command in (["train", "--out", str(tmp_path / "m")], ["pipeline", "--out", str(tmp_path / "p")]):
        result = CliRunner().invoke(main, [*command, "--tokenizer", "bytes", "--keep-accents"])
        assert result.exit_code == 2 and "are WordPiece options" in result.output, result.output
        assert not (tmp_path / command[-1].rsplit("/", 1)[-1]).exists()
