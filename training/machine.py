"""Where a measurement was taken: written into every metrics and benchmark JSON.

Training time and quantized outputs depend on the CPU, not only on the number of cores: two
2-core hosts of this project trained the same epoch in 1,010 s and 1,993 s (the log.csv files of
artifacts/imdb-classifier and artifacts/tried/distilled-from-scratch), and XNNPACK picks its
kernels by instruction set (artifacts/bench/kernels.json). So each record names the CPU model
and the vector extensions.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

VECTOR_EXTENSIONS = ("avx2", "fma", "avx512f", "avx512vnni", "avx_vnni", "amx_tile", "asimd", "asimddp")


def cpu_description() -> dict:
    """The CPU's model name and the vector extensions it has (read from /proc/cpuinfo; else empty)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": platform.processor(), "extensions": []}
    fields = {}
    for line in info.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())   # the first processor's entries
    flags = set(fields.get("flags", fields.get("Features", "")).split())
    return {"cpu": fields.get("model name", platform.processor()),
            "extensions": [flag for flag in VECTOR_EXTENSIONS if flag in flags]}


def describe_machine() -> dict:
    """Platform, core count, CPU model and extensions, Python version."""
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            **cpu_description(), "python": platform.python_version()}
