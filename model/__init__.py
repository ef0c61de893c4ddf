"""The sparse Transformer, and nothing else: read it top to bottom, smallest piece first.

1. ``model/patterns.py``: which key blocks each query block may see. Seven patterns, one small
   function each, chosen by name from ``LAYOUTS``; ``block_layout`` turns one into a gather table.
   Pictures: ``sparse-edge draw`` (docs/attention.md shows them).
2. ``model/attention.py``: block-sparse self-attention: gather the listed key blocks, multiply,
   softmax, weight the values; scores n·k·bs, never n x n.
3. ``model/config.py``: the sizes of a model (``TransformerConfig``), plain data.
4. ``model/transformer.py``: embeddings and positions, the pre-LayerNorm encoder block, the
   classifier (mean-pool, softmax) and the language model (tied output).
5. ``model/decoder.py``: the language model one token at a time with a cache of fixed size
   (attention sinks and a rolling window).

``model/strict.py`` reads a config dict and refuses unknown keys. Everything that trains, reads
data or writes files lives in ``training/``; ``docs/attention.md`` is the guided tour.
"""
