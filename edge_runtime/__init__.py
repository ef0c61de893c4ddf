"""The device side of sparse-edge: numpy, a TFLite interpreter and the project's tokenizer.

Never imports TensorFlow, ``model``, ``training`` or ``convert`` (a test checks it in a virtual environment
without TensorFlow). ``from edge_runtime import TextClassifier`` is the whole API:
``classify(text)``, ``classify_batch(texts)`` and ``classify_stream(iterable)``.
``python -m edge_runtime`` is the command line (streams files and standard input), and
``python -m edge_runtime serve`` the HTTP service (:mod:`edge_runtime.serve`).

The names below are imported on first use (PEP 562), so ``python -m edge_runtime`` starts
without numpy and can end quietly if Ctrl-C comes while it is still importing.
"""

__all__ = ["BundleError", "Classification", "TextClassifier"]
_HOMES = {"BundleError": "edge_runtime.bundle", "Classification": "edge_runtime.classifier",
          "TextClassifier": "edge_runtime.classifier"}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'edge_runtime' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
