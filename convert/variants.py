"""The ``.tflite`` variants, as data: the one place that knows what each is and how it is judged.

Plain Python (no TensorFlow), so the CLI's defaults and help, the pipeline and the reports read it
without loading TensorFlow. Everything that converts, judges or reports a variant loops over this
table: adding a variant is one ``Variant(...)`` here (``register`` does it at run time, for tests).

Each variant says how the converter is set (``convert.tflite.configure_converter`` reads these
fields and nothing else), whether it needs calibration data, the parity thresholds it must meet
against the Keras model (``convert.parity.check``), its size goal, and the targets that build it.

Example:
    >>> [v.name for v in variants("edge")]
    ['float32', 'float16', 'dynamic', 'int8']
    >>> variant("int8").calibrated
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

EDGE, MEDIAPIPE, LANGUAGE_MODEL = "edge", "mediapipe", "language_model"   # the targets
TARGETS = (EDGE, MEDIAPIPE, LANGUAGE_MODEL)


@dataclass(frozen=True)
class Variant:
    """One kind of ``.tflite`` file.

    Args:
        name: the file's name without ``.tflite`` and what ``--variants`` takes.
        summary: a few words for ``--help`` and tables.
        optimize: the converter's default optimization (quantize what the other fields allow).
        float16_weights: store weights as float16.
        per_tensor_scales: one quantization scale per weight tensor, not per output channel
            (per-channel dynamic-range weights need FULLY_CONNECTED version 12, which
            tflite-runtime 2.14 lacks; per-channel int8 parameters are stored once per signature).
        calibrated: full integer: int8 kernels, activation ranges measured on training reviews
            (a representative dataset), the QuantizationDebugger's flagged ops kept in float.
        thresholds: what parity must find against the Keras model: ``max_abs_delta_pp`` (accuracy),
            ``min_agreement`` (share of equal labels), ``max_abs_prob_diff``.
        max_size_ratio: the file's size at most this share of the reference variant's.
        targets: which conversions build it (``edge``: the multi-length classifier files;
            ``mediapipe``: the MediaPipe Tasks files; ``language_model``: the generator's files).
        default_for: the targets whose ``convert`` builds it when no ``--variants`` is given.
    """

    name: str
    summary: str
    optimize: bool = False
    float16_weights: bool = False
    per_tensor_scales: bool = False
    calibrated: bool = False
    thresholds: dict = field(default_factory=dict)
    max_size_ratio: float | None = None
    targets: tuple = (EDGE,)
    default_for: tuple = (EDGE,)


# How MediaPipe's TextClassifier must agree with edge_runtime on the same MediaPipe file (convert.mediapipe_parity,
# every MediaPipe variant): two runtimes reading one file, so the same labels whatever its quantization.
RUNTIME_THRESHOLDS = {"max_abs_delta_pp": 0.3, "min_agreement": 0.999, "hostile_labels_that_differ": 0}

REFERENCE = "float32"   # the unquantized file: every other is compared with the Keras model and sized against it
FULL_INTEGER = "int8"   # the fully quantized file: the QuantizationDebugger measures its per-op error

_TABLE: dict[str, Variant] = {}


def register(v: Variant) -> Variant:
    """Add (or replace) a variant; the order of registration is the order of every listing."""
    if not v.name.isidentifier():
        raise ValueError(f"a variant name must be a plain word (it names a file), got {v.name!r}")
    unknown = set(v.targets + v.default_for) - set(TARGETS)
    if unknown:
        raise ValueError(f"variant {v.name}: unknown target(s) {sorted(unknown)}; targets are {', '.join(TARGETS)}")
    _TABLE[v.name] = v
    return v


def unregister(name: str) -> None:
    if name == REFERENCE:
        raise ValueError(f"{REFERENCE} is the reference variant; it cannot be removed")
    _TABLE.pop(name, None)


register(Variant(REFERENCE, "float32 weights and activations: the Keras model's numbers",
                 thresholds={"min_agreement": 0.999, "max_abs_prob_diff": 1e-3, "max_perplexity_ratio": 1.001},
                 targets=(EDGE, MEDIAPIPE, LANGUAGE_MODEL), default_for=(EDGE, MEDIAPIPE, LANGUAGE_MODEL)))
register(Variant("float16", "float16 weights", optimize=True, float16_weights=True,
                 thresholds={"max_abs_delta_pp": 0.1}))
register(Variant("dynamic", "int8 weights, float activations", optimize=True, per_tensor_scales=True,
                 thresholds={"max_abs_delta_pp": 0.3, "min_agreement": 0.99, "max_perplexity_ratio": 1.02},
                 max_size_ratio=0.30, targets=(EDGE, MEDIAPIPE, LANGUAGE_MODEL),
                 default_for=(EDGE, MEDIAPIPE, LANGUAGE_MODEL)))
register(Variant("int8", "full integer, calibrated on training reviews", optimize=True, per_tensor_scales=True,
                 calibrated=True, thresholds={"max_abs_delta_pp": 0.3, "min_agreement": 0.985,
                                              "max_perplexity_ratio": 1.05},
                 max_size_ratio=0.30, targets=(EDGE, MEDIAPIPE, LANGUAGE_MODEL)))


def variant(name: str) -> Variant:
    """The variant called ``name``; a ValueError lists the known ones."""
    try:
        return _TABLE[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(_TABLE)}") from None


def variants(target: str | None = None) -> list[Variant]:
    """Every variant, or those a target builds, in the table's order."""
    return [v for v in _TABLE.values() if target is None or target in v.targets]


def names(target: str | None = None) -> list[str]:
    return [v.name for v in variants(target)]


def default_names(target: str = EDGE) -> list[str]:
    """What ``convert`` builds for ``target`` when no ``--variants`` is given."""
    return [v.name for v in _TABLE.values() if target in v.default_for]


def quantized_names(target: str = EDGE) -> list[str]:
    """The variants with integer weights (what the speed benchmarks time)."""
    return [v.name for v in variants(target) if v.optimize and not v.float16_weights]


def calibrated_names(chosen) -> list[str]:
    """Those of ``chosen`` (names) that need calibration data."""
    return [name for name in chosen if variant(name).calibrated]


def parse(text: str | list[str], target: str = EDGE) -> list[str]:
    """``"int8,dynamic"`` or a list -> known names for ``target``, in the table's order."""
    chosen = [v.strip() for v in text.split(",")] if isinstance(text, str) else list(text)
    chosen = [v for v in chosen if v]
    for name in chosen:
        if target not in variant(name).targets:
            raise ValueError(f"variant {name} is not built for {target} files; choose from "
                             f"{', '.join(names(target))}")
    if not chosen:
        raise ValueError(f"no variant given; choose from {', '.join(names(target))}")
    return [name for name in names(target) if name in chosen]


def runtimes_agree(row: dict) -> bool:
    """Whether a MediaPipe parity row (``delta_accuracy_pp``, ``agreement``, ``hostile_labels_that_differ``: the
    hostile texts whose labels differ) meets ``RUNTIME_THRESHOLDS``."""
    t = RUNTIME_THRESHOLDS
    return (abs(row["delta_accuracy_pp"]) <= t["max_abs_delta_pp"] and row["agreement"] >= t["min_agreement"]
            and len(row["hostile_labels_that_differ"]) <= t["hostile_labels_that_differ"])


def thresholds_sentence() -> str:
    """The parity thresholds in words, for reports (generated from the table, so never stale)."""
    parts = []
    for v in _TABLE.values():
        t, said = v.thresholds, []
        if "min_agreement" in t:
            said.append(f"agreement ≥ {t['min_agreement']:.1%}")
        if "max_abs_prob_diff" in t:
            said.append(f"max |Δp| ≤ {t['max_abs_prob_diff']:.0e}".replace("e-0", "e-"))
        if "max_abs_delta_pp" in t:
            said.append(f"|Δacc| ≤ {t['max_abs_delta_pp']} pp")
        if v.max_size_ratio:
            said.append(f"at most {v.max_size_ratio:.0%} of the {REFERENCE} file")
        if said:
            parts.append(f"{v.name} " + " and ".join(said))
    return "; ".join(parts)
