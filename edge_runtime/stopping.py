"""Stopping the command line cleanly: Ctrl-C (SIGINT) and SIGTERM, at any moment.

Python turns SIGINT into ``KeyboardInterrupt`` in the main thread; ``stop_on_sigterm()`` makes
SIGTERM raise :class:`Terminated`, a ``KeyboardInterrupt``, so one ``except`` stops both the same
way: no traceback, one line on stderr, exit 130 (SIGINT) or 143 (SIGTERM), as shells report a
process the signal ended. It is installed before anything heavy is imported, so a signal during
start-up ends quietly too.

``release_stdout()`` is what the stop does with standard output: every result line was written by
one flush (a line up to 4,096 bytes reaches a pipe whole or not at all), so what is in the buffer
is at most one whole line. It is flushed if the reader takes it at once; if the pipe is full or
closed, it is dropped and standard output pointed at /dev/null, so that exiting cannot block on a
reader that has stopped reading.

Example:
    >>> exit_code(Terminated()), exit_code(KeyboardInterrupt())
    (143, 130)
"""

from __future__ import annotations

import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as Ctrl-C does."""


def _raise_terminated(signum, frame):
    raise Terminated()


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` in the main thread."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_code(error: BaseException) -> int:
    return 143 if isinstance(error, Terminated) else 130


def message(error: BaseException) -> str:
    return "error: terminated" if isinstance(error, Terminated) else "error: interrupted"


def release_stdout() -> None:
    """Flush standard output without waiting for its reader; drop what it will not take now."""
    try:
        fd = sys.stdout.fileno()
        os.set_blocking(fd, False)
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):   # full or closed pipe, no descriptor, closed file
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass


def stop(error: BaseException) -> None:
    """The end of a stopped command: standard output released, one line on stderr, the signal's exit code."""
    from edge_runtime.quiet import restore_stderr

    release_stdout()
    restore_stderr()   # a thread building its interpreter may have it pointed at /dev/null
    sys.stderr.write(message(error) + "\n")
    sys.stderr.flush()
    sys.exit(exit_code(error))
