"""The Streamlit demo: classify, generate, see the attention, check parity.

Started by ``sparse-edge demo`` (``streamlit run`` on this file). Models load once per
process (``st.cache_resource``), inputs are bounded, and a page whose model or library is
missing says so in the page while the other pages keep working.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import streamlit as st

from convert.variants import EDGE, FULL_INTEGER, LANGUAGE_MODEL, names
from training.saved import ModelFolder

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("SPARSE_EDGE_ARTIFACTS", ROOT / "artifacts"))   # where the shipped models are
# the classifier's model folder: the shipped IMDB one, or yours (`sparse-edge demo --model-dir DIR`)
CLASSIFIER = Path(os.environ.get("SPARSE_EDGE_CLASSIFIER", ARTIFACTS / "imdb-classifier"))
SHOWN_LABELS = 10   # the most probable labels drawn as bars
LM = ARTIFACTS / "imdb-lm"
MAX_TEXT_CHARS = 20_000
MAX_NEW_TOKENS = 200
PAGES = ["Classify", "Generate", "Attention", "Parity"]
EXAMPLES = {
    "A glowing review": "A wonderful, moving film. The cast is superb and the ending stayed with me for days.",
    "A scathing review": "Dull, predictable and far too long. I checked my watch every ten minutes.",
    "A mixed review": "Some good moments and a strong lead, but the plot falls apart in the second half.",
}


@st.cache_resource
def load_classifier(path: str):
    from edge_runtime import TextClassifier

    return TextClassifier(path)


@st.cache_resource
def load_generator(path: str):
    from edge_runtime.generator import TextGenerator

    return TextGenerator(path)


@st.cache_resource
def load_keras_classifier(folder: str):
    from training.saved import load_trained

    model, tokenizer, _ = load_trained(folder)
    return model, tokenizer


def classifier(variant: str):   # cached per path: loaded once per process
    return load_classifier(str(ModelFolder(CLASSIFIER).tflite(variant)))


def present(folder: Path, target: str) -> list[str]:
    """The variants a model folder holds a .tflite of, in the variant table's order."""
    return [v for v in names(target) if ModelFolder(folder).tflite(v).exists()]


def shown_variants() -> list[str]:
    """The two files the Classify page compares: the most exact one there is, and the int8 one (neither there:
    the reference and int8, whose pages then say what is missing)."""
    there = present(CLASSIFIER, EDGE) or [names(EDGE)[0], FULL_INTEGER]
    return [there[0], FULL_INTEGER] if FULL_INTEGER in there and there[0] != FULL_INTEGER else there[:2]


def generator():
    """The language model's most exact file there is (the shipped folder holds the quantized one)."""
    there = present(LM, LANGUAGE_MODEL)
    if not there:
        raise FileNotFoundError(f"no .tflite in {ModelFolder(LM).tflite_dir}")
    return load_generator(str(ModelFolder(LM).tflite(there[0])))


def keras_classifier():
    return load_keras_classifier(str(CLASSIFIER))


