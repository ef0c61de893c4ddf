"""A language-model folder of configs/imdb-lm-sinks.json with untrained weights, converted (float32, dynamic).

What a step costs does not depend on the weights, so the decoder's speed can be measured before the
model is trained: .venv/bin/python scripts/experiments/untrained_lm.py runs/untrained-sinks, then
sparse-edge bench decode --model-dir runs/untrained-sinks --positions 64,1024,2048 --json runs/bench/decode-untrained.json
"""
import json
import shutil
import sys

from convert.lm import convert_lm_dir
from training.files import save_keras_atomic, write_json_atomic
from training.saved import LANGUAGE_MODEL, ModelFolder
from training.train_lm import LMConfig
from model.transformer import SparseTransformerLM

config = LMConfig.from_dict(json.load(open("configs/imdb-lm-sinks.json")))
folder = ModelFolder(sys.argv[1])
folder.path.mkdir(parents=True, exist_ok=True)
model = SparseTransformerLM(config.model)
model.build(None)
save_keras_atomic(model, folder.model_path)
shutil.copyfile("artifacts/imdb-classifier/vocab.txt", folder.vocab_path)
folder.write_config(LANGUAGE_MODEL, config.model, labels=[])
write_json_atomic(folder.train_config_path, config.to_dict())
print(convert_lm_dir(folder.path, ["float32", "dynamic"]))
