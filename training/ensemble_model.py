"""The ensemble as one Keras model: several classifiers reading the same ids, their probabilities averaged.

``training/ensemble.py`` builds it from trained folders (``sparse-edge ensemble``); conversion, parity, the
device runtime and the demo use it like any classifier. Its registered Keras name
(``sparse_edge>SparseTransformerEnsemble``) is the one shipped files carry.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from model.config import TransformerConfig
from model.transformer import SparseTransformerClassifier, register


@register
class SparseTransformerEnsemble(keras.Model):
    """Token ids (B, n) -> the average of several classifiers' probabilities (B, num_classes).

    Classifiers that learned differently (one fine-tuned from the language model, one trained
    from scratch) make different mistakes; averaging their probabilities cancels some of them.
    The members read the same token ids, so they share the vocabulary, ``max_length``, the
    block size (the input lengths) and the classes; their patterns and sizes may differ.
    ``config`` is the first member's: what batching, conversion and the device read.

    Example:
        >>> from model.patterns import AttentionPattern
        >>> from model.config import TransformerConfig
        >>> c = TransformerConfig(vocab_size=50, max_length=32, d_model=16, num_heads=2,
        ...                       pattern=AttentionPattern("bigbird", block_size=8, window=3))
        >>> SparseTransformerEnsemble([c, c])(tf.ones([3, 20], tf.int32)).shape
        TensorShape([3, 2])
    """

    @staticmethod
    def inputs(c: TransformerConfig) -> dict:
        """What a member's input and output look like; every member must agree on it."""
        return {"vocab_size": c.vocab_size, "max_length": c.max_length, "num_classes": c.num_classes,
                "pad_id": c.pad_id, "block_size": c.pattern.block_size}

    def __init__(self, configs: list, **kwargs):
        super().__init__(**kwargs)
        configs = [c if isinstance(c, TransformerConfig) else TransformerConfig.from_dict(c) for c in configs]
        if len(configs) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(configs)}")
        first = configs[0]
        for i, c in enumerate(configs[1:], start=2):
            for field, value in self.inputs(c).items():
                if value != self.inputs(first)[field]:
                    raise ValueError(f"member {i} has {field}={value} but member 1 has "
                                     f"{self.inputs(first)[field]}; members must read the same inputs")
        self.config = first
        self.members = [SparseTransformerClassifier(c, name=f"member_{i}") for i, c in enumerate(configs)]

    def build(self, input_shape=None):
        for member in self.members:
            member.build(None)
        self.built = True

    def call(self, token_ids, training=None):
        probs = [member(token_ids, training=training) for member in self.members]   # each (B, C)
        return tf.add_n(probs) / float(len(probs))

    def get_config(self):
        return {"configs": [m.config.to_dict() for m in self.members], "name": self.name}
