"""Every metrics and benchmark record says which CPU it was measured on."""

import os

from training.machine import VECTOR_EXTENSIONS, describe_machine
from sparse_edge.reports.tables import machine_line as _machine


def test_the_machine_record_names_the_cpu_and_its_vector_extensions():
    machine = describe_machine()
    assert machine["cpus"] == os.cpu_count()
    assert isinstance(machine["cpu"], str)
    assert set(machine["extensions"]) <= set(VECTOR_EXTENSIONS)
    if os.path.exists("/proc/cpuinfo") and machine["machine"] == "x86_64":
        assert machine["cpu"], "model name missing from /proc/cpuinfo"


def test_reports_name_the_cpu_where_the_record_has_one():
    old = {"platform": "Linux-x", "cpus": 2}
    assert _machine(old) == "Linux-x, 2 CPUs"
    assert _machine({**old, "cpu": "AMD EPYC", "extensions": ["avx2", "fma"]}) == "Linux-x, 2 CPUs (AMD EPYC: avx2, fma)"
