"""README and docs tables generated from the JSON the project wrote, never typed by hand.

A document holds blocks between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``. Each NAME
is a function beside the code that writes its JSON (listed in ``TABLES``); it reads committed
JSON under ``artifacts/`` and returns markdown. ``sparse-edge report`` rewrites the blocks;
``sparse-edge report --check`` (and a test) fails when a document no longer matches the JSON.
"""

from __future__ import annotations

import re

from sparse_edge.reports import conversion as conversion
from sparse_edge.reports import lra_tables
from sparse_edge.reports import tables as models
from sparse_edge.reports.tables import ROOT  # noqa: F401 - the repository, for the report command
from sparse_edge import pipeline_summary as pipelines
from sparse_edge.bench import (attention, baseline, behaviour, edge, kernels, long, mutation, peers, serve, tokenizer,
                                train_step)

TABLES = {"classifier_metrics": models.classifier_metrics, "lm_metrics": models.lm_metrics,
          "pattern_comparison": models.pattern_comparison, "tried_recipes": models.tried_recipes,
          "parity": conversion.parity, "mediapipe_parity": conversion.mediapipe_parity,
          "pipeline_quick": pipelines.pipeline_quick, "pipeline_full": pipelines.pipeline_full,
          "attention_bench": attention.attention_bench, "tokenizer_bench": tokenizer.tokenizer_bench,
          "edge_bench": edge.edge_bench, "pi_check": edge.pi_check, "serve_bench": serve.serve_bench,
          "kernel_spread": kernels.kernel_spread_table, "peers": peers.peers, "behaviour": behaviour.behaviour,
          "debian_sections": baseline.debian_sections, "lra_text": lra_tables.lra_text,
          "long_bench": long.long_bench, "train_step_bench": train_step.train_step_bench,
          "pi_check_bytes": edge.pi_check_bytes, "mutation": mutation.mutation_table}
BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table:\2 -->)", re.S)
DOCUMENTS = ("README.md", "docs/results.md", "docs/benchmarks.md", "docs/cli.md", "docs/data.md",
             "docs/conversion.md", "docs/edge.md", "docs/mediapipe.md", "docs/tokenizer.md",
             "docs/experiments.md", "docs/testing.md")   # the files whose table blocks are generated


def render_readme(text: str) -> str:
    """The README with every table block regenerated from the JSON."""
    def replace(match):
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"README names an unknown table {name!r}; known: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return BLOCK.sub(replace, text)
