"""How far a quantized file's output may move when only the machine changes: one place for every test.

XNNPACK picks its kernels by instruction set (AVX2, AVX-512, NEON), and tflite-runtime 2.14 has
older kernels than ai-edge-litert; quantized files round activations while they run, so another
CPU or runtime can move an output by a rounding step. ``sparse-edge bench kernels`` measures the
largest move when only the kernels change, over 1,000 test reviews of the shipped files
(artifacts/bench/kernels.json). A recorded probability is reproduced when today's is within twice
that (and at least 1e-6); a recorded label may differ only where the recorded probability was
that close to the decision boundary. The files themselves are pinned by SHA-256 elsewhere.

The runtimes the tests install into fresh virtual environments are pinned here too (``RUNTIMES``),
so that the next release of an interpreter changes these tests only when someone moves a pin.
"""

import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORD_KERNELS = REPO / "artifacts" / "bench" / "kernels.json"          # the shipped classifier's files
BYTE_KERNELS = REPO / "artifacts" / "lra-text" / "kernels.json"       # the byte model's


def kernel_spread(kernels: Path = WORD_KERNELS) -> dict[str, float]:
    """``{variant: largest |Δp| measured when only the kernels change}`` from a ``bench kernels`` JSON."""
    return {v: row["max_abs_prob_diff"] for v, row in json.loads(kernels.read_text())["variants"].items()}


def within(variant: str, kernels: Path = WORD_KERNELS) -> float:
    """The largest |Δp| from a recorded probability that still counts as the same answer."""
    return max(1e-6, 2 * kernel_spread(kernels)[variant])


def same_answer(variant: str, recorded: list[float], now: list[float], kernels: Path = WORD_KERNELS) -> bool:
    """Every probability within ``within(variant)`` of the recorded one. The label then follows: it can
    only change where the recorded top two were within twice the tolerance, which the kernels may flip."""
    tolerance = within(variant, kernels)
    return len(recorded) == len(now) and all(abs(a - b) <= tolerance for a, b in zip(recorded, now))


def assert_close_and_deciding(got, expected, atol: float, what: str = "") -> None:
    """``got`` within ``atol`` of ``expected`` (probabilities, one row per input), where ``expected`` is spread
    enough that no constant output could pass: if one constant were within ``atol`` of every row, each label's
    probabilities would span at most 2 x ``atol``. So a barely trained model whose answers all sit near 0.5, or a
    file that collapsed to 0.5/0.5, fails here instead of passing a loose tolerance."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_allclose(got, expected, atol=atol, err_msg=what)
    span = float(np.ptp(expected, axis=0).max())
    assert span > 2 * atol, (f"{what}: the reference answers span only {span:.4f}, so a tolerance of {atol} cannot "
                             "tell them from a constant; use inputs the model tells apart, or a smaller tolerance "
                             f"(the largest difference measured: {float(np.abs(got - expected).max()):.2e})")


def assert_close_and_ordered(got, expected, atol: float, margin: float, what: str = "") -> None:
    """For a barely trained model whose answers sit close together: ``got`` within ``atol`` of ``expected``, and every
    two inputs whose expected P(last label) differ by more than ``margin`` keep their order. A constant output (a
    collapse to 0.5/0.5) orders nothing, so it fails; at least one such pair must exist."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_allclose(got, expected, atol=atol, err_msg=what)
    pairs = [(i, j) for i in range(len(expected)) for j in range(i + 1, len(expected))
             if abs(expected[i, -1] - expected[j, -1]) > margin]
    assert pairs, f"{what}: no two answers differ by more than {margin}; use inputs the model tells apart"
    for i, j in pairs:
        assert np.sign(got[i, -1] - got[j, -1]) == np.sign(expected[i, -1] - expected[j, -1]), (what, i, j, got, expected)


# the extra a test venv installs -> {package: version} it must get; tests/test_edge_venv.py passes
# them to pip as constraints and checks what was installed
RUNTIMES = {
    "edge": {"ai-edge-litert": "2.3.0", "numpy": "2.4.6"},
    "edge-legacy": {"tflite-runtime": "2.14.0", "numpy": "1.26.4"},
}


def constraints(extra: str, folder: Path) -> Path:
    """A pip constraints file holding ``RUNTIMES[extra]``, written in ``folder``."""
    path = folder / f"constraints-{extra}.txt"
    path.write_text("".join(f"{name}=={version}\n" for name, version in RUNTIMES[extra].items()))
    return path
