"""The device side of sparse-edge: numpy, a TFLite interpreter and the project's tokenizer.

Never imports TensorFlow, ``model`` or ``convert`` (a test checks it in a virtual environment
without TensorFlow). ``from edge_runtime import TextClassifier`` is the whole API.
"""

from edge_runtime.bundle import BundleError
from edge_runtime.classifier import Classification, TextClassifier

__all__ = ["BundleError", "Classification", "TextClassifier"]
