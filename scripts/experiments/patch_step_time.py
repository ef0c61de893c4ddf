"""Training-step time of byte-level model shapes: median of 5 XLA steps of 8 random 4,096-byte documents.

Run: .venv/bin/python scripts/experiments/patch_step_time.py base p4_d256_L4 p4_d256_L2 p2_d192_L3
(docs/experiments.md, "Patches of bytes"). Prints one JSON line per shape: microseconds a byte, parameters.
"""
import sys, time, json, numpy as np, tensorflow as tf, keras
from model.config import TransformerConfig
from model.transformer import SparseTransformerClassifier
def run(name, n=4096, batch=8, **kw):
    base = dict(vocab_size=261, max_length=4096, d_model=128, num_heads=4, num_layers=2, d_ff=256,
                positional="conv", pooling="mean_max", pattern={"name":"local","block_size":64,"window":3})
    base.update(kw)
    c = TransformerConfig.from_dict(base)
    m = SparseTransformerClassifier(c); m.build(None)
    opt = keras.optimizers.AdamW(1e-3); opt.build(m.trainable_variables)
    x = tf.constant(np.random.randint(5, 261, (batch, n)), tf.int32); y = tf.constant(np.zeros(batch), tf.int32)
    @tf.function(jit_compile=True)
    def step(x, y):
        with tf.GradientTape() as t:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, m.logits(x, training=True), from_logits=True))
        g = t.gradient(loss, m.trainable_variables); opt.apply_gradients(zip(g, m.trainable_variables)); return loss
    step(x, y); step(x, y)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); step(x, y).numpy(); ts.append(time.perf_counter() - t0)
    med = float(np.median(ts))
    params = sum(int(np.prod(v.shape)) for v in m.trainable_variables)
    print(json.dumps(dict(name=name, us_per_byte=round(med / (batch * n) * 1e6, 1), params=params, **kw)), flush=True)
configs = {
 "base": {},
 "p4_d256_L4": dict(patch=4, d_model=256, num_layers=4, d_ff=512, num_heads=4, pattern={"name":"local","block_size":32,"window":3}),
 "p4_d256_L2": dict(patch=4, d_model=256, num_layers=2, d_ff=512, num_heads=4, pattern={"name":"local","block_size":32,"window":3}),
 "p2_d192_L3": dict(patch=2, d_model=192, num_layers=3, d_ff=384, num_heads=4, pattern={"name":"local","block_size":32,"window":3}),
 "p4_d256_L6": dict(patch=4, d_model=256, num_layers=6, d_ff=512, num_heads=4, pattern={"name":"local","block_size":32,"window":3}),
}
for k in sys.argv[1:]:
    run(k, **configs[k])
