"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright's Python API):
open the served app, predict a test-set sequence and a generated one, see the animated GIF."""

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

TIMEOUT_MS = 60_000  # generous: a loaded 2-core machine renders slowly


@pytest.fixture(scope="module")
def page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        yield page
        browser.close()


def _result_gif_src(page) -> str:
    img = page.locator("#result-gif img")
    img.wait_for(state="visible")
    return img.get_attribute("src") or ""


def test_predict_a_test_sequence_shows_the_animated_gif(page, tmp_path):
    page.get_by_text("framepred: predicting the next frames").wait_for()
    page.locator("#predict-test").click()
    src = _result_gif_src(page)
    assert src.endswith(".gif")
    # The GIF really loaded in the browser (decoded, non-zero size).
    assert page.locator("#result-gif img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.get_by_text("mean", exact=True).first.wait_for()  # metrics table filled in
    page.screenshot(path=str(tmp_path / "after_test_set.png"), full_page=True)


def test_inspector_draws_the_hidden_states_when_opened(page):
    page.locator("#predict-test").click()
    _result_gif_src(page)
    assert page.locator("#hidden-space img").count() == 0  # closed: nothing drawn yet
    page.get_by_text("Inspect the model").click()
    for elem in ("#hidden-space img", "#hidden-channels img"):
        page.locator(elem).wait_for(state="visible")
        assert page.locator(elem).evaluate("img => img.complete && img.naturalWidth > 100")
    before = page.locator("#hidden-space img").get_attribute("src")
    page.get_by_label("number input for Sequence index").fill("5")
    page.get_by_label("number input for Sequence index").press("Enter")
    page.locator("#predict-test").click()  # with the inspector open, a new prediction redraws them
    page.wait_for_function(
        "before => { const i = document.querySelector('#hidden-space img'); return i && i.src !== before; }",
        arg=before,
    )
    page.get_by_text("Inspect the model").click()  # close it again for the tests that follow


def test_generate_tab_gives_a_new_gif(page):
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#predict-generated").click()
    page.wait_for_function(
        "before => { const i = document.querySelector('#result-gif img'); return i && i.src !== before; }",
        arg=before,
    )
    assert _result_gif_src(page).endswith(".gif")


def test_bad_upload_shows_an_error_not_a_crash(page, tmp_path):
    import numpy as np

    np.save(tmp_path / "short.npy", np.zeros((4, 64, 64), np.uint8))
    page.get_by_role("tab", name="Upload").click()
    page.locator("input[type=file]").first.set_input_files(str(tmp_path / "short.npy"))
    page.get_by_text("short.npy").first.wait_for()
    page.locator("#predict-upload").click()
    page.get_by_text("at least 11 are needed").first.wait_for()
