"""The whole story in one run: labelled text -> vocabulary -> sparse Transformer -> .tflite -> parity -> edge.

``sparse-edge pipeline --preset quick|full|small [--data SOURCE] --out DIR`` calls the same functions as the single
commands (``train``, ``convert``, ``parity``, ``predict``), in order, and keeps a record of each
finished stage in ``DIR/pipeline.json``: the stage's *fingerprint* (a hash of its settings and of
the fingerprints of the stages it reads from) and the files it wrote. A stage whose fingerprint
matches and whose files exist is skipped, so a second run, or a run after a failure, picks up
where the last one stopped; ``--force`` redoes everything.

The presets are in ``sparse_edge/presets.py``, the stages in ``sparse_edge/stages.py``, the run
folder's files in ``sparse_edge/run_folder.py`` and the summary in ``sparse_edge/pipeline_summary.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from edge_runtime.tokenizer import TOKENIZERS
from sparse_edge.pipeline_summary import build_summary, summary_markdown  # noqa: F401 - the pipeline's API
from sparse_edge.presets import IMDB_ONLY, PRESETS, REPO, Preset, default_preset  # noqa: F401
from sparse_edge.run_folder import Run, RunFolder, StageFailed
from sparse_edge.stages import (STAGES, fingerprint, hybrid_stage, lm_stage, save_record,  # noqa: F401
                                stages_for, train_stage, vocab_stage)


def run_pipeline(preset_name: str | None, out: str | Path, data_dir: str | None = None, manual_dir: str | None = None,
                 force: bool = False, progress: bool = True, echo: Callable[[str], None] = print,
                 presets: dict[str, Preset] | None = None, seed: int | None = None, data=None,
                 vocab_size: int | None = None, lowercase: bool | None = None,
                 strip_accents: bool | None = None, tokenizer: str | None = None) -> dict:
    """Run every stage not already done; return the summary (``DIR/summary.json``).

    ``data`` is a ``training.sources.DataSpec`` (None: IMDB); ``preset_name`` None picks
    ``default_preset(data)``.

    Raises:
        StageFailed: a stage failed; its message names the stage and the reason. Outputs of the
            stages before it are left as they were.
        training.data.DatasetMissing: IMDB is not available (raised by the first stage, at once).
        training.sources.DataError: the data cannot be used (raised before any stage runs).
    """
    from training.data import DatasetMissing

    presets = presets or PRESETS
    if data is not None:   # later stages read the folder's data.json and need to know where TFDS data is
        data_dir, manual_dir = data_dir or data.data_dir, manual_dir or data.manual_dir
    preset_name = preset_name or default_preset(data)
    if preset_name not in presets:
        raise ValueError(f"unknown preset {preset_name!r}; choose one of {', '.join(presets)}")
    if preset_name in IMDB_ONLY and data is not None and not data.is_imdb:
        raise ValueError(f"the {preset_name} preset rebuilds the shipped IMDB classifier; for {data.source} use "
                         "--preset small (a few thousand rows) or quick")
    preset = presets[preset_name]
    if tokenizer and TOKENIZERS[tokenizer].rules is None and (preset.vocab_file or preset.lm_config or preset.hybrid_config):
        raise ValueError(f"the {preset_name} preset is built on a WordPiece vocabulary (its language model and "
                         "n-gram half read word pieces); use --preset quick or small with --tokenizer bytes")
    from training.sources import DataSpec, open_data

    source = open_data(data or DataSpec("imdb", data_dir=data_dir, manual_dir=manual_dir))   # bad data stops here
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = RunFolder(out).record_path
    record = json.loads(record_path.read_text()) if record_path.exists() and not force else {}
    if record.get("preset") not in (None, preset_name):
        echo(f"{out} holds a '{record['preset']}' run; stages are redone for '{preset_name}'")
    record.update(preset=preset_name, stages=record.get("stages", {}))
    run = Run(out, presets[preset_name], data_dir, manual_dir, progress, echo, record, seed=seed, data=data,
              vocab_size=vocab_size, tokenizer_changes={"lowercase": lowercase, "strip_accents": strip_accents,
                                                       "tokenizer": tokenizer},
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
        save_record(run)
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
        save_record(run)
    record["seconds_last_run"] = round(time.time() - started, 1)
    save_record(run)
    return json.loads(RunFolder(out).summary_path.read_text())


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
