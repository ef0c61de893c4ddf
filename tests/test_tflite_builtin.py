"""Every pattern converts with BUILTIN ops only and runs on ai-edge-litert like the Keras model."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from convert.tflite import convert_keras_model, op_names
from model.config import TransformerConfig
from model.patterns import PATTERNS, AttentionPattern
from model.transformer import SparseTransformerClassifier, SparseTransformerLM

SEQ = 44  # 6 blocks of 8 with internal padding


def small_config(name, causal):
    pattern = AttentionPattern(name, block_size=8, window=3, stride=2, num_global=1, num_random=1,
                               causal=causal)
    return TransformerConfig(vocab_size=64, max_length=64, d_model=16, num_heads=2, num_layers=2,
                             d_ff=32, dropout=0.0, pattern=pattern)


def run_tflite(flatbuffer, ids):
    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.int32 and tuple(inp["shape"]) == (1, SEQ)
    interpreter.set_tensor(inp["index"], ids)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


@pytest.mark.parametrize("causal", [False, True], ids=["classifier", "causal-lm"])
@pytest.mark.parametrize("name", PATTERNS)
def test_pattern_converts_to_builtin_ops_and_matches_keras(name, causal):
    config = small_config(name, causal)
    model = (SparseTransformerLM if causal else SparseTransformerClassifier)(config)
    ids = np.random.default_rng(0).integers(1, 64, size=(1, SEQ)).astype(np.int32)
    ids[0, 30:] = 0  # a padded review
    expected = model(ids).numpy()
    flatbuffer = convert_keras_model(model, SEQ)
    ops = op_names(flatbuffer)
    assert not {op for op in ops if op.startswith("Flex") or op == "CUSTOM"}, ops
    assert "GATHER" in ops and "BATCH_MATMUL" in ops
    np.testing.assert_allclose(run_tflite(flatbuffer, ids), expected, atol=1e-4)
