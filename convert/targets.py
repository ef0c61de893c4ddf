"""Which conversion a model folder gets: the decision the CLI used to make, in one place.

A folder's kind (classifier, ensemble, hybrid, language model) and the chosen target (``edge``:
multi-length files for ``edge_runtime``; ``mediapipe``: one-signature files for MediaPipe Tasks)
pick the converter; the variant table (``convert.variants``) gives the defaults. ``convert`` and
``parity`` here are what ``sparse-edge convert`` and ``sparse-edge parity`` call.
"""

from __future__ import annotations

from pathlib import Path

from convert.variants import EDGE, LANGUAGE_MODEL, MEDIAPIPE, default_names, parse, variant
from training.saved import LANGUAGE_MODEL as LM_KIND
from training.saved import ModelFolder

TARGETS = (EDGE, MEDIAPIPE)   # what --target takes (a language model is converted for the edge target)


def convert(model_dir: str | Path, target: str = EDGE, variants: str | list[str] | None = None,
            out_dir: str | Path | None = None, length: int | None = None, data_dir: str | None = None,
            manual_dir: str | None = None, calibration_reviews: int = 64, quantize_all: bool = False,
            progress: bool = True, longest: int | None = None) -> dict[str, Path]:
    """Convert ``model_dir`` for ``target``; return variant -> written file.

    ``variants`` None: the table's defaults for what the folder is (a language model: its own).
    Raises ValueError for a request that does not fit the folder (named, with the fix).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    if length is not None and target != MEDIAPIPE:
        raise ValueError("--length is for --target mediapipe (the edge files hold every length the model has)")
    if longest is not None and target != EDGE:
        raise ValueError("--longest is for --target edge (a MediaPipe file takes one length: --length)")
    if isinstance(variants, str):   # a misspelt name is named before the folder is read
        for name in filter(None, (v.strip() for v in variants.split(","))):
            variant(name)
    folder = ModelFolder(model_dir)
    if target == MEDIAPIPE:
        from convert.mediapipe_export import convert_for_mediapipe

        names = parse(variants, MEDIAPIPE) if variants else default_names(MEDIAPIPE)
        return convert_for_mediapipe(folder.path, names, length, out_dir, data_dir, manual_dir, progress=progress,
                                     calibration_reviews=calibration_reviews, quantize_all=quantize_all)
    if folder.kind == LM_KIND:
        from convert.lm import convert_lm_dir

        names = parse(variants, LANGUAGE_MODEL) if variants else default_names(LANGUAGE_MODEL)
        return convert_lm_dir(folder.path, names, out_dir)
    from convert.export import convert_model_dir

    names = parse(variants, EDGE) if variants else default_names(EDGE)
    return convert_model_dir(folder.path, names, out_dir, data_dir, manual_dir, calibration_reviews,
                             float_nodes=[] if quantize_all else None, progress=progress, longest=longest)


def parity(model_dir: str | Path, target: str = EDGE, variants: str | list[str] | None = None,
           split: str = "test", limit: int | None = None, recheck: bool = False, mediapipe: str | None = None,
           tflite_dir: str | Path | None = None, out_dir: str | Path | None = None, data_dir: str | None = None,
           manual_dir: str | None = None, data=None, progress: bool = True) -> dict:
    """The parity report of ``model_dir``'s files for ``target`` (``convert.parity`` or, for MediaPipe,
    ``convert.mediapipe_parity``); ``report["passed"]`` says whether every threshold held."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    if target == MEDIAPIPE:
        from convert.mediapipe_parity import run_mediapipe_parity

        if recheck:
            raise ValueError("--recheck judges the edge files' parity.json; it is not for --target mediapipe")
        names = parse(variants, MEDIAPIPE) if variants else None
        return run_mediapipe_parity(model_dir, names, limit, data_dir, manual_dir, progress=progress,
                                    out_dir=out_dir, mediapipe=mediapipe, files_dir=tflite_dir)
    if mediapipe:
        raise ValueError("--mediapipe is for --target mediapipe")
    from convert import parity as edge_parity

    if ModelFolder(model_dir).kind == LM_KIND:   # perplexity on its held-out reviews, file against Keras
        from convert.lm_parity import run_lm_parity

        if recheck or split != "test" or tflite_dir or data is not None:
            raise ValueError("a language model's parity is its held-out perplexity; --recheck, --split, --tflite-dir "
                             "and --data are for classifiers")
        return run_lm_parity(model_dir, parse(variants, LANGUAGE_MODEL) if variants else None, limit, data_dir,
                             progress=progress, out_dir=out_dir)
    if recheck:
        return edge_parity.recheck(model_dir)
    names = parse(variants, EDGE) if variants else None
    return edge_parity.run_parity(model_dir, split, names, limit, data_dir, manual_dir, progress=progress,
                                  tflite_dir=tflite_dir, out_dir=out_dir, data=data)


def parity_summary(report: dict) -> tuple[dict, str | None]:
    """What ``sparse-edge parity`` prints of a report, and the failure line (None: every threshold held)."""
    if "keras" in report:   # a language model: perplexity of each file against Keras
        failed = "; ".join(f"{v}: {', '.join(f)}" for v, f in report["failures"].items())
        return ({"reviews": report["reviews"], "tokens": report["tokens"], "keras": report["keras"]["perplexity"],
                 "variants": {v: {k: row[k] for k in ("perplexity", "ratio_to_keras", "size_bytes")}
                              for v, row in report["variants"].items()}},
                f"parity thresholds missed: {failed}" if failed else None)
    if "failures" not in report:   # MediaPipe against edge_runtime
        missed = [v for v, row in report["variants"].items() if not row["met"]]
        return ({"n": report["n"], "variants": report["variants"]},
                f"the MediaPipe parity goal was missed for {', '.join(missed)}: see its parity.md" if missed else None)
    keys = ("accuracy", "delta_accuracy_pp", "agreement", "max_abs_prob_diff", "size_bytes", "latency_ms_p50")
    summary = {"n": report["n"], "reference_accuracy": report["reference"]["accuracy"],
               "variants": {v: {k: row[k] for k in keys} for v, row in report["variants"].items()},
               "failures": report["failures"]}
    failed = "; ".join(f"{v}: {', '.join(f)}" for v, f in report["failures"].items())
    return summary, (f"parity thresholds missed: {failed}" if failed else None)
