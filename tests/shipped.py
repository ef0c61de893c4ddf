"""The IMDB classifier's ``.tflite`` files that artifacts/ ships: the ones users run on a device.

float32 and float16 are not committed (artifacts/ stays under 40 MB); ``sparse-edge convert
artifacts/imdb-classifier --variants float32,float16 --out DIR`` rebuilds them from the shipped
``model.keras`` (README, "What artifacts/ holds"). Their parity rows stay in parity.json.
"""

SHIPPED_VARIANTS = ("dynamic", "int8")
