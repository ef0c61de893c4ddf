"""Checkpoints of a training run: every variable, the optimizer's state and progress, written whole or not at all.

A run killed at any moment (a session cut off, Ctrl-C, a power cut) leaves the previous checkpoint
complete: the new one is written to ``<name>.tmp`` and renamed into place. Every model variable is
kept (the dropout generators' states too), so a resumed run draws the same masks an uninterrupted
one would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from training.files import write_json_atomic


def save_checkpoint(directory: Path, model_variables, optimizer_variables, state: dict) -> None:
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez(tmp / "variables.npz", *[v.numpy() for v in model_variables])
    np.savez(tmp / "optimizer.npz", *[v.numpy() for v in optimizer_variables])
    write_json_atomic(tmp / "state.json", state)
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def _assign_all(variables, path: Path, what: str) -> None:
    with np.load(path) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if len(values) != len(variables):
        raise ValueError(f"{what} state does not match the model")
    for variable, value in zip(variables, values):
        variable.assign(value)


def load_checkpoint(directory: Path, model, optimizer_variables) -> dict:
    """Restore ``model`` and the optimizer from ``directory``; its progress state. A ValueError names
    a damaged checkpoint or one from another model."""
    try:
        state = json.loads((directory / "state.json").read_text())
        if (directory / "variables.npz").exists():
            _assign_all(model.variables, directory / "variables.npz", "model")
        else:   # checkpoints written before the dropout generators were kept
            model.load_weights(directory / "model.weights.h5")
        _assign_all(optimizer_variables, directory / "optimizer.npz", "optimizer")
        return state
    except Exception as error:  # noqa: BLE001 - any failure means the checkpoint is unusable
        raise ValueError(f"checkpoint {directory} is corrupt or from another model ({error}); "
                         "delete it or train without --resume") from error
