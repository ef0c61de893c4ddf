"""What every subcommand shares: the common options and the one way a command fails.

Errors are one line on standard error, always starting ``error:``:

- exit 2, ``usage(...)``: what was asked cannot be done as asked: an option value, a path that is
  not what the command needs, a config that does not validate, data that is not there. Fix the
  command or its inputs and run it again. Click's own usage errors (a missing argument, an unknown
  option) exit 2 the same way.
- exit 1, ``fail(...)``: the command was right but did not succeed (a conversion the converter
  refused, parity thresholds missed, a failed pipeline stage).
- exit 130: interrupted (Ctrl-C).

The formatting lives in :class:`edge_runtime.cli.OneLineErrors`, which ``python -m edge_runtime``
uses too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import NoReturn

import click

from edge_runtime.cli import Failure
from edge_runtime.quiet import native_stderr_silenced, verbose
from edge_runtime.tokenizer import TOKENIZERS, refuse_case_options

TRAINING_EXTRA = "pip install -e '.[train]'  (or run it through scripts/run, which installs everything)"


def usage(message: str) -> NoReturn:
    """Refuse the command as given (exit 2)."""
    raise click.UsageError(message)


def check_case_options(tokenizer_kind: str | None, keep_case: bool, keep_accents: bool) -> None:
    """--keep-case and --keep-accents with a tokenizer that fixes case and accents itself: a usage error."""
    try:
        refuse_case_options(tokenizer_kind or "wordpiece", keep_case, keep_accents)
    except ValueError as error:
        usage(str(error))


def fail(message: str) -> NoReturn:
    """Report a failure while running (exit 1)."""
    raise Failure(message)


def require_training_extra(what: str) -> None:
    """Exit 2 with the pip command when TensorFlow/Keras (the ``train`` extra) is missing."""
    missing = [name for name in ("tensorflow", "keras") if importlib.util.find_spec(name) is None]
    if missing:
        usage(f"{what} needs TensorFlow and Keras ({', '.join(missing)} not installed here; this looks like an "
              f"edge-only install): {TRAINING_EXTRA}")


def with_tensorflow(what: str) -> None:
    """The training extra is installed: import TensorFlow quietly, once."""
    require_training_extra(what)
    quiet_tensorflow()


def data_options(fn):
    """``--data-dir`` and ``--manual-dir``: where IMDB is."""
    for option in reversed([
        click.option("--data-dir", envvar="TFDS_DATA_DIR", type=click.Path(file_okay=False),
                     help="TensorFlow Datasets folder holding a prepared imdb_reviews/plain_text/1.0.0 "
                          "[env: TFDS_DATA_DIR]."),
        click.option("--manual-dir", type=click.Path(file_okay=False),
                     help="Folder with aclImdb_v1.tar.gz you downloaded yourself (TFDS prepares it, no network)."),
    ]):
        fn = option(fn)
    return fn


DATA_HELP = ("Labelled text to use: imdb (TFDS imdb_reviews), tfds:NAME (a TFDS dataset with a text feature and "
             "a ClassLabel), csv:PATH or jsonl:PATH (a file with a header / one object per line, or a folder with "
             "train.* and test.*), dir:PATH (one sub-folder of .txt files per label; train/ and test/ when present). "
             "Without a test split, a seeded stratified 20% is held out and recorded in the model folder.")


def source_options(default: str | None):
    """``--data``, ``--text-column``, ``--label-column``: which labelled text (``training.sources``).

    ``default`` None: the model folder's own data (``data.json``), as commands that read a trained
    folder want.
    """
    def decorate(fn):
        for option in reversed([
            click.option("--data", "data_source", default=default, show_default=default is not None,
                         metavar="SOURCE", help=DATA_HELP + ("" if default else " [default: the data the model "
                                                             "was trained on, split as then]")),
            click.option("--text-column", help="The column (CSV), key (JSONL) or feature (TFDS) holding the text "
                                               "[default: text]."),
            click.option("--label-column", help="The column, key or feature holding the label [default: label]."),
        ]):
            fn = option(fn)
        return fn
    return decorate


def tokenizer_options(fn):
    """``--tokenizer``, ``--keep-case`` and ``--keep-accents``: the tokenizer of a new model."""
    for option in reversed([
        click.option("--tokenizer", "tokenizer_kind", type=click.Choice(list(TOKENIZERS)), default=None,
                     help="; ".join(f"{c.name}: {c.help}" for c in TOKENIZERS.values())
                     + " (the two options below apply to wordpiece only)."),
        click.option("--keep-case", is_flag=True, default=None,
                     help="Do not lowercase texts (the vocabulary and model then tell 'Apple' from 'apple')."),
        click.option("--keep-accents", is_flag=True, default=None,
                     help="Do not strip accents ('café' stays 'café'; MediaPipe's BERT tokenizer keeps them too)."),
    ]):
        fn = option(fn)
    return fn


def data_spec(source: str | None, text_column: str | None, label_column: str | None, data_dir: str | None,
              manual_dir: str | None):
    """The ``DataSpec`` the options name (None when no ``--data`` was given); a bad one exits 2."""
    from training.sources import DataError, DataSpec

    if source is None:
        if text_column or label_column:
            usage("--text-column and --label-column need --data (they name columns of that data)")
        return None
    try:
        return DataSpec(source, text_column, label_column, data_dir=data_dir, manual_dir=manual_dir)
    except DataError as error:
        usage(str(error))


def quiet_option(fn):
    return click.option("--quiet", is_flag=True, help="No progress bars.")(fn)


def quiet_tensorflow() -> None:
    """Import TensorFlow with its native start-up lines and Python warnings silenced (once per process)."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if verbose():
        import tensorflow  # noqa: F401
        return
    import logging
    import warnings

    with native_stderr_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
