"""Classify reviews from the command line with a bundled ``.tflite`` (no TensorFlow needed).

``python -m edge_runtime MODEL.tflite "text" ...`` and ``sparse-edge predict MODEL.tflite ...``
are this command. Reviews come from arguments, ``--file`` (one per line), ``--jsonl`` (objects
with a ``text`` field) or standard input (the whole input is one review). Bytes that are not
UTF-8 are replaced, with a warning on standard error.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import click


class Failure(click.ClickException):
    """The command was right but did not succeed: ``error: ...``, exit 1."""

    exit_code = 1


class OneLineErrors:
    """A click command mixin: every error is one line on stderr starting ``error:``.

    A usage mistake (bad argument or option, a path or file that cannot be used) exits 2 with a
    pointer to ``--help``; a failure while running exits 1; Ctrl-C exits 130 without a traceback.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx else (prog_name or "the command")
            click.echo(f"error: {error.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.ClickException as error:
            click.echo(f"error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


class Command(OneLineErrors, click.Command):
    pass


def read_texts(texts, file_path, jsonl_path) -> list[str]:
    texts = list(texts)
    if file_path:
        texts += [line.rstrip("\r\n") for line in _decode(_read(file_path), file_path).split("\n") if line.strip()]
    if jsonl_path:
        for number, line in enumerate(_decode(_read(jsonl_path), jsonl_path).splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise click.UsageError(f"{jsonl_path} line {number} is not JSON ({error.msg}); "
                                       "give one object per line, for example {\"text\": \"...\"}") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise click.UsageError(f"{jsonl_path} line {number} has no string field \"text\"")
            texts.append(record["text"])
    if not texts and not file_path and not jsonl_path and not sys.stdin.isatty():
        texts = [_decode(sys.stdin.buffer.read(), "standard input")]
    return texts


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        click.echo(f"warning: {source} is not valid UTF-8; undecodable bytes were replaced with U+FFFD", err=True)
        return data.decode("utf-8", errors="replace")


def classify_all(classifier, texts: list[str], threads: int):
    if threads <= 1 or len(texts) < 2:
        return [classifier.classify(t) for t in texts]
    with ThreadPoolExecutor(threads) as pool:   # the classifier is thread-safe
        return list(pool.map(classifier.classify, texts))


def run_edge_predict(model, texts, file_path, jsonl_path, threads, backend, as_json) -> None:
    """Shared body of ``python -m edge_runtime`` and ``sparse-edge predict MODEL.tflite``."""
    from edge_runtime.backends import BackendMissing
    from edge_runtime.bundle import BundleError
    from edge_runtime.classifier import TextClassifier

    try:
        inputs = read_texts(texts, file_path, jsonl_path)
    except OSError as error:
        raise click.UsageError(f"cannot read input ({error.strerror}: {error.filename})") from None
    if not inputs:
        raise click.UsageError("no text to classify; give TEXT arguments, --file PATH, --jsonl PATH "
                                   "or standard input")
    try:
        classifier = TextClassifier(model, num_threads=1, backend=backend)
    except (BundleError, BackendMissing, ValueError) as error:
        raise click.UsageError(str(error)) from None
    for text, result in zip(inputs, classify_all(classifier, inputs, threads)):
        if as_json or jsonl_path:
            click.echo(json.dumps(result.to_dict()))
        else:
            note = " (truncated)" if result.truncated else ""
            click.echo(f"{result.label}\t{result.score:.3f}\t{result.n_tokens} tokens{note}\t"
                       f"{result.latency_ms:.1f} ms\t{text[:60]!r}")


def edge_options(fn):
    for option in reversed([
        click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False),
                     help="Classify each non-empty line of this file."),
        click.option("--jsonl", "jsonl_path", type=click.Path(exists=True, dir_okay=False),
                     help="Classify each JSON object's \"text\"; results are JSON lines."),
        click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
                     help="Reviews classified in parallel (each invoke uses one interpreter thread)."),
        click.option("--backend", default="auto", show_default=True,
                     type=click.Choice(["auto", "ai_edge_litert", "tflite_runtime", "tensorflow"]),
                     help="TFLite interpreter to use."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per review."),
    ]):
        fn = option(fn)
    return fn


@click.command("edge_runtime", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("texts", nargs=-1)
@edge_options
def main(model, texts, file_path, jsonl_path, threads, backend, as_json):
    """Classify TEXTS (or --file / --jsonl / standard input) with MODEL, a bundled .tflite."""
    run_edge_predict(model, texts, file_path, jsonl_path, threads, backend, as_json)