def bounded(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        st.warning(f"The text has {len(text):,} characters; only the first {MAX_TEXT_CHARS:,} are used.")
        return text[:MAX_TEXT_CHARS]
    return text


def page_classify() -> None:
    imdb = CLASSIFIER == ARTIFACTS / "imdb-classifier"
    st.header("Classify a review" if imdb else f"Classify a text ({CLASSIFIER.name})")
    if imdb:
        example = st.selectbox("Example", list(EXAMPLES), key="example")
        text = bounded(st.text_area("Review", EXAMPLES[example], height=150, key="review"))
    else:
        text = bounded(st.text_area("Text", "", height=150, key="review"))
    if not text.strip():
        st.info("Type or paste a text to classify it.")
        return
    columns = st.columns(2)
    for column, variant in zip(columns, shown_variants()):
        with column:
            st.subheader(f"`{variant}`")
            try:
                result = classifier(variant).classify(text)
            except Exception as error:  # noqa: BLE001 - shown in the page, not as a traceback
                st.error(f"Could not run the {variant} model: {error}")
                continue
            st.metric("label", result.label, f"{result.score:.1%} confident", delta_color="off")
            st.write(f"{result.n_tokens} tokens{' (truncated to the model length)' if result.truncated else ''}; "
                     f"{result.latency_ms:.1f} ms")
            labels = classifier(variant).labels
            best = sorted(range(len(labels)), key=lambda i: -result.probabilities[i])[:SHOWN_LABELS]
            for i in best:   # every label's probability (the most probable ones when there are many)
                st.progress(min(1.0, max(0.0, result.probabilities[i])),
                            text=f"{labels[i]}: {result.probabilities[i]:.1%}")
            if len(labels) > SHOWN_LABELS:
                st.caption(f"the {SHOWN_LABELS} most probable of {len(labels)} labels")


def page_generate() -> None:
    st.header("Generate a review")
    prompt = bounded(st.text_input("Prompt", "This movie was", key="prompt"))
    from edge_runtime.generator import SAMPLING

    temperature = st.slider("Temperature (0: greedy)", 0.0, 1.5, SAMPLING["temperature"], 0.1, key="temperature")
    top_k = st.slider("Top-k (0: all tokens)", 0, 100, SAMPLING["top_k"], key="top_k")
    top_p = st.slider("Top-p (nucleus; 1: off)", 0.05, 1.0, SAMPLING["top_p"], 0.05, key="top_p")
    penalty = st.slider("Repetition penalty (1: off)", 1.0, 2.0, SAMPLING["repetition_penalty"], 0.05,
                        key="repetition_penalty")
    length = st.slider("New tokens", 1, MAX_NEW_TOKENS, 40, key="length")
    seed = st.number_input("Seed", 0, 10_000, 0, key="seed")
    if not prompt.strip():
        st.info("Type a few words to continue.")
        return
    if st.button("Generate", key="generate"):
        try:
            model = generator()
        except Exception as error:  # noqa: BLE001
            st.error(f"The language model is not available ({error}).")
            return
        pieces, started = [], []

        def shown():   # the text appears token by token
            yield prompt + " "
            started.append(time.perf_counter())
            for piece in model.stream(prompt, length, temperature, top_k, int(seed), top_p, penalty):
                pieces.append(piece)
                yield piece

        st.write_stream(shown())
        seconds = time.perf_counter() - started[0]
        memory = (f"a cache of {model.cache_bytes() / 1e6:.1f} MB, the same at any length" if model.decoder
                  else f"no cache: every token recomputes the {model.context}-token window")
        st.caption(f"{len(pieces)} new tokens")
        st.caption(f"{len(pieces) / max(seconds, 1e-9):.0f} tokens per second (prompt included); {memory}")


def page_attention() -> None:
    st.header("Attention patterns")
    from model.patterns import PATTERNS, AttentionPattern, block_layout

    name = st.selectbox("Pattern", PATTERNS, index=list(PATTERNS).index("bigbird"), key="pattern")
    length = st.select_slider("Sequence length", [256, 512, 1024, 2048, 4096], 1024, key="length_attention")
    causal = st.checkbox("Causal", key="causal")
    pattern = AttentionPattern(name, block_size=64, causal=causal)
    try:
        layout = block_layout(pattern, length // 64)
    except ValueError as error:
        st.error(str(error))
        return
    st.image(_heat(layout.allowed.astype(float)), caption=f"{name}: key blocks (columns) each query block (rows) "
             f"sees; {layout.allowed.mean():.0%} of the dense matrix", width=320, clamp=True)
    st.subheader("Weights of the shipped classifier for a text")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        st.info("This view needs TensorFlow (pip install 'sparse-edge[train]'); the other pages work without it.")
        return
    text = bounded(st.text_area("Text", EXAMPLES["A mixed review"], key="attention_text"))
    layer = st.number_input("Layer", 0, 1, 0, key="layer")
    head = st.number_input("Head", 0, 3, 0, key="head")
    if text.strip():
        try:
            keras_classifier()
        except Exception as error:  # noqa: BLE001
            st.error(f"The shipped classifier could not be loaded ({error}).")
            return
        words = attributions(text)
        st.markdown("**What the decision leans on** (green: towards positive, red: towards negative; "
                    "gradient × input of the Transformer plus, for the hybrid, the n-gram weights)")
        st.markdown(_coloured(words), unsafe_allow_html=True)
        st.pyplot(attention_figure(text, int(layer), int(head)), clear_figure=False)


@st.cache_data(max_entries=32, show_spinner=False)
def attributions(text: str) -> list[dict]:
    from sparse_edge.reports.inspect_attention import word_attributions

    model, tokenizer = keras_classifier()
    return word_attributions(model, tokenizer, text)


@st.cache_resource(max_entries=32, show_spinner=False)
def attention_figure(text: str, layer: int, head: int):
    """The head's weights with the tokens on both axes (cached: redrawing a figure costs most of the time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparse_edge.reports.inspect_attention import attention_map

    model, tokenizer = keras_classifier()
    image, tokens = attention_map(model, tokenizer, text, layer, head)
    size = min(9.0, 3.0 + 0.12 * len(tokens))
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(image / max(image.max(), 1e-9), cmap="magma", interpolation="nearest")
    step = max(1, len(tokens) // 60)   # at most about 60 labels per axis stay readable
    ticks = list(range(0, len(tokens), step))
    axis.set_xticks(ticks, [tokens[i] for i in ticks], rotation=90, fontsize=7)
    axis.set_yticks(ticks, [tokens[i] for i in ticks], fontsize=7)
    axis.set_xlabel("key token (attended to)")
    axis.set_ylabel("query token (attending)")
    axis.set_title(f"layer {layer}, head {head}: {len(tokens)} tokens; black where the pattern computes nothing",
                   fontsize=9)
    figure.tight_layout()
    return figure


def _coloured(words: list[dict]) -> str:
    """The text with each word's background coloured by its push towards positive (green) or negative (red)."""
    import html

    scores = [w["transformer"] + w["ngrams"] for w in words]
    top = max((abs(s) for s in scores), default=1.0) or 1.0
    spans = []
    for word, score in zip(words, scores):
        alpha = min(1.0, abs(score) / top)
        colour = f"rgba(46, 160, 67, {alpha:.2f})" if score > 0 else f"rgba(218, 54, 51, {alpha:.2f})"
        spans.append(f'<span style="background:{colour};padding:1px 2px;border-radius:3px" '
                     f'title="{score:+.3f}">{html.escape(word["word"])}</span>')
    return '<div style="line-height:2">' + " ".join(spans) + "</div>"


def page_parity() -> None:
    st.header("What quantization cost")
    path = ModelFolder(CLASSIFIER).parity_path
    if not path.exists():
        st.error(f"{path} is missing: run `sparse-edge parity {CLASSIFIER}`.")
        return
    report = json.loads(path.read_text())
    rows = [{"variant": v, "accuracy %": round(r["accuracy"] * 100, 2), "Δ accuracy pp": r["delta_accuracy_pp"],
             "agreement %": round(r["agreement"] * 100, 2), "size MB": round(r["size_bytes"] / 1e6, 2),
             "p50 ms": round(r["latency_ms_p50"], 2)} for v, r in report["variants"].items()]
    st.write(f"Reference (Keras float32): {report['reference']['accuracy']:.2%} on {report['n']:,} {report['split']} reviews")
    st.dataframe(rows, hide_index=True)
    st.bar_chart({r["variant"]: r["size MB"] for r in rows}, x_label="variant", y_label="size (MB)")


def _heat(values: np.ndarray) -> np.ndarray:
    """A grey-to-orange RGB image of values in [0, 1], upscaled so small layouts stay visible."""
    values = np.clip(values, 0, 1)
    scale = max(1, 256 // max(values.shape))
    values = np.kron(values, np.ones((scale, scale)))
    return np.stack([values, values * 0.55, values * 0.1], axis=-1)


def main() -> None:
    st.set_page_config(page_title="sparse-edge demo", layout="wide")
    page = st.sidebar.radio("Page", PAGES, key="page")
    started = time.perf_counter()
    {"Classify": page_classify, "Generate": page_generate, "Attention": page_attention, "Parity": page_parity}[page]()
    st.sidebar.caption(f"page drawn in {(time.perf_counter() - started) * 1000:.0f} ms")


main()
