"""Atomic writes: a crash, Ctrl-C or full disk never leaves half a file behind.

Every file the project writes goes through here: the bytes go to a temporary file beside the
target, which is renamed over it only once complete (a rename within a folder is atomic on
POSIX). ``atomic_path`` serves writers that want a path rather than bytes (Keras, matplotlib,
numpy).

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report.json"
    >>> write_json_atomic(target, {"accuracy": 0.9})
    >>> target.read_text()
    '{\\n  "accuracy": 0.9\\n}\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    ``suffix`` keeps writers that choose a format by file ending happy (``.keras``, ``.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)   # mkstemp makes 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data) -> None:
    """Write ``data`` as indented JSON (a trailing newline) through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def save_keras_atomic(model, path: str | os.PathLike) -> None:
    """``model.save`` to a temporary ``.keras`` file, then rename it into place."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def check_writable(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and prove a file can be written there, or raise a clear ValueError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe."):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to {folder} ({error.strerror}); choose a writable --out folder") from None
