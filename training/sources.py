"""Labelled text from anywhere: IMDB, any TFDS text dataset, a CSV, a JSONL file, a folder per label.

Every command that reads data takes one ``--data`` string (``DataSpec.source``):

    imdb            TFDS ``imdb_reviews`` (train, test, unsupervised): the shipped model's data
    tfds:NAME       any TFDS dataset with a text feature and a ClassLabel feature
    csv:PATH        a UTF-8 CSV file with a header row
    jsonl:PATH      one JSON object per line
    dir:PATH        one sub-folder of ``.txt`` files per label (the aclImdb and
                    ``keras.utils.text_dataset_from_directory`` layout); ``train/`` and
                    ``test/`` sub-folders when present (aclImdb's ``unsup/`` is unlabelled)

For ``csv`` and ``jsonl`` PATH may also be a folder holding ``train.csv`` and ``test.csv``
(``train.jsonl``, ``test.jsonl``). ``--text-column`` and ``--label-column`` name the columns
(keys, TFDS features); they default to ``text`` and ``label``.

Label names come from the data: a ClassLabel's order, else sorted (numerically when every label
is a number, so star ratings 1..10 stay in order). When the data has no test split, a seeded,
stratified share of the rows is held out (``DataSpec.test_fraction``, ``split_seed``); the model
folder records it (``data.json``: ``LabelledData.record``), and evaluation, conversion and
parity rebuild the same split from that record and check it, so they never touch training rows.

Bad data stops with a ``DataError``: one line naming the file, the line or row, and the fix.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tickets.csv"
    >>> _ = path.write_text("body,team\\n" + "".join(f"printer {i} jammed,it\\nrefund {i},billing\\n" for i in range(20)))
    >>> data = open_data(DataSpec(f"csv:{path}", text_column="body", label_column="team"))
    >>> data.labels, len(data.load("train")), len(data.load("test"))
    (['billing', 'it'], 32, 8)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.data import SENTIMENT_LABELS, Reviews, load_imdb, stratified_split

KINDS = ("imdb", "tfds", "csv", "jsonl", "dir")
MIN_ROWS = 20          # fewer cannot hold out test and validation rows for every label
MAX_LABELS = 1000
TEXT_SUFFIXES = (".txt",)


class DataError(ValueError):
    """The data cannot be used as given; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class DataSpec:
    """Which data, and how it is split: what ``--data``, ``--text-column`` and ``--label-column`` say.

    ``data_dir`` and ``manual_dir`` say where TFDS data lives on this machine; they are not part
    of the record (another machine keeps its datasets elsewhere).
    """

    source: str = "imdb"
    text_column: str | None = None
    label_column: str | None = None
    test_fraction: float = 0.2     # held out when the data has no test split
    split_seed: int = 0
    data_dir: str | None = field(default=None, compare=False)
    manual_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in KINDS:
            raise DataError(f"unknown data source {self.source!r}; write imdb, tfds:NAME, csv:PATH, jsonl:PATH "
                            "or dir:PATH")
        if kind != "imdb" and not self.location:
            raise DataError(f"data source {self.source!r} names no {'dataset' if kind == 'tfds' else 'path'}; "
                            f"write {kind}:{'NAME' if kind == 'tfds' else 'PATH'}")
        if not 0 < self.test_fraction < 0.5:
            raise DataError(f"test_fraction must be in (0, 0.5), got {self.test_fraction!r}")

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def location(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else ""

    @property
    def is_imdb(self) -> bool:
        return self.kind == "imdb"

    @property
    def text_key(self) -> str:
        return self.text_column or "text"

    @property
    def label_key(self) -> str:
        return self.label_column or "label"

    def to_record(self) -> dict:
        return {"source": self.source, "text_column": self.text_column, "label_column": self.label_column,
                "test_fraction": self.test_fraction, "split_seed": self.split_seed}

    @classmethod
    def from_record(cls, record: dict, data_dir: str | None = None, manual_dir: str | None = None) -> "DataSpec":
        keys = ("source", "text_column", "label_column", "test_fraction", "split_seed")
        return cls(**{k: record[k] for k in keys if k in record}, data_dir=data_dir, manual_dir=manual_dir)


@dataclass
class Rows:
    """Rows read from a file, before labels become class numbers; ``where[i]`` says where row i came from."""

    texts: list[str]
    labels: list[str]
    where: list[str]           # "tickets.csv line 7", "train/pos/12_9.txt"
    numeric: list[bool]        # whether each label was written as a number


class LabelledData:
    """An opened data source: its label names and its train/test (and unlabelled) splits."""

    def __init__(self, spec: DataSpec, labels: list[str], train: Reviews | None, test: Reviews | None,
                 split: dict, unlabelled: list[str] | None = None):
        self.spec, self.labels, self.split = spec, labels, split
        self._train, self._test, self._unlabelled = train, test, unlabelled

    @property
    def has_unlabelled(self) -> bool:
        return self.spec.is_imdb or bool(self._unlabelled)

    def load(self, split: str, limit: int | None = None) -> Reviews:
        """``train``, ``test`` or ``unsupervised`` (texts without labels: label -1), the first ``limit`` rows."""
        if self.spec.is_imdb:
            return load_imdb(split, self.spec.data_dir, self.spec.manual_dir, limit=limit)
        if split == "unsupervised":
            texts = (self._unlabelled or [])[:limit]
            return Reviews(texts, np.full(len(texts), -1, np.int64), np.arange(len(texts)))
        if split not in ("train", "test"):
            raise DataError(f"unknown split {split!r}; use train or test")
        reviews = self._train if split == "train" else self._test
        return reviews if limit is None else reviews.subset(np.arange(min(limit, len(reviews))))

    def record(self) -> dict:
        """What a model folder keeps (``data.json``) to rebuild and check these splits later."""
        record = {**self.spec.to_record(), "labels": list(self.labels), "split": dict(self.split)}
        if not self.spec.is_imdb:
            train, test = self._train, self._test
            digest = hashlib.sha256()
            for reviews in (train, test):
                for text, label in zip(reviews.texts, reviews.labels):
                    digest.update(f"{label}\t{text}\n".encode("utf-8", "replace"))
            record["content_sha256"] = digest.hexdigest()[:16]   # any edit to the rows changes it
            record["counts"] = {"train": len(train), "test": len(test),
                                "train_per_label": _per_label(train.labels, self.labels),
                                "test_per_label": _per_label(test.labels, self.labels)}
        return record

    def check_against(self, record: dict, where: str) -> None:
        """Refuse data that no longer splits as it did when the model was trained."""
        if list(record.get("labels", self.labels)) != list(self.labels):
            raise DataError(f"{self.spec.source} now has the labels {self.labels}, but {where} was trained on "
                            f"{record['labels']}; use the data the model was trained on")
        then, now = record.get("split", {}).get("test_ids_sha256"), self.split.get("test_ids_sha256")
        if then and now != then:
            raise DataError(f"{self.spec.source} no longer gives the test rows {where} was trained with (the data "
                            "changed since); evaluate on the data the model was trained on, or train again")


def _per_label(labels: np.ndarray, names: list[str]) -> dict:
    counts = np.bincount(labels, minlength=len(names))
    return {name: int(n) for name, n in zip(names, counts)}


def open_data(spec: DataSpec) -> LabelledData:
    """Read and check a data source; raise ``DataError`` with one line naming what is wrong."""
    if spec.is_imdb:
        return LabelledData(spec, list(SENTIMENT_LABELS), None, None, {"test": "given", "source": "tfds imdb_reviews"})
    if spec.kind == "tfds":
        return _open_tfds(spec)
    path = Path(spec.location).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path after {spec.kind}:")
    train_rows, test_rows, unlabelled = _read_files(spec, path)
    return _labelled(spec, train_rows, test_rows, unlabelled)


# -- reading files -------------------------------------------------------------------------------

def _read_files(spec: DataSpec, path: Path) -> tuple[Rows, Rows | None, list[str]]:
    if spec.kind == "dir":
        if not path.is_dir():
            raise DataError(f"{path} is not a folder; dir: needs a folder with one sub-folder of .txt files per label")
        if (path / "train").is_dir():
            test = _read_label_folders(path / "test") if (path / "test").is_dir() else None
            train = _read_label_folders(path / "train")
            unlabelled = _read_label_folders(path / "train" / "unsup", one_label="unsup").texts \
                if (path / "train" / "unsup").is_dir() else []
            return train, test, unlabelled
        return _read_label_folders(path), None, []
    reader = _read_csv if spec.kind == "csv" else _read_jsonl
    if path.is_dir():
        train_file, test_file = path / f"train.{spec.kind}", path / f"test.{spec.kind}"
        if not train_file.is_file():
            raise DataError(f"{path} is a folder without {train_file.name}; name a {spec.kind.upper()} file, or put "
                            f"{train_file.name} (and {test_file.name}) in it")
        return reader(train_file, spec), (reader(test_file, spec) if test_file.is_file() else None), []
    return reader(path, spec), None, []


def _decode(path: Path, data: bytes | None = None) -> str:
    """The file's text; non-UTF-8 bytes are an error that says on which line and at which byte."""
    data = path.read_bytes() if data is None else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path} line {line} is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
                        "save the file as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text   # a byte-order mark is not part of the header


