"""Generation takes any argument without a traceback: a one-line error, or a defined behaviour."""

import math
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_runtime.generator import MAX_NEW_TOKENS, TextGenerator, check_sampling, choose

REPO = Path(__file__).resolve().parents[1]
LM = REPO / "artifacts" / "imdb-lm" / "tflite" / "dynamic.tflite"
SPARSE_EDGE = str(Path(sys.executable).parent / "sparse-edge")


@pytest.fixture(scope="module")
def generator():
    return TextGenerator(LM)


@pytest.mark.parametrize("option,value,named", [
    ("--temperature", "inf", "--temperature"), ("--temperature", "nan", "--temperature"),
    ("--temperature", "-1", "--temperature"), ("--top-p", "nan", "--top-p"), ("--top-p", "0", "--top-p"),
    ("--top-p", "1.5", "--top-p"), ("--repetition-penalty", "nan", "--repetition-penalty"),
    ("--repetition-penalty", "0.5", "--repetition-penalty"), ("--top-k", "-3", "--top-k"),
    ("--max-new-tokens", "513", "--max-new-tokens"), ("--max-new-tokens", "-1", "--max-new-tokens")])
def test_bad_sampling_options_get_one_line_naming_the_option(option, value, named):
    result = subprocess.run([SPARSE_EDGE, "generate", str(LM), "This movie was", option, value],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and named in result.stderr and "Traceback" not in result.stderr


def test_a_top_k_beyond_the_vocabulary_keeps_every_token_and_a_huge_prompt_is_refused(tmp_path):
    result = subprocess.run([SPARSE_EDGE, "generate", str(LM), "This movie was", "--top-k", "30522", "--seed", "1",
                             "--max-new-tokens", "5", "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and '"token_ids"' in result.stdout, result.stderr
    huge = subprocess.run([SPARSE_EDGE, "generate", str(LM), "word " * 22_000], capture_output=True, text=True,
                          timeout=120)   # 110,000 characters (one argument can hold at most 128 KiB)
    assert huge.returncode == 2 and "characters; give at most" in huge.stderr, huge.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(temperature=st.floats(allow_nan=True, allow_infinity=True),
       top_k=st.integers(-5, 40_000), top_p=st.floats(allow_nan=True, allow_infinity=True),
       repetition_penalty=st.floats(allow_nan=True, allow_infinity=True), max_new_tokens=st.integers(-3, 600))
def test_any_sampling_arguments_give_tokens_or_a_value_error_naming_the_argument(
        generator, temperature, top_k, top_p, repetition_penalty, max_new_tokens):
    max_new_tokens = max_new_tokens if max_new_tokens <= 4 or max_new_tokens > MAX_NEW_TOKENS else 4
    try:
        result = generator.generate("This movie was", max_new_tokens, temperature, top_k, 0, top_p, repetition_penalty)
    except ValueError as error:
        name = str(error).split()[0]
        assert name in ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens"), error
        with pytest.raises(ValueError):
            check_sampling(max_new_tokens, temperature, top_k, top_p, repetition_penalty)
        return
    assert len(result.token_ids) <= max_new_tokens
    assert all(0 <= t < len(generator.tokenizer) for t in result.token_ids)
    assert math.isfinite(temperature) and 0 < top_p <= 1


def test_choose_keeps_the_best_token_at_temperature_zero_and_samples_only_within_top_k():
    logits = np.array([0.0, 5.0, 1.0, 4.0, -2.0])
    rng = np.random.default_rng(0)
    assert choose(logits, [], [], 0.0, 0, 1.0, 1.0, rng) == 1
    assert choose(logits, [1], [], 0.0, 0, 1.0, 10.0, rng) == 3     # the penalty divides 5 by 10
    picks = {choose(logits, [], [0], 1.0, 2, 1.0, 1.0, rng) for _ in range(200)}
    assert picks == {1, 3}
    assert {choose(logits, [], [], 1.0, 99, 1.0, 1.0, rng) for _ in range(400)} == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_stops_generation_at_once_keeping_what_was_made(as_json, monkeypatch, capsys):
    """Ctrl-C arrives (as KeyboardInterrupt) after the 10th token: what was made is on standard output,
    and the interrupt goes on to the console script's handler (one line, exit 130: tests/test_edge_signals.py)."""
    import json

    from edge_runtime.generator import Recompute
    from sparse_edge.commands.generate import generate

    made = []
    original = Recompute.advance

    def interrupted_after_ten(self, token):
        made.append(token)
        if len(made) == 10:
            raise KeyboardInterrupt
        return original(self, token)

    monkeypatch.setattr(Recompute, "advance", interrupted_after_ten)
    with pytest.raises(click.Abort) as stopped:   # click's wrapping of the KeyboardInterrupt, as the CLI sees it
        generate.main([str(LM), "This movie was", "--max-new-tokens", "512", "--temperature", "1", "--seed", "3",
                       *(["--json"] if as_json else [])], standalone_mode=False)
    assert isinstance(stopped.value.__cause__, KeyboardInterrupt)
    out = capsys.readouterr().out
    if as_json:
        result = json.loads(out)
        assert result["interrupted"] and result["token_ids"] == made and not result["stopped_at_end"]
    else:
        assert out.startswith("This movie was ") and len(out) > len("This movie was ") + 10
