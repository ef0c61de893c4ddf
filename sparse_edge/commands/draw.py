"""``sparse-edge draw-patterns``: pictures of every attention pattern's block layout."""

from __future__ import annotations

import click

from sparse_edge.commands.common import fail


@click.command("draw-patterns")
@click.option("--n", default=4096, show_default=True, type=click.IntRange(1), help="Sequence length in tokens.")
@click.option("--block-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--causal", is_flag=True, help="Draw the causal variants.")
@click.option("--out", default="runs/patterns.png", show_default=True, type=click.Path(dir_okay=False))
def draw_patterns(n, block_size, causal, out):
    """Draw each pattern's block layout (which key blocks each query block computes) as a PNG."""
    from sparse_edge.reports.pictures import draw_layouts

    try:
        draw_layouts(out, n, block_size, causal)
    except ValueError as error:
        raise click.BadParameter(str(error))
    click.echo(out)


@click.command("draw-results")
@click.option("--out", default="runs/results.png", show_default=True, type=click.Path(dir_okay=False))
def draw_results(out):
    """Plot accuracy against training time per pattern and length, and accuracy against size per
    quantized variant, from the committed JSON under artifacts/."""
    from sparse_edge.figures import draw_results as draw

    try:
        click.echo(draw(out))
    except (OSError, KeyError, ValueError) as error:
        fail(f"could not draw from artifacts/ JSON ({error}); regenerate the JSON first")
