"""Native libraries' start-up chatter off: TensorFlow's CUDA probe, absl's pre-init warning, XNNPACK's INFO line.

These lines are written by C++ straight to file descriptor 2, before (or beside) any Python
logging, so no Python setting silences them. ``native_stderr_silenced()`` points descriptor 2 at
/dev/null for the few calls that print them (importing TensorFlow, building an interpreter) and
restores it afterwards; Python's own ``sys.stderr`` messages and tracebacks are unaffected
outside those calls. ``SPARSE_EDGE_VERBOSE=1`` (``--verbose``) turns the silencing off. Importing TensorFlow
quietly lives with the commands that need it (``sparse_edge/commands/common.py``): this
package never imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

VERBOSE_ENV = "SPARSE_EDGE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


_silencing = threading.Lock()
_silenced = {"depth": 0, "saved": None}   # descriptor 2 is the process's: one redirect, however many threads


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to descriptor 2 to /dev/null inside the block.

    Threads may overlap (each builds its own interpreter): the first to enter redirects, the
    last to leave restores, so stderr always comes back (two nested saves would restore /dev/null).
    """
    if verbose():
        yield
        return
    with _silencing:
        if _silenced["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError, AttributeError):   # no real descriptor (a test runner's capture)
                saved = None
            if saved is not None:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
            _silenced["saved"] = saved
        _silenced["depth"] += 1
    try:
        yield
    finally:
        with _silencing:
            _silenced["depth"] -= 1
            if _silenced["depth"] == 0:
                _restore()


def _restore() -> None:
    """Descriptor 2 back from the saved copy, if any (hold ``_silencing``)."""
    if _silenced["saved"] is not None:
        os.dup2(_silenced["saved"], 2)
        os.close(_silenced["saved"])
        _silenced["saved"] = None


def restore_stderr() -> None:
    """Descriptor 2 back now, even inside a silenced block (a stopping command's last line must be seen)."""
    with _silencing:
        _restore()
