"""Experiment: fine-tune the shipped classifier as a residual on top of out-of-fold NB-LR logits."""
import sys, time, json
import numpy as np, tensorflow as tf, keras
from pathlib import Path
from edge_runtime.tokenizer import WordPieceTokenizer
from training.data import load_imdb, tokenize_cached, train_validation_split
from training.batching import make_batches
import sys; sys.path.insert(0, "scripts/experiments")
from plain_hashing import NgramHashing, NbLogisticRegression
import model.transformer
args = json.loads(sys.argv[1])
out = Path(args["out"]); out.mkdir(parents=True, exist_ok=True)
d = Path("artifacts/imdb-transformer")   # the distilled Transformer, shipped alone before the hybrid
import sys; sys.path.insert(0, "scripts/experiments")
from common import imdb_split
tok, tr, va, test, S = imdb_split()
hashing = NgramHashing(len(tok), **args["hashing"])
t0 = time.time()
oof = np.zeros(len(tr), np.float32)
folds = np.random.default_rng(0).permutation(len(tr)) % args.get("folds", 5)
for k in range(args.get("folds", 5)):
    fit = [S["train"][i] for i in np.flatnonzero(folds != k)]
    m = NbLogisticRegression(hashing, args.get("C", 0.1)).fit(fit, tr.labels[folds != k])
    oof[folds == k] = m.logits([S["train"][i] for i in np.flatnonzero(folds == k)])
full = NbLogisticRegression(hashing, args.get("C", 0.1)).fit(S["train"], tr.labels)
wide = {"train": oof, "validation": full.logits(S["validation"]), "test": full.logits(S["test"])}
print(f"wide: oof acc {((oof>0)==tr.labels).mean():.4f} val {((wide['validation']>0)==va.labels).mean():.4f} ({time.time()-t0:.0f}s)", flush=True)
np.savez(out / "wide.npz", **wide)

if args.get("init") == "shipped":
    model = keras.models.load_model(d / "model.keras")
else:
    from model.config import TransformerConfig
    from model.transformer import SparseTransformerClassifier
    cfg = json.loads((d / "config.json").read_text())
    model = SparseTransformerClassifier(TransformerConfig.from_dict(cfg)); model.build(None)
    if args.get("init") == "lm":
        from training.pretrain import transfer_from_language_model
        transfer_from_language_model(args["lm"], model, d / "vocab.txt")
mix = tf.Variable([args.get("a", 1.0), args.get("b", 1.0), 0.0], name="mix")
c = model.config
buckets = c.bucket_lengths
rows_labels = np.arange(len(tr)).astype(np.float32)  # carry row ids
epochs = args.get("epochs", 1)
steps = len(make_batches(S["train"], rows_labels, buckets, 16384, 128, np.random.default_rng(0))) * epochs
sched = keras.optimizers.schedules.CosineDecay(args["lr"] * 0.01, max(1, steps - steps // 20), warmup_target=args["lr"], warmup_steps=max(1, steps // 20), alpha=0.02)
opt = keras.optimizers.AdamW(learning_rate=sched, weight_decay=0.05, global_clipnorm=1.0)
opt.exclude_from_weight_decay(var_names=["embedding", "norm", "bias", "mix"])
variables = model.trainable_variables + [mix]
opt.build(variables)
def logit_diff(ids, training):
    p = model(ids, training=training)
    return tf.math.log(p[:, 1] + 1e-9) - tf.math.log(p[:, 0] + 1e-9)
@tf.function(jit_compile=True)
def grads(ids, y, w):
    with tf.GradientTape() as tape:
        z = mix[0] * logit_diff(ids, True) + mix[1] * w + mix[2]
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))
    return loss, tape.gradient(loss, variables)
@tf.function(jit_compile=True)
def fwd(ids):
    return logit_diff(ids, False)
def evaluate(name, labels):
    b = make_batches(S[name], np.arange(len(S[name])).astype(np.float32), buckets, 16384, 128, drop_remainder=False)
    deep = np.zeros(len(S[name]), np.float32)
    for batch in b:
        keep = batch.rows >= 0
        deep[batch.rows[keep]] = fwd(batch.ids).numpy()[keep]
    a_, b_, c_ = mix.numpy()
    z = a_ * deep + b_ * wide[name] + c_
    return float(((z > 0) == labels).mean()), float(((deep > 0) == labels).mean()), deep
acc, dacc, _ = evaluate("validation", va.labels)
print(f"start: val hybrid {acc:.4f} deep {dacc:.4f}", flush=True)
rng = np.random.default_rng(1)
for epoch in range(epochs):
    t = time.time(); seen = tl = 0
    batches = make_batches(S["train"], rows_labels, buckets, 16384, 128, np.random.default_rng(epoch + 10))
    for i, batch in enumerate(batches):
        rows = batch.rows
        ids = batch.ids.copy()
        real = ids > 4
        ids[real & (rng.random(ids.shape) < args.get("token_dropout", 0.1))] = 4
        y = tr.labels[rows].astype(np.float32)
        loss, g = grads(ids, y, wide["train"][rows])
        opt.apply_gradients(zip(g, variables))
        tl += float(loss); seen += 1
        if i % 50 == 0:
            print(f"epoch {epoch} batch {i}/{len(batches)} loss {tl/seen:.4f} mix {mix.numpy()} {time.time()-t:.0f}s", flush=True)
    acc, dacc, _ = evaluate("validation", va.labels)
    print(f"epoch {epoch}: val hybrid {acc:.4f} deep {dacc:.4f} mix {mix.numpy()} ({time.time()-t:.0f}s)", flush=True)
acc, dacc, deep_test = evaluate("test", test.labels)
print(f"TEST hybrid {acc:.4f} deep {dacc:.4f} mix {mix.numpy()}", flush=True)
np.savez(out / "deep_test.npz", deep=deep_test)
model.save(out / "deep.keras")
json.dump({"test_hybrid": acc, "test_deep": dacc, "mix": mix.numpy().tolist(), "args": args}, open(out / "result.json", "w"))
