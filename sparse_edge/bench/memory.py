"""Benchmark children, and what a process holds: its resident memory now, and its own peak.

The peak is the kernel's high-water mark of this process's own memory (``VmHWM`` in
/proc/self/status), not ``getrusage().ru_maxrss``: on Linux ``ru_maxrss`` survives ``exec``, so a
benchmark child started by a parent that holds 800 MB (TensorFlow, a converted model) reports
at least 800 MB whatever it does itself (measured: ru_maxrss 813 MB, VmHWM 13 MB for an empty
child of such a parent). Elsewhere (no /proc) ``ru_maxrss`` is the best there is.
"""

from __future__ import annotations


def _status(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Resident memory now, MB (NaN where /proc is missing)."""
    value = _status("VmRSS")
    return float("nan") if value is None else value


def peak_rss_mb() -> float:
    """This process's own peak resident memory, MB."""
    value = _status("VmHWM")
    if value is not None:
        return value
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def run_child(module: str, args: list[str]) -> dict:
    """Run ``python -m module args`` (a benchmark's worker, in a fresh process whose memory is its own) and
    return the JSON object it prints last; a RuntimeError carries its last line of stderr."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the timing process failed: {(result.stderr.strip().splitlines() or [''])[-1]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