def _read_csv(path: Path, spec: DataSpec) -> Rows:
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path} is empty; a CSV needs a header row and one row per text") from None
    except csv.Error as error:
        raise DataError(f"{path} line 1 is not valid CSV ({error})") from None
    header = [name.strip() for name in header]
    text_at, label_at = (_column(path, header, name, option) for name, option in
                         ((spec.text_key, "--text-column"), (spec.label_key, "--label-column")))
    rows = Rows([], [], [], [])
    line = 1
    try:
        for fields in reader:
            line = reader.line_num
            if not fields:   # a blank line
                continue
            if len(fields) != len(header):
                raise DataError(f"{path} line {line} has {len(fields)} fields but the header has {len(header)}; "
                                "quote fields that contain commas or line breaks")
            _add(rows, fields[text_at], fields[label_at].strip(), None, f"{path} line {line}")
    except csv.Error as error:
        raise DataError(f"{path} line {reader.line_num} is not valid CSV ({error}); check its quotes") from None
    return rows


def _column(path: Path, header: list[str], name: str, option: str) -> int:
    if name not in header:
        raise DataError(f"{path} has no column {name!r} (columns found: {', '.join(map(repr, header))}); "
                        f"name the right one with {option}")
    return header.index(name)


def _read_jsonl(path: Path, spec: DataSpec) -> Rows:
    rows = Rows([], [], [], [])
    for number, line in enumerate(_decode(path).split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise DataError(f"{where} is not valid JSON ({str(error)[:80]}); write one JSON object per line") from None
        if not isinstance(item, dict):
            raise DataError(f"{where} is a JSON {type(item).__name__}, not an object; write one object per line "
                            f"with {spec.text_key!r} and {spec.label_key!r} keys")
        for key, option in ((spec.text_key, "--text-column"), (spec.label_key, "--label-column")):
            if key not in item:
                raise DataError(f"{where} has no key {key!r} (keys found: {', '.join(map(repr, item))}); "
                                f"name the right one with {option}")
        text, label = item[spec.text_key], item[spec.label_key]
        if not isinstance(text, str):
            raise DataError(f"{where}: {spec.text_key!r} is a JSON {type(text).__name__}, not a string")
        if isinstance(label, bool) or not isinstance(label, (str, int, float)):
            raise DataError(f"{where}: the label {label!r} is neither a name nor a number")
        numeric = isinstance(label, (int, float))
        if isinstance(label, float) and label.is_integer():
            label = int(label)
        _add(rows, text, str(label).strip(), numeric, where)
    return rows


def _read_label_folders(folder: Path, one_label: str | None = None) -> Rows:
    """``folder/<label>/*.txt`` (or, with ``one_label``, ``folder/*.txt``), in sorted order."""
    rows = Rows([], [], [], [])
    groups = [(one_label, folder)] if one_label is not None else \
        [(sub.name, sub) for sub in sorted(folder.iterdir()) if sub.is_dir() and sub.name != "unsup"]
    if not groups:
        raise DataError(f"{folder} has no sub-folders; dir: needs one sub-folder of .txt files per label")
    for label, sub in groups:
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files and one_label is None:
            raise DataError(f"{sub} holds no .txt files; put one text per .txt file in each label's folder, "
                            "or remove the folder")
        for file in files:
            _add(rows, _decode(file), label, False, str(file))
    return rows


def _add(rows: Rows, text: str, label: str, numeric: bool | None, where: str) -> None:
    if not text.strip():
        raise DataError(f"{where}: the text is empty; remove the row or give it a text")
    if not label:
        raise DataError(f"{where}: the label is empty; give every row a label")
    rows.texts.append(text)
    rows.labels.append(label)
    rows.where.append(where)
    rows.numeric.append(_is_number(label) if numeric is None else numeric)


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


# -- from rows to labelled splits ----------------------------------------------------------------

def _label_names(rows: Rows, source: str) -> list[str]:
    """Sorted names; numerically when every label is a number. Mixed numbers and names are refused."""
    numbers = [i for i, n in enumerate(rows.numeric) if n]
    if numbers and len(numbers) < len(rows.labels):
        name = next(i for i, n in enumerate(rows.numeric) if not n)
        raise DataError(f"{source} mixes numbers and names in its labels ({rows.labels[numbers[0]]!r} at "
                        f"{rows.where[numbers[0]]}, {rows.labels[name]!r} at {rows.where[name]}); use one kind")
    distinct = set(rows.labels)
    return sorted(distinct, key=float) if numbers else sorted(distinct)


def _labelled(spec: DataSpec, train_rows: Rows, test_rows: Rows | None, unlabelled: list[str],
              label_names: list[str] | None = None) -> LabelledData:
    source = spec.source
    if not train_rows.texts:
        raise DataError(f"{source} has no rows; it needs one labelled text per row")
    names = label_names or _label_names(train_rows, source)
    if len(set(train_rows.labels)) < 2:
        raise DataError(f"{source} has one label ({train_rows.labels[0]!r}) in all {len(train_rows.texts)} rows; "
                        "a classifier needs at least two labels")
    if len(names) > MAX_LABELS:
        raise DataError(f"{source} has {len(names)} labels; at most {MAX_LABELS} are supported (is "
                        f"--label-column {spec.label_key!r} the label, not an id?)")
    counts = {name: 0 for name in names}
    first_row = {}
    for label, where in zip(train_rows.labels, train_rows.where):
        counts[label] = counts.get(label, 0) + 1
        first_row.setdefault(label, where)
    few = [name for name in names if counts.get(name, 0) < 2]
    if few:
        shown = ", ".join(f"{name!r} ({counts.get(name, 0)} row{'' if counts.get(name, 0) == 1 else 's'}"
                          + (f", {first_row[name]}" if name in first_row else "") + ")" for name in few[:5])
        raise DataError(f"{source}: every label needs at least 2 training rows; too few: {shown}; add rows or "
                        "remove the label")
    index = {name: i for i, name in enumerate(names)}
    train = Reviews(list(train_rows.texts), np.array([index[x] for x in train_rows.labels], np.int64),
                    np.arange(len(train_rows.texts)), stratified=True)
    if test_rows is not None:
        unknown = [(x, w) for x, w in zip(test_rows.labels, test_rows.where) if x not in index]
        if unknown:
            labels = sorted({x for x, _ in unknown})
            raise DataError(f"the test data has labels the training data lacks: {', '.join(map(repr, labels[:5]))} "
                            f"(first at {unknown[0][1]}); add them to the training data or drop those rows")
        if not test_rows.texts:
            raise DataError(f"{source}'s test split has no rows")
        test = Reviews(list(test_rows.texts), np.array([index[x] for x in test_rows.labels], np.int64),
                       np.arange(len(test_rows.texts)), stratified=True)
        split = {"test": "given"}
    else:
        if len(train) < MIN_ROWS:
            raise DataError(f"{source} has {len(train)} rows; at least {MIN_ROWS} are needed to hold out test and "
                            "validation rows (add rows, or give a separate test file)")
        rest, held = stratified_split(train.labels, spec.test_fraction, spec.split_seed)
        train, test = train.subset(rest), train.subset(held)
        split = {"test": "stratified", "test_fraction": spec.test_fraction, "seed": spec.split_seed}
    split["test_ids_sha256"] = hashlib.sha256(np.asarray(test.ids, np.int64).tobytes()
                                              + "\n".join(test.texts).encode("utf-8", "replace")).hexdigest()[:16]
    return LabelledData(spec, names, train, test, split, unlabelled)


# -- TensorFlow Datasets -------------------------------------------------------------------------

def _open_tfds(spec: DataSpec) -> LabelledData:
    import tensorflow_datasets as tfds

    name = spec.location
    try:
        builder = tfds.builder(name, data_dir=spec.data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises many kinds; the message matters
        where = spec.data_dir or "the default TFDS folder"
        raise DataError(f"TFDS dataset {name!r} is not known or not prepared in {where} "
                        f"({type(error).__name__}); prepare it with `tfds build {name}` or set --data-dir") from None
    if not builder.info.splits or not Path(builder.data_dir).exists():
        raise DataError(f"TFDS dataset {name!r} is not prepared in {builder.data_dir}; prepare it with "
                        f"`tfds build {name}` (network) or set --data-dir to where it is")
    features = builder.info.features
    class_labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    texts = [k for k, f in features.items() if isinstance(f, tfds.features.Text)
             or (isinstance(f, tfds.features.Tensor) and f.np_dtype == np.object_ and f.shape == ())]
    label_key = spec.label_column or (class_labels[0] if len(class_labels) == 1 else "label")
    text_key = spec.text_column or (texts[0] if len(texts) == 1 else "text")
    if label_key not in class_labels:
        raise DataError(f"TFDS dataset {name!r} has no ClassLabel feature {label_key!r} (ClassLabels: "
                        f"{', '.join(map(repr, class_labels)) or 'none'}); name it with --label-column")
    if text_key not in texts:
        raise DataError(f"TFDS dataset {name!r} has no text feature {text_key!r} (text features: "
                        f"{', '.join(map(repr, texts)) or 'none'}); name it with --text-column")
    names = list(features[label_key].names)

    def rows(split: str) -> Rows:
        out = Rows([], [], [], [])
        for i, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))):
            text = example[text_key]
            text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
            _add(out, text, names[int(example[label_key])], False, f"tfds:{name} {split} example {i}")
        return out

    splits = set(builder.info.splits)
    if "train" not in splits:
        raise DataError(f"TFDS dataset {name!r} has no 'train' split (splits: {', '.join(sorted(splits))})")
    test = rows("test") if "test" in splits else None
    data = _labelled(spec, rows("train"), test, [], label_names=names)
    data.split["source"] = f"tfds {name}"
    return data


def data_for_folder(folder, data_dir: str | None = None, manual_dir: str | None = None,
                    override: DataSpec | None = None) -> LabelledData:
    """The data a model folder was trained on, split as it was then (``data.json``); IMDB for older folders.

    ``override`` (a ``--data`` given on the command line) must name the same labels; its test rows
    are then what is evaluated (for example a newer test file).
    """
    record = folder.data_record()
    if override is not None and not (override.is_imdb and record is None):
        data = open_data(override)
        if record is not None and list(record.get("labels", [])) != data.labels:
            raise DataError(f"{override.source} has the labels {data.labels}, but {folder.path} was trained on "
                            f"{record['labels']}; evaluate on data with the same labels")
        return data
    spec = DataSpec.from_record(record, data_dir, manual_dir) if record else \
        DataSpec("imdb", data_dir=data_dir, manual_dir=manual_dir)
    data = open_data(spec)
    if record:
        data.check_against(record, str(folder.path))
    return data
