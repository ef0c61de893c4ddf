"""Classify reviews from the command line with a bundled ``.tflite`` (no TensorFlow needed).

``python -m edge_runtime MODEL.tflite "text" ...`` and ``sparse-edge predict MODEL.tflite ...``
are this command. Reviews come from arguments, ``--file`` (one per line), ``--jsonl`` (objects
with a ``text`` field) or standard input (the whole input is one review; one per line with
``--lines``). Files and standard input are streamed (:mod:`edge_runtime.inputs`): results are
printed as they are computed. Bytes that are not UTF-8 are replaced, with a warning on
standard error naming the line.
"""

from __future__ import annotations

import json
import sys

import click

from edge_runtime import inputs, stopping


class Failure(click.ClickException):
    """The command was right but did not succeed: ``error: ...``, exit 1."""

    exit_code = 1


class OneLineErrors:
    """A click command mixin: every error is one line on stderr starting ``error:``.

    A usage mistake (bad argument or option, a path or file that cannot be used) exits 2 with a
    pointer to ``--help``; a failure while running exits 1; Ctrl-C exits 130 and SIGTERM 143, without
    a traceback (:mod:`edge_runtime.stopping`).
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
        except click.Abort as abort:   # click's own wrapping of a KeyboardInterrupt
            stopping.stop(abort.__cause__ if isinstance(abort.__cause__, KeyboardInterrupt) else KeyboardInterrupt())
        except KeyboardInterrupt as error:   # Ctrl-C, or SIGTERM (edge_runtime.stopping)
            stopping.stop(error)
        sys.exit(code if isinstance(code, int) else 0)


class Command(OneLineErrors, click.Command):
    pass


def read_texts(texts, file_path, jsonl_path) -> list[str]:
    """Every review at once, for the Keras path of ``sparse-edge predict`` (a model folder): a bad
    JSON line is a usage error there. The edge path streams instead (``run_edge_predict``)."""
    out = []
    for item in _items(texts, file_path, jsonl_path, lines=False):
        if isinstance(item, inputs.BadLine):
            raise click.UsageError(f"{jsonl_path} line {item.line} {item.message}")
        out.append(item.text)
    return out


def _warn(message: str) -> None:
    click.echo(message, err=True)


def _items(texts, file_path, jsonl_path, lines: bool):
    """Reviews (and bad lines) from every source given, in order, read lazily."""
    for text in texts:
        yield inputs.Review(None, text)
    for path, reader in ((file_path, inputs.text_lines), (jsonl_path, inputs.json_lines)):
        if path:
            try:
                with open(path, "rb") as stream:
                    yield from reader(stream, path, _warn)
            except OSError as error:
                raise click.UsageError(f"cannot read {path} ({error.strerror})") from None
    if not texts and not file_path and not jsonl_path and not sys.stdin.isatty():
        reader = inputs.text_lines if lines else inputs.whole
        yield from reader(_standard_input(), "standard input", _warn)


def _standard_input():
    """Descriptor 0 through a reader of our own, not ``sys.stdin.buffer``: the reading thread may be
    blocked in it when a signal stops the command, and Python's shutdown would wait for the lock of
    ``sys.stdin``'s buffer, then abort ("could not acquire lock ... at interpreter shutdown")."""
    import io

    return io.BufferedReader(io.FileIO(sys.stdin.fileno(), "rb", closefd=False))


def _arrived(items, batch_size: int):
    """Batches of what has arrived: wait for one item, then take those already read, up to batch_size.

    A thread reads ahead into a bounded queue, so a fast file fills whole batches, a slow stream
    (a log tail) gets each line classified as soon as it comes, and memory stays bounded.
    """
    import queue
    import threading

    ahead: queue.Queue = queue.Queue(maxsize=4 * batch_size)
    end = object()

    def read():
        try:
            for item in items:
                ahead.put(item)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, raised there
            ahead.put(error)
        ahead.put(end)

    threading.Thread(target=read, daemon=True, name="read-reviews").start()
    while True:
        batch = [ahead.get()]
        while len(batch) < batch_size and batch[-1] is not end and not isinstance(batch[-1], BaseException):
            try:
                batch.append(ahead.get_nowait())
            except queue.Empty:
                break
        tail = batch[-1]
        if tail is end or isinstance(tail, BaseException):
            if batch[:-1]:
                yield batch[:-1]
            if tail is not end:
                raise tail
            return
        yield batch


