"""Which TFLite interpreter runs the model: ai-edge-litert, tflite-runtime or TensorFlow's.

``auto`` tries them in that order. TensorFlow is only a last resort (it is 2.4 GB; the edge
runtime never needs it) and is imported only when asked for or when nothing else is installed.
"""

from __future__ import annotations

import importlib

BACKENDS = ("ai_edge_litert", "tflite_runtime", "tensorflow")
INSTALL_HINT = {
    "ai_edge_litert": "pip install ai-edge-litert  (or: pip install 'sparse-edge[edge]')",
    "tflite_runtime": "pip install 'tflite-runtime==2.14.*' 'numpy<2'  (or: pip install 'sparse-edge[edge-legacy]')",
    "tensorflow": "pip install tensorflow",
}
_MODULES = {   # where each backend's Interpreter class is: module, attribute path
    "ai_edge_litert": ("ai_edge_litert.interpreter", "Interpreter"),
    "tflite_runtime": ("tflite_runtime.interpreter", "Interpreter"),
    # not the module tensorflow.lite: that is TensorFlow's source package, without the public API
    "tensorflow": ("tensorflow", "lite.Interpreter"),
}


class BackendMissing(RuntimeError):
    """No TFLite interpreter could be imported; the message says what to install."""


def interpreter_class(backend: str = "auto"):
    """Return ``(Interpreter class, backend name, version)`` for ``backend``."""
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
    errors = []
    for name in BACKENDS if backend == "auto" else (backend,):
        module_name, attribute = _MODULES[name]
        try:
            found = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as error:  # numpy 2 with tflite-runtime 2.14 raises ImportError too
            if _interrupted(error):   # Ctrl-C while importing, seen through a library's own except clause
                raise KeyboardInterrupt from None
            errors.append(f"{name}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
            continue
        return found, name, _version(name)
    if backend == "auto":
        raise BackendMissing("no TFLite interpreter is installed; " + INSTALL_HINT["ai_edge_litert"])
    raise BackendMissing(f"backend {backend} cannot be imported ({errors[0]}); {INSTALL_HINT[backend]}")


def _interrupted(error: BaseException) -> bool:
    """Whether a KeyboardInterrupt is behind ``error`` (its cause or context, however deep)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _version(name: str) -> str:
    from importlib import metadata

    distribution = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime",
                    "tensorflow": "tensorflow"}[name]
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


MAX_THREADS = 64   # far above any edge device's cores; a typo like 1000000 is refused, not attempted


def check_threads(num_threads) -> int:
    """``num_threads`` for an interpreter: an integer from 1 to MAX_THREADS, else a ValueError naming it."""
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or not 1 <= num_threads <= MAX_THREADS:
        raise ValueError(f"num_threads must be an integer from 1 to {MAX_THREADS}, got {num_threads!r}")
    return num_threads
