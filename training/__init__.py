"""Everything around the model that is not the model: data, vocabulary, batching, the training
recipes (classifier, language model, hybrid, masked pretraining, ensembles), the n-gram teacher
and the n-gram half of the hybrid, evaluation, checkpoints and the model folder on disk.

It imports ``model`` (the architecture) and ``edge_runtime`` (the tokenizer and the length rules
shared with the device), never ``convert`` or ``sparse_edge``.
"""