def run_edge_predict(model, texts, file_path, jsonl_path, threads, backend, as_json,
                     lines: bool = False, strict: bool = False, batch_size: int = 1,
                     max_length: int | None = None, public_key=None) -> None:
    """Shared body of ``python -m edge_runtime`` and ``sparse-edge predict MODEL.tflite``.

    Streams: reviews are read, classified ``batch_size`` at a time (``threads`` batches in
    parallel) and printed as they go, in input order. A bad JSON line is reported with its number
    and skipped (the exit code is 1 at the end), or stops everything with ``strict``.
    """
    if not texts and not file_path and not jsonl_path and sys.stdin.isatty():
        raise click.UsageError("no text to classify; give TEXT arguments, --file PATH, --jsonl PATH "
                               "or standard input")
    classifier = load_classifier(model, backend, max_length, public_key)
    source = jsonl_path or file_path or "standard input"
    counts = {"done": 0, "bad": 0, "first_bad": None}

    def emit(batch, results):
        results = iter(results)
        for item in batch:
            if isinstance(item, inputs.BadLine):
                counts["bad"] += 1
                counts["first_bad"] = counts["first_bad"] or item.line
                message = f"{source} line {item.line} {item.message}"
                if strict:
                    raise Failure(message + " (stopped: --strict)")
                click.echo(f"error: {message}; skipped", err=True)
                continue
            result = next(results)
            counts["done"] += 1
            if as_json or jsonl_path or lines or file_path:
                record = {**result.to_dict(), "labels": classifier.labels}
                if item.line is not None:
                    record["line"] = item.line
                if item.id is not None:
                    record["id"] = item.id
                line = json.dumps(record) if (as_json or jsonl_path) else _row(result, item.text, item.line, classifier.labels)
            else:
                line = _row(result, item.text, None, classifier.labels)
            click.echo(line)
            sys.stdout.flush()   # one write a line: a stop leaves whole lines (edge_runtime.stopping)

    def classify(batch):
        return classifier.classify_batch([item.text for item in batch if isinstance(item, inputs.Review)],
                                         batch_size=batch_size)

    try:
        _classify_in_order(_arrived(_items(texts, file_path, jsonl_path, lines), batch_size), classify, emit, threads)
    except inputs.InputError as error:
        raise Failure(f"{error} ({counts['done']} review(s) classified before it)") from None
    except BrokenPipeError:   # the reader went away (`| head`): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    if counts["bad"]:
        raise Failure(f"{counts['bad']} bad line(s) in {source} skipped (the first: line {counts['first_bad']}); "
                      f"{counts['done']} review(s) classified")
    if not counts["done"]:
        raise click.UsageError(f"no text to classify: {source} is empty or blank" if not texts else
                               "no text to classify; give a non-empty TEXT")


def _classify_in_order(batches, classify, emit, threads: int) -> None:
    """``emit(batch, classify(batch))`` for every batch, in input order.

    With ``threads`` > 1 a thread takes batches as they arrive and hands them to the pool, up to 4
    per thread ahead (memory stays bounded), while this thread prints each result as soon as it
    and those before it are done, also while the input waits for its next line.
    """
    import queue
    import threading
    from concurrent.futures import ThreadPoolExecutor

    if threads <= 1:
        for batch in batches:
            emit(batch, classify(batch))
        return
    ahead: queue.Queue = queue.Queue(maxsize=4 * threads)
    end = object()
    with ThreadPoolExecutor(threads) as pool:   # the classifier is thread-safe
        def submit():
            try:
                for batch in batches:
                    ahead.put((batch, pool.submit(classify, batch)))
            except BaseException as error:  # noqa: BLE001 - handed to the printing thread, raised there
                ahead.put(error)
                return
            ahead.put(end)

        threading.Thread(target=submit, daemon=True, name="submit-batches").start()
        try:
            while (item := ahead.get()) is not end:
                if isinstance(item, BaseException):
                    raise item
                batch, future = item
                emit(batch, future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def load_classifier(model, backend: str, max_length: int | None = None, public_key=None):
    """The command lines' TextClassifier: a file that cannot be used, or whose signature does not
    match the pinned public key, is a usage error (one line, exit 2)."""
    from edge_runtime.backends import BackendMissing
    from edge_runtime.bundle import BundleError
    from edge_runtime.classifier import TextClassifier

    try:
        return TextClassifier(model, num_threads=1, backend=backend, max_length=max_length, public_key=public_key)
    except (BundleError, BackendMissing, ValueError) as error:
        raise click.UsageError(str(error)) from None


SHOWN_LABELS = 5   # with more than two labels, a row lists the most probable ones


def _row(result, text: str, line: int | None, labels: list[str]) -> str:
    """label, score, tokens, latency, the text's start; with more than two labels also the most
    probable ones (``label=p``, best first)."""
    note = " (truncated)" if result.truncated else ""
    where = f"{line}\t" if line is not None else ""
    others = ""
    if len(labels) > 2:
        best = sorted(range(len(labels)), key=lambda i: -result.probabilities[i])[:SHOWN_LABELS]
        others = "\t" + " ".join(f"{labels[i]}={result.probabilities[i]:.3f}" for i in best)
    return (f"{where}{result.label}\t{result.score:.3f}\t{result.n_tokens} tokens{note}\t"
            f"{result.latency_ms:.1f} ms{others}\t{text[:60]!r}")


PUBLIC_KEY_OPTION = click.option(
    "--public-key", type=click.Path(dir_okay=False), envvar="SPARSE_EDGE_PUBLIC_KEY",
    help="Run MODEL only if MODEL.sig is its signature by this key's private key (from `sparse-edge sign`; "
         "also from SPARSE_EDGE_PUBLIC_KEY). Needs sparse-edge[edge-verify].")


def edge_options(fn):
    for option in reversed([
        click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False),
                     help="Classify each non-empty line of this file; rows start with the line number."),
        click.option("--jsonl", "jsonl_path", type=click.Path(exists=True, dir_okay=False),
                     help="Classify each JSON object's \"text\" (its \"id\" is echoed); results are JSON "
                          "lines with the line number."),
        click.option("--lines", is_flag=True,
                     help="Standard input holds one review per line (default: the whole input is one review)."),
        click.option("--strict", is_flag=True,
                     help="Stop at the first bad JSON line (default: report it, skip it, exit 1 at the end)."),
        click.option("--batch-size", default=1, show_default=True, type=click.IntRange(1, 256),
                     help="Reviews per invoke; results are printed a batch at a time, as they come."),
        click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
                     help="Batches classified in parallel (each invoke uses one interpreter thread); "
                          "output keeps the input order."),
        click.option("--backend", default="auto", show_default=True,
                     type=click.Choice(["auto", "ai_edge_litert", "tflite_runtime", "tensorflow"]),
                     help="TFLite interpreter to use."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per review."),
        PUBLIC_KEY_OPTION,
        click.option("--max-length", type=click.IntRange(2),
                     help="Cut each review at this many tokens (bytes for a byte-level model) [default: the "
                          "file's longest input; a byte model reads 4x its training cut whole]."),
    ]):
        fn = option(fn)
    return fn


