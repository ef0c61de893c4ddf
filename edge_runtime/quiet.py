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

VERBOSE_ENV = "SPARSE_EDGE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to descriptor 2 to /dev/null inside the block."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):   # no real descriptor (a test runner's capture)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
