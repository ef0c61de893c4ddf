"""The suite's own guards: under CI a skip fails the run, also a whole file skipped while collected,
and a test that hangs is stopped."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_suite(tmp_path: Path, test_source: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "tests").mkdir()
    shutil.copyfile(ROOT / "tests" / "conftest.py", tmp_path / "tests" / "conftest.py")
    (tmp_path / "tests" / "test_example.py").write_text(test_source)
    env = {**os.environ, "CI": "true"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "--rootdir", str(tmp_path), str(tmp_path / "tests"), *args],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_a_file_skipped_at_collection_fails_the_run_under_ci(tmp_path):
    result = run_suite(tmp_path, 'import pytest\npytest.importorskip("no_such_module_here")\n\n'
                                 'def test_never_runs():\n    assert False\n')
    assert result.returncode == 1, result.stdout
    assert "no_such_module_here" in result.stdout and "a skip fails the run" in result.stdout


def test_a_hanging_test_is_stopped_by_the_timeout(tmp_path):
    result = run_suite(tmp_path, "import time\n\ndef test_hangs():\n    time.sleep(60)\n", "--timeout", "2")
    assert result.returncode == 1 and "Timeout" in result.stdout, result.stdout


def test_the_suite_itself_runs_under_a_timeout(request):
    """The test above passes --timeout itself; this one fails when pyproject.toml's own timeout is removed."""
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 60 <= float(ini["timeout"]) <= 1800
    assert float(request.config.getini("timeout")) == float(ini["timeout"])


def test_an_expected_failure_is_not_a_skip(tmp_path):
    result = run_suite(tmp_path, "import pytest\n\n@pytest.mark.xfail(strict=True, reason='known')\n"
                                 "def test_known():\n    assert False\n")
    assert result.returncode == 0 and "1 xfailed" in result.stdout and "SKIPPED" not in result.stdout, result.stdout


def test_the_tolerance_for_a_recorded_answer_is_the_measured_kernel_spread_and_no_wider():
    from tests.tolerances import kernel_spread, same_answer, within

    spread = kernel_spread()["int8"]
    assert 0 < spread < 0.05 and within("int8") == 2 * spread and within("float32") >= 1e-6
    recorded = [0.2, 0.8]
    assert same_answer("int8", recorded, [0.2 + 1.9 * spread, 0.8 - 1.9 * spread])
    assert not same_answer("int8", recorded, [0.2 + 2.1 * spread, 0.8 - 2.1 * spread])
    assert not same_answer("float32", recorded, [0.2 + 1e-5, 0.8 - 1e-5])   # float32 is exact to 1e-6
    assert same_answer("int8", [0.5 - spread / 2, 0.5 + spread / 2], [0.5 + spread / 2, 0.5 - spread / 2])