@click.command("edge_runtime", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("texts", nargs=-1)
@edge_options
def main(model, texts, file_path, jsonl_path, lines, strict, batch_size, threads, backend, as_json, public_key,
         max_length):
    """Classify TEXTS (or --file / --jsonl / standard input) with MODEL, a bundled .tflite.

    Files and standard input are streamed: results are printed as they are computed, in input
    order, with memory bounded whatever the input's size; Ctrl-C (exit 130) or SIGTERM (143) stops
    at once, after the whole lines already printed.

    `python -m edge_runtime serve MODEL` runs the HTTP service instead (see its --help).
    """
    run_edge_predict(model, texts, file_path, jsonl_path, threads, backend, as_json, lines, strict, batch_size,
                     max_length, public_key)


# -- `sparse-edge sign` (and `python -m edge_runtime sign`); edge_runtime/signature.py signs and checks --
@click.command("sign", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--key", "private_key", type=click.Path(dir_okay=False),
              help="The private key (PEM, elliptic curve) to sign MODELS with.")
@click.option("--new-key", "new_key", type=click.Path(file_okay=False),
              help="Make a new key pair in this folder (private.pem, public.pem) and sign nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def sign_command(models, private_key, new_key, as_json):
    """Sign MODELS (bundled .tflite files) so that a device can check who made them.

    Each MODEL gets MODEL.sig beside it, in the OpenSSF model-signing format (a Sigstore bundle,
    signed offline with an elliptic-curve key). Devices then run a file only when its signature
    matches their pinned public key: `python -m edge_runtime MODEL --public-key public.pem`,
    `sparse-edge serve MODEL --public-key public.pem`, or SPARSE_EDGE_PUBLIC_KEY. The file's own
    SHA256SUMS catch a damaged copy; only a signature catches a changed one. Needs
    `pip install "sparse-edge[edge-verify]"`.

    \b
      sparse-edge sign --new-key keys/
      sparse-edge sign artifacts/imdb-classifier/tflite/int8.tflite --key keys/private.pem
    """
    from edge_runtime.bundle import BundleError
    from edge_runtime.signature import new_key_pair, sign

    try:
        if new_key:
            if models or private_key:
                raise click.UsageError("--new-key makes a key pair and signs nothing; sign with --key in a second command")
            private, public = new_key_pair(new_key)
            written = {"private_key": str(private), "public_key": str(public)}
            message = f"wrote {private} (keep it secret, off the device) and {public} (copy it to the device)"
        else:
            if not models or not private_key:
                raise click.UsageError("give the .tflite files to sign and --key PRIVATE.pem (or --new-key DIR to make a key pair)")
            written = {"signatures": [str(sign(model, private_key)) for model in models]}
            message = "\n".join(f"signed {model}: {path}" for model, path in zip(models, written["signatures"]))
    except BundleError as error:
        raise click.UsageError(str(error)) from None
    click.echo(json.dumps(written) if as_json else message)
