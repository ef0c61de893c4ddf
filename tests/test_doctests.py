"""The examples in docstrings run and print what they say (docstrings state behaviour, not figures)."""

import doctest
import importlib
import pkgutil

import pytest

import convert
import edge_runtime
import model
import sparse_edge
import training

SKIP = {"sparse_edge.demo_app"}   # a Streamlit script: importing it draws the page (and __main__ modules run)


def modules():
    for package in (edge_runtime, model, training, convert, sparse_edge):
        yield package.__name__
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name not in SKIP and not info.name.endswith("__main__"):
                yield info.name


def examples(name):
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module) if t.examples]


WITH_EXAMPLES = [name for name in modules() if examples(name)]


def test_the_documented_modules_have_examples():
    # the modules a newcomer calls first show how; this list only grows
    assert {"training.ngrams", "training.hybrid", "training.files", "training.saved", "model.transformer",
            "training.teacher", "model.config"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see the output above)"
