import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parents[1]
SHARED_TFDS = (REPO.parent / "shared" / "data" / "tensorflow_datasets").resolve()
if "TFDS_DATA_DIR" not in os.environ and SHARED_TFDS.exists():
    os.environ["TFDS_DATA_DIR"] = str(SHARED_TFDS)


SLOW_FIXTURES = {"pipeline_run", "converted_model"}   # the quick pipeline: about two minutes of training
SKIPPED: list[str] = []


@pytest.hookimpl(tryfirst=True)   # before -m deselects by the marks added here
def pytest_collection_modifyitems(config, items):
    """Marks follow what a test needs: the pipeline fixture makes a test slow; IMDB is needed for ``imdb``.

    Tests that read IMDB need the prepared copy (../shared/data) or TFDS_DATA_DIR; without it
    they are skipped, loudly (see ``pytest_terminal_summary``), and CI fails on any skip.
    """
    for item in items:
        uses_pipeline = SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_pipeline:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.imdb)

    data_dir = os.environ.get("TFDS_DATA_DIR")
    if data_dir and (Path(data_dir) / "imdb_reviews").exists():
        return
    skip = pytest.mark.skip(reason="IMDB not found: set TFDS_DATA_DIR (see ../shared/data/README.md)")
    for item in items:
        if "imdb" in item.keywords:
            item.add_marker(skip)


def pytest_collectreport(report):
    """A whole file skipped while it is collected (``pytest.importorskip`` at module level) counts too."""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        SKIPPED.append(f"{report.nodeid}: {reason.removeprefix('Skipped: ')}")


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):   # an expected failure is reported, not skipped
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        SKIPPED.append(reason.removeprefix("Skipped: "))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line per skip reason, so a green run never hides what it did not check."""
    if not SKIPPED:
        return
    from collections import Counter

    terminalreporter.write_line(f"SKIPPED {len(SKIPPED)} test(s), not checked in this run:", yellow=True)
    for reason, count in Counter(SKIPPED).most_common():
        terminalreporter.write_line(f"  {count} x {reason}", yellow=True)
    if os.environ.get("CI"):
        terminalreporter.write_line("CI runs every test: a skip fails the run (install what the reason names)",
                                    red=True)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and SKIPPED and exitstatus in (0, 5):   # 5: everything was skipped
        session.exitstatus = 1


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """``sparse-edge pipeline --preset quick``: a small classifier trained on 8,000 IMDB reviews,
    converted to all four variants, checked for parity on 2,000 test reviews, run on the edge.

    Shared by the pipeline, conversion, parity and edge-runtime tests (about two minutes here,
    so it happens once per session). Returns (output folder, the stage lines it printed).
    """
    import fcntl
    import json

    from sparse_edge.pipeline import run_pipeline

    # with pytest-xdist every worker has this session fixture: the first one to need it runs the
    # pipeline in the run's shared temporary folder, the others wait for it and reuse the result
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    folder, record = root / "quick-pipeline", root / "quick-pipeline.lines.json"
    with open(root / "quick-pipeline.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.exists():
            return folder, json.loads(record.read_text())
        lines = []
        run_pipeline("quick", folder, progress=False, echo=lines.append)
        record.write_text(json.dumps(lines))
    return folder, lines


@pytest.fixture(scope="session")
def converted_model(pipeline_run):
    """The pipeline's model folder: model.keras, vocab.txt, tflite/<variant>.tflite, parity.json."""
    return pipeline_run[0] / "model"


@pytest.fixture(scope="session")
def vocab(tmp_path_factory):
    """A 2,000-piece vocabulary learned from 1,000 IMDB training reviews, shared by the tiny trainings."""
    from training.data import load_imdb
    from training.vocab import learn_vocab

    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    learn_vocab(load_imdb("train", limit=1000).texts, 2000, path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory, vocab):
    """One training of ``tests.test_training.tiny_config()``, read by every test that needs a trained folder.

    Tests only read it: at the end of the session every file must be as the training left it."""
    from training.train import train
    from tests.test_training import tiny_config

    folder = tmp_path_factory.mktemp("tiny") / "model"
    train(tiny_config(), folder, vocab_path=vocab, progress=False)
    state = lambda: {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}  # noqa: E731
    before = state()
    yield folder
    assert state() == before, f"a test wrote into the shared trained folder {folder}"


@pytest.fixture(scope="session")
def cached_lm(tmp_path_factory):
    """A tiny language model with relative positions and a sink block, trained a little, and its float32,
    dynamic and int8 files (prefill and decode signatures): (folder, {variant: path})."""
    from convert.lm import convert_lm_dir
    from model.config import TransformerConfig
    from model.patterns import AttentionPattern
    from training.train_lm import LMConfig, train_lm

    folder = tmp_path_factory.mktemp("cached-lm")
    model = TransformerConfig(vocab_size=12000, max_length=64, d_model=32, num_heads=2, num_layers=2, d_ff=64,
                              dropout=0.0, positional="relative",
                              pattern=AttentionPattern("global", block_size=8, window=2, num_global=1, causal=True))
    config = LMConfig(model=model, steps=150, batch_tokens=1024, val_reviews=10, eval_every=150, text_limit=300,
                      sampled_softmax=256, whole_reviews=True, jit_compile=False)
    vocab = Path(__file__).resolve().parents[1] / "artifacts" / "imdb-classifier" / "vocab.txt"
    train_lm(config, folder, str(vocab), progress=False)
    return folder, convert_lm_dir(folder, ["float32", "dynamic", "int8"])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium."""
    import shutil
    import tempfile

    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("needs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                 "--window-size=1400,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    """A PNG of the page in ``tmp_path`` (and, with ``SPARSE_EDGE_SCREENSHOTS=DIR``, a copy in DIR)."""
    import shutil
    import time

    time.sleep(1.5)   # let the page finish drawing
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    target = os.environ.get("SPARSE_EDGE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)
    return path
