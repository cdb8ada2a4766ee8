"""The viewer: what a panel shows, computed without a browser; the page built by Gradio; and, where
Debian's chromium and chromium-driver are installed, the page driven in a real headless Chromium."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import free_port
from export import ExportConfig, export_model
from runtime import load
from runtime.serve import PREDICTED, class_choices, view

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAGE_SECONDS = 60  # the page's first prediction, on 2 busy cores


@pytest.fixture(scope="module")
def artifacts(tiny_vit, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    return {explain: export_model(tiny_vit, root / explain, ExportConfig(explain=explain, parity_images=1))
            and root / explain for explain in ("gradrollout", "rollout", "none")}


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(path)
    return path


def test_a_panel_shows_label_top_k_and_overlay(artifacts, photo):
    predictor = load(artifacts["rollout"])
    shown = view(predictor, str(photo), top_k=3)
    expected = predictor.predict(photo, top_k=3)
    label, prob = expected.top_k[0][0]
    assert shown.headline == f"**{label}** ({prob:.1%})"
    assert shown.top_k == dict(expected.top_k[0]) and len(shown.top_k) == 3
    assert shown.overlay.size == (52, 40) and np.array_equal(np.asarray(shown.overlay), np.asarray(expected.overlay(0)))
    assert "Drop an image" in view(predictor, None).headline


def test_a_gradrollout_panel_explains_the_chosen_class(artifacts, photo):
    predictor = load(artifacts["gradrollout"])
    labels = list(predictor.manifest.labels)
    assert class_choices(predictor) == [PREDICTED, *labels] and class_choices(load(artifacts["rollout"])) is None
    top = view(predictor, str(photo)).top_k
    other = next(label for label in labels if label != next(iter(top)))
    chosen, predicted = view(predictor, str(photo), explain_class=other), view(predictor, str(photo), explain_class=PREDICTED)
    assert f"why '{other}'" in chosen.headline and "why" not in predicted.headline
    expected = predictor.predict(photo, explain_class=labels.index(other)).overlay(0)
    assert np.array_equal(np.asarray(chosen.overlay), np.asarray(expected))
    assert not np.array_equal(np.asarray(chosen.overlay), np.asarray(predicted.overlay))


def test_a_panel_says_what_is_wrong_instead_of_failing(artifacts, tmp_path):
    (tmp_path / "x.png").write_text("not an image")
    shown = view(load(artifacts["rollout"]), str(tmp_path / "x.png"))
    assert shown.headline.startswith("**Not an image this model can read**") and shown.overlay is None
    plain = view(load(artifacts["none"]), str(ROOT / "docs" / "cifar_tiny_ship_probs.png"))
    assert plain.overlay is None and "no heatmap" in plain.headline


def test_the_page_has_a_panel_per_artifact_and_a_class_choice_for_gradrollout(artifacts):
    pytest.importorskip("gradio", reason="the serve extra")
    from runtime.serve import build_app

    app = build_app([("a", load(artifacts["gradrollout"])), ("b", load(artifacts["rollout"]))])
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"image", "headline-0", "top-0", "overlay-0", "class-0", "headline-1", "overlay-1"} <= ids
    assert "class-1" not in ids


def test_serve_without_gradio_names_the_extra(artifacts):
    script = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "gradio":
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
sys.meta_path.insert(0, Block())
from runtime.__main__ import main
sys.exit(main(sys.argv[1:]))
"""
    done = subprocess.run([sys.executable, "-c", script, "serve", str(artifacts["rollout"])],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.strip().endswith('pip install "explainable-vit[serve]"'), done.stderr
    three = subprocess.run([sys.executable, "-m", "runtime", "serve", *(str(a) for a in artifacts.values())],
                           capture_output=True, text=True, cwd=ROOT)
    assert three.returncode == 2 and "one artifact, or two side by side; got 3" in three.stderr


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")
def test_the_page_in_a_headless_chromium(artifacts, photo):
    """Drop a photo in the page as a user does, read both panels, then ask the gradrollout panel why
    another class."""
    pytest.importorskip("gradio", reason="the serve extra")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (extra test)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from runtime.serve import serve

    app, url = serve([str(artifacts["gradrollout"]), str(artifacts["rollout"])], port=free_port(), block=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, PAGE_SECONDS)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#image input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#image input[type=file]").send_keys(str(photo))
        expected = [load(a).predict(photo).top_k[0][0][0] for a in (artifacts["gradrollout"], artifacts["rollout"])]
        for i, label in enumerate(expected):
            wait.until(lambda b, i=i: b.find_element(By.ID, f"headline-{i}").text.startswith(expected[i]))
            wait.until(lambda b, i=i: b.find_elements(By.CSS_SELECTOR, f"#overlay-{i} img"))
            assert label in browser.find_element(By.ID, f"top-{i}").text
        other = next(label for label in load(artifacts["gradrollout"]).manifest.labels if label != expected[0])
        choice = browser.find_element(By.CSS_SELECTOR, "#class-0 input")
        choice.click()
        choice.send_keys(Keys.CONTROL, "a")
        choice.send_keys(other, Keys.ENTER)
        wait.until(lambda b: f"why '{other}'" in b.find_element(By.ID, "headline-0").text)
    finally:
        browser.quit()
        app.close()
