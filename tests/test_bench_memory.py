"""A benchmark child's peak memory is its own, whatever its parent holds."""

import json
import subprocess
import sys


def test_a_child_of_a_large_parent_reports_its_own_peak():
    parent = """
import json, subprocess, sys
held = bytearray(400 * 1024 * 1024)
for i in range(0, len(held), 4096):
    held[i] = 1
child = "import json, resource; from sparse_edge.bench.memory import peak_rss_mb; " \\
        "print(json.dumps([peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
"""
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, check=True, timeout=120)
    own, inherited = json.loads(out.stdout.strip().splitlines()[-1])
    assert own < 100 < 400 <= inherited   # ru_maxrss carries the parent's 400 MB across exec; VmHWM does not
