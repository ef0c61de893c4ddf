"""``sparse-edge pipeline``: every stage from IMDB to the edge runtime, with a summary at the end."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import (check_case_options, data_options, data_spec, fail, source_options, tokenizer_options, usage,
                                         with_tensorflow)


@click.command("pipeline")
@click.option("--preset", type=click.Choice(["quick", "full", "small"]),
              help="quick: a small model on 8,000 IMDB reviews, a few minutes on 2 cores. full: the shipped "
              "classifier: a language model, the Transformer of artifacts/imdb-transformer, the hybrid of "
              "configs/hybrid.json; parity on all 25,000 test reviews. small: your own few thousand rows "
              "(configs/small.json: a small model, up to 20 epochs with early stopping, the n-gram teacher). "
              "[default: quick for imdb, small for other data]")
@click.option("--vocab-size", type=click.IntRange(1000, 100_000),
              help="Tokens in the vocabulary learned from the training texts [default: the preset's; small data "
                   "may give fewer].")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for every stage's output (vocab.txt, model/, edge.json, summary.md, pipeline.json).")
@click.option("--seed", type=int, help="Another training seed than the preset's (initialisation, batch order, "
              "validation split): how much the result depends on it.")
@click.option("--force", is_flag=True, help="Redo every stage, even those whose outputs match their settings.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
@click.option("--quiet", is_flag=True, help="No progress bars (stage lines are still printed, to stderr).")
@tokenizer_options
@source_options("imdb")
@data_options
def pipeline(preset, vocab_size, out_dir, seed, force, as_json, quiet, tokenizer_kind, keep_case, keep_accents, data_source,
             text_column, label_column, data_dir, manual_dir):
    """Run the whole pipeline: data, vocabulary, training, test evaluation, conversion to all four
    .tflite variants, parity against the Keras model, edge-runtime predictions, summary.

    From your own CSV to a verified .tflite in one command:

        sparse-edge pipeline --data csv:tickets.csv --text-column body --label-column team --out runs/tickets

    Each stage prints what it does and about how long the rest will take. A stage whose outputs
    exist and were made with the same settings is skipped, so running the command again after an
    interruption or a failure continues where it stopped (--force redoes all). A failed stage
    says which one and why; what the stages before it wrote stays as it was.

    Without the dataset (and without network) it stops at once and says how to provide IMDB.
    """
    check_case_options(tokenizer_kind, keep_case, keep_accents)
    with_tensorflow("sparse-edge pipeline")
    from training.data import DatasetMissing
    from sparse_edge.pipeline import StageFailed, run_pipeline, summary_markdown

    data = data_spec(data_source, text_column, label_column, data_dir, manual_dir)
    try:
        summary = run_pipeline(preset, out_dir, data_dir, manual_dir, force=force, progress=not quiet, seed=seed,
                               echo=lambda line: click.echo(line, err=True), data=data, vocab_size=vocab_size,
                               lowercase=False if keep_case else None, strip_accents=False if keep_accents else None,
                               tokenizer=tokenizer_kind)
    except (DatasetMissing, ValueError) as error:
        usage(str(error))
    except StageFailed as error:
        fail(str(error))
    click.echo(json.dumps(summary, indent=2) if as_json else summary_markdown(summary), nl=not as_json)
    if not as_json:
        for line in next_steps(summary):
            click.echo(line, err=True)


def next_steps(summary: dict) -> list[str]:
    """The closing lines: how long it took and what a user would run next."""
    from convert.variants import FULL_INTEGER
    from training.saved import ModelFolder

    int8 = next(row["path"] for row in summary["variants"] if row["model"] == FULL_INTEGER)
    folder = ModelFolder.holding(int8).path
    return [f"Done in {summary['total_seconds'] / 60:.1f} min. Next:",
            f'  sparse-edge predict {int8} "A quiet, beautiful film."     # classify with the int8 file'
            if summary.get("data", "imdb") == "imdb" else
            f'  sparse-edge predict {int8} --json "some text"     # every label\'s probability, with the int8 file',
            f"  sparse-edge bench edge --model-dir {folder} --json runs/bench/edge.json   # its speed here",
            f"  sparse-edge demo                                   # the shipped models in a browser page"]
