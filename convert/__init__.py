"""A trained model folder -> ``.tflite`` files of BUILTIN ops, and what conversion cost.

``variants.py`` is the one table of variants and every parity threshold; ``targets.py`` picks the
converter for a folder and a target (edge, MediaPipe, language model); ``parity.py`` and
``mediapipe_parity.py`` measure the files against the Keras model and MediaPipe against
``edge_runtime``; ``web_page.py`` serves the MediaPipe file in the browser page. Imports
``training``, ``model`` and ``edge_runtime`` below it, never ``sparse_edge``.
"""
