"""The layout's promises, checked on the tree itself: one owner for each fact, small files, short
functions, a README that is a front door and links that resolve."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "training", "convert", "edge_runtime", "sparse_edge")


def sources(*packages):
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_a_variant_is_named_only_in_the_variant_table():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sources(*PACKAGES) if p.name != "variants.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if '"float16"' in line]
    assert hits == []


def test_no_variant_name_and_no_kind_switch_in_the_commands():
    names = ("float32", "float16", "dynamic", "int8")
    for path in sources("sparse_edge/commands"):
        text = path.read_text()
        assert not re.search("|".join(f'"{n}"' for n in names), text), path
        assert "if kind ==" not in text, path


def test_the_bundle_config_is_read_only_in_bundle_py():
    for path in sources("edge_runtime"):
        if path.name != "bundle.py":
            assert not re.search(r"config\[|config\.get\(", path.read_text()), path


def test_bucket_lookup_and_the_data_code_have_one_owner_each():
    searches = [p for p in sources(*PACKAGES, "scripts") if "np.searchsorted(lengths" in p.read_text()
                or "np.searchsorted(buckets" in p.read_text() or "np.searchsorted(self.lengths" in p.read_text()]
    assert [p.relative_to(ROOT).as_posix() for p in searches] == ["edge_runtime/lengths.py"]
    for name in ("sources.py", "data.py", "batching.py"):
        assert "training.saved" not in (ROOT / "training" / name).read_text(), name


def test_no_file_of_the_command_stage_is_over_400_lines_and_the_commands_are_thinner_than_the_library():
    lines = {p: len(p.read_text().splitlines()) for p in sources("sparse_edge")}
    assert {p.relative_to(ROOT).as_posix(): n for p, n in lines.items() if n > 400} == {}
    commands = sum(n for p, n in lines.items() if not {"bench", "reports"} & set(p.relative_to(ROOT).parts))
    assert commands < sum(len(p.read_text().splitlines()) for p in sources("model", "training"))


def test_model_is_the_architecture_only_and_reads_in_one_sitting():
    """model/ holds the patterns, the attention, the Transformer and their config: about 1,100 lines, with
    its reading order in the package docstring; it reads no data, trains nothing and writes no file."""
    import model

    files = sorted(p.relative_to(ROOT / "model").as_posix() for p in sources("model"))
    assert files == ["__init__.py", "attention.py", "config.py", "decoder.py", "patterns.py", "strict.py",
                     "transformer.py"]
    assert sum(len(p.read_text().splitlines()) for p in sources("model")) <= 1150   # "about 1,100"
    order = re.findall(r"``model/(\w+\.py)``", model.__doc__)
    assert order[:5] == ["patterns.py", "attention.py", "config.py", "transformer.py", "decoder.py"]
    for path in sources("model"):
        text = path.read_text()
        for word in ("open(", "write_text", "write_bytes", "read_text", ".fit(", "tensorflow_datasets", "np.save"):
            assert word not in text, (path.name, word)


def test_no_function_in_the_packages_is_over_80_lines():
    long = []
    for path in sources(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.name} {length}")
    assert long == []


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert text.count("<!-- table:") <= 2
    for section in ("## Status", "## Layout", "## First 10 minutes", "## Two commands",
                    "## How sparse attention works, in short"):
        assert section in text


def slug(title: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves(document):
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)   # code blocks hold no links
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^(https?:|mailto:)", target):
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = {slug(h) for h in re.findall(r"^#+ (.*)$", file.read_text(), flags=re.M)}
            if anchor not in headings:
                broken.append(target)
    assert broken == []


def test_every_committed_training_config_loads():
    """A config under configs/ that no longer matches TrainConfig (a renamed key) fails here, not in a long run."""
    import json

    from training.train_config import HybridSettings, TrainConfig
    from training.train_lm import LMConfig

    paths = sorted((ROOT / "configs").glob("*.json"))
    assert len(paths) >= 15
    for path in paths:
        loader = (HybridSettings.from_dict if path.name.startswith("hybrid") else
                  LMConfig.from_dict if path.name.startswith("imdb-lm") else TrainConfig.from_dict)
        loader(json.loads(path.read_text()))


def test_artifacts_stay_under_40_mb_and_the_readme_says_how_to_rebuild_what_is_not_shipped():
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "-z", "artifacts"], cwd=ROOT, capture_output=True, check=True,
                             text=True).stdout.split("\0")
    total = sum((ROOT / name).stat().st_size for name in tracked if name and (ROOT / name).exists())
    assert 10e6 < total <= 40e6, total
    readme = (ROOT / "README.md").read_text()
    for rebuild in ("--variants\n  float32,float16", "train-lm --config artifacts/imdb-lm/train_config.json",
                    "pipeline --preset full"):
        assert rebuild.replace("\n  ", " ") in readme.replace("\n  ", " "), rebuild


def test_benchmark_goals_and_tokenizer_choices_have_one_table_each():
    """Goals live in sparse_edge/bench/goals.py; the tokenizer choices in edge_runtime/tokenizer.py's TOKENIZERS."""
    goals = [p.relative_to(ROOT).as_posix() for p in sources(*PACKAGES)
             if re.search(r"^GOALS? = \{\s*[\"'#]", p.read_text(), re.M)]   # a dict literal, not a row of it
    assert goals == ["sparse_edge/bench/goals.py"]
    choices = [p.relative_to(ROOT).as_posix() for p in sources(*PACKAGES)
               if re.search(r"""["']wordpiece["'],\s*["'](bytes|mediapipe)["']""", p.read_text())]
    assert choices == []
    from edge_runtime.tokenizer import TOKENIZERS
    from training.train_config import TrainConfig

    assert list(TOKENIZERS) == ["wordpiece", "mediapipe", "bytes"]
    for name in TOKENIZERS:
        assert TrainConfig(tokenizer=name).tokenizer == name
