"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright's Python API):
the first view plays without a click; step through frames; predict a test-set sequence, a generated
one and a drawn digit (no warning); compare two models (the plots' legends follow); a bad upload gets
a message, a light one a note; an example or "Random sequence" predicts in one click; a deep link
opens on its prediction, a bad one on the default view; a phone sees the animation on its first screen."""

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real browser against the served app
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

TIMEOUT_MS = 60_000  # generous: a loaded 2-core machine renders slowly
# True once the <img> inside the element ``e`` is decoded and wider than 100 pixels.
PICTURE_DRAWN = "e => { const i = document.querySelector(e); return i && i.complete && i.naturalWidth > 100; }"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def _open(browser, url: str, viewport: dict = DESKTOP):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


@pytest.fixture
def page(browser, app_url):
    """A fresh page per test (its own Gradio session, on the first view): no test depends on what
    another left behind, so each passes alone and in any order."""
    page = _open(browser, app_url)
    yield page
    page.close()


def _result_gif_src(page) -> str:
    img = page.locator("#result-gif img")
    img.wait_for(state="visible")
    return img.get_attribute("src") or ""


def _gif_changed(page, before: str) -> str:
    page.wait_for_function(
        "before => { const i = document.querySelector('#result-gif img'); return i && i.src !== before; }",
        arg=before,
    )
    return _result_gif_src(page)


def _gif_loaded(page):
    """The result GIF really loaded in the browser (decoded, non-zero size)."""
    page.wait_for_function("() => { const i = document.querySelector('#result-gif img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")


def _set_index(page, index: int):
    box = page.get_by_label("number input for Sequence index")
    box.fill(str(index))
    box.press("Enter")


def test_first_view_plays_without_a_click(page):
    # A fresh page: nothing has been clicked on it yet.
    src = _result_gif_src(page)
    assert src.endswith(".gif")
    _gif_loaded(page)
    page.locator("#frame-image img").wait_for(state="visible")
    page.get_by_text("predicted t+1").first.wait_for()  # the frame viewer's caption


def test_frame_control_changes_the_shown_frame(page):
    _result_gif_src(page)
    image = page.locator("#frame-image img")
    image.wait_for(state="visible")
    before = image.get_attribute("src")
    box = page.get_by_label("number input for Step through the frames (1-10: context)")
    box.fill("3")
    box.press("Enter")
    page.get_by_text("context t-7").first.wait_for()
    page.wait_for_function(
        "before => { const i = document.querySelector('#frame-image img'); return i && i.src !== before; }",
        arg=before,
    )


def test_predict_a_test_sequence_shows_the_animated_gif(page, tmp_path):
    page.get_by_text("framepred: predicting the next frames").wait_for()
    before = _result_gif_src(page)
    _set_index(page, 4)  # another sequence: another GIF (Gradio serves files by their content's hash)
    page.locator("#predict-test").click()
    src = _gif_changed(page, before)
    assert src.endswith(".gif")
    # The GIF really loaded in the browser (decoded, non-zero size).
    _gif_loaded(page)
    page.get_by_text("mean", exact=True).first.wait_for()  # metrics table filled in
    page.screenshot(path=str(tmp_path / "after_test_set.png"), full_page=True)


def test_inspector_draws_the_hidden_states_when_opened(page):
    before = _result_gif_src(page)
    _set_index(page, 6)
    page.locator("#predict-test").click()
    _gif_changed(page, before)  # the prediction is in (a result still on its way would clear the pictures)
    assert page.locator("#hidden-space img").count() == 0  # closed: nothing drawn yet
    page.get_by_text("Inspect the model").click()
    for elem in ("#hidden-space img", "#hidden-channels img"):
        page.locator(elem).wait_for(state="visible")
        page.wait_for_function(PICTURE_DRAWN, arg=elem)
    before = page.locator("#hidden-space img").get_attribute("src")
    page.get_by_label("number input for Sequence index").fill("5")
    page.get_by_label("number input for Sequence index").press("Enter")
    page.locator("#predict-test").click()  # with the inspector open, a new prediction redraws them
    page.wait_for_function(
        "before => { const i = document.querySelector('#hidden-space img'); return i && i.src !== before; }",
        arg=before,
    )


def _hidden_pictures_drawn(page) -> str:
    """Wait until the inspector's pictures are shown and no longer change (a follow-up step may still
    be on its way); their URL."""
    src = None
    for _ in range(40):
        page.wait_for_timeout(500)
        img = page.locator("#hidden-space img")
        now = img.get_attribute("src") if img.count() else None
        if now is not None and now == src:
            break
        src = now
    for elem in ("#hidden-space img", "#hidden-channels img"):
        page.locator(elem).wait_for(state="visible")
        page.wait_for_function(PICTURE_DRAWN, arg=elem)
    return page.locator("#hidden-space img").get_attribute("src")


def test_inspector_opened_while_a_prediction_runs_shows_that_prediction(page):
    """Opening the inspector while a prediction is on its way: its pictures end up drawn for that
    prediction (they used to be cleared when the result arrived)."""
    before = _result_gif_src(page)
    _set_index(page, 8)
    # Both clicks in the same moment: the inspector opens while the prediction is still running.
    page.evaluate("""() => { document.querySelector('#predict-test').click();
                            [...document.querySelectorAll('button')]
                              .find(b => b.textContent.includes('Inspect the model')).click(); }""")
    _gif_changed(page, before)
    shown = _hidden_pictures_drawn(page)
    page.get_by_text("Inspect the model").click()  # closed and opened again, nothing running:
    page.get_by_text("Inspect the model").click()  # the pictures of the last prediction
    assert _hidden_pictures_drawn(page) == shown  # (Gradio names a file by its content)


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
    # The upload component's own input (other tabs' components have file inputs too, e.g. the sketchpad).
    page.locator("#upload-file input[type=file]").set_input_files(str(tmp_path / "short.npy"))
    page.locator("#upload-file").get_by_text("short.npy").wait_for()
    page.locator("#predict-upload").click()
    page.get_by_text("at least 11 are needed").first.wait_for()


def _warnings(page) -> list[str]:
    """The warning toasts the page shows now."""
    return page.locator(".toast-body.warning").all_inner_texts()


def test_draw_tab_predicts_a_drawn_stroke(page):
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Draw").click()
    page.locator("#sketchpad").get_by_role("button", name="Brush").first.click()  # the pen tool
    canvas = page.locator("#sketchpad canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.35 * w, y0 + 0.2 * h)  # a '1' with a flag: two strokes
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x0 + 0.5 * w, y0 + (0.2 + 0.06 * i) * h, steps=2)
    page.mouse.up()
    page.wait_for_timeout(1500)  # the sketchpad sends its value after a short debounce (a person is slower)
    page.locator("#predict-drawn").click()
    assert _gif_changed(page, before).endswith(".gif")
    _source_caption(page, "drawn digit, direction 30°")
    # Drawn as the page says (its brush on its canvas): no warning, neither a toast nor a note.
    page.wait_for_timeout(500)  # (a toast comes with the result; give it a moment to be drawn)
    assert _warnings(page) == [] and page.locator("#notes").inner_text().strip() == ""


def test_light_upload_is_inverted_and_says_so(page, tmp_path):
    """The inversion note stays for an upload whose background is light."""
    import numpy as np

    from framepred import data

    np.save(tmp_path / "light.npy", 255 - data.test_set(1)[0])  # dark digits on white
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload-file input[type=file]").set_input_files(str(tmp_path / "light.npy"))
    page.locator("#upload-file").get_by_text("light.npy").wait_for()
    page.locator("#predict-upload").click()
    _gif_changed(page, before)
    page.locator("#notes").get_by_text("light background: it was inverted").wait_for()
    page.locator(".toast-body.warning").get_by_text("light background: it was inverted").first.wait_for()


def test_compare_shows_two_models(page):
    page.get_by_role("tab", name="Test set").click()
    before = _result_gif_src(page)
    _gif_loaded(page)
    width = page.locator("#result-gif img").evaluate("img => img.naturalWidth")
    page.get_by_label("Compare with").click()
    page.get_by_role("option", name="other (checkpoints/other)").click()
    page.locator("#predict-test").click()
    _gif_changed(page, before)
    page.wait_for_function(
        "w => { const i = document.querySelector('#result-gif img'); "
        "return i && i.complete && i.naturalWidth > 1.5 * w; }",
        arg=width,
    )  # ground truth | default | |error| | other | |error|
    caption = page.locator("#frame-caption")  # the frame viewer gives both models' metrics
    caption.get_by_text("other: MSE").wait_for()
    assert "default: MSE" in caption.inner_text()


def _plots_show(page, series: list[str]):
    """Wait until both metric plots draw one curve per name in ``series`` and their legends read it."""
    page.wait_for_function(
        """want => ['#mse-plot', '#ssim-plot'].every(id => {
               const legend = [...document.querySelectorAll(id + ' svg .role-legend-label text')]
                   .map(t => t.textContent);
               const curves = [...document.querySelectorAll(id + ' svg g.mark-line.plot_marks path')]
                   .filter(p => (p.getAttribute('d') || '').length > 0 && p.getAttribute('stroke'));
               return JSON.stringify(legend) === JSON.stringify(want) && curves.length === want.length; })""",
        arg=series,
    )


def _choose(page, menu: str, option: str):
    page.get_by_label(menu).click()
    page.get_by_role("option", name=option).click()


def test_compare_plots_name_both_models_and_the_baseline(browser, app_url):
    """The issue's steps: a comparison after the first view draws both models' curves, named as in
    the table; back to one model, its curve and the baseline only."""
    page = _open(browser, app_url + "/?source=generate&seed=7&digits=2&speed=1.5&horizon=20")
    try:
        _source_caption(page, "generated: seed 7, 2 digit(s), speed 1.5")
        _plots_show(page, ["default", "copy last frame"])
        before = _result_gif_src(page)
        _choose(page, "Compare with", "other (checkpoints/other)")
        page.locator("#predict-generated").click()
        before = _gif_changed(page, before)
        _plots_show(page, ["default", "other", "copy last frame"])
        # 'other' was trained at speed 1 only: a warning toast says so (and the toasts are where we look).
        page.locator(".toast-body.warning").get_by_text("'other' was not trained on").first.wait_for()
        _choose(page, "Compare with", "— none —")
        page.locator("#predict-generated").click()
        _gif_changed(page, before)
        _plots_show(page, ["default", "copy last frame"])
    finally:
        page.close()


def _box(page, selector: str) -> dict:
    element = page.locator(selector).first
    element.wait_for(state="visible")
    return element.bounding_box()


def test_a_phone_sees_the_animation_on_its_first_screen(browser, app_url):
    page = _open(browser, app_url, PHONE)
    try:
        _gif_loaded(page)
        gif = _box(page, "#result-gif img")
        assert 0 <= gif["y"] < PHONE["height"], gif  # the animation's top edge, before any scrolling
        tabs, frames = _box(page, "#controls .tabs"), _box(page, "#frame-slider")
        assert gif["y"] + gif["height"] <= tabs["y"] < frames["y"]  # then the controls, then the rest
        assert abs(tabs["width"] - _box(page, "#result-gif")["width"]) < 2  # one column
    finally:
        page.close()


def test_desktop_keeps_its_two_columns(page):
    """At 1280 x 900 the layout is as before: controls at the left, results at the right, side by side."""
    _gif_loaded(page)
    controls, results = _box(page, "#controls"), _box(page, "#results")
    assert controls["x"] + controls["width"] <= results["x"] and abs(controls["y"] - results["y"]) < 1
    tabs, gif, frames = _box(page, "#controls .tabs"), _box(page, "#result-gif"), _box(page, "#frame-slider")
    assert abs(tabs["y"] - controls["y"]) < 1 and gif["y"] < frames["y"]  # each column in its own order
    assert results["width"] > 1.4 * controls["width"]  # the 2 : 3 split
    assert gif["y"] + gif["height"] < DESKTOP["height"]


def _source_caption(page, text: str):
    caption = page.locator("#source-caption")
    caption.get_by_text(text).wait_for()
    return caption


def test_an_example_click_predicts_it(page):
    page.get_by_role("tab", name="Test set").click()
    before = _result_gif_src(page)
    page.locator("#test-examples").get_by_text("42", exact=True).click()
    _gif_changed(page, before)
    _source_caption(page, "test sequence 42")
    assert page.get_by_label("number input for Sequence index").input_value() == "42"  # filled in too
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-examples").get_by_text("2024", exact=True).click()
    _gif_changed(page, before)
    _source_caption(page, "generated: seed 2024, 3 digit(s), speed 0.75")


def test_random_sequence_predicts_in_the_same_click(page):
    # A generated sequence first: whichever test sequence comes up (the first view's too) differs from it.
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#predict-generated").click()
    before = _gif_changed(page, before)
    page.get_by_role("tab", name="Test set").click()
    page.get_by_role("button", name="Random sequence").click()
    _gif_changed(page, before)
    index = page.get_by_label("number input for Sequence index").input_value()
    _source_caption(page, f"test sequence {index}")


def test_a_deep_link_opens_on_its_prediction(browser, app_url, tmp_path):
    page = _open(browser, app_url + "/?source=generate&seed=5&digits=2&speed=2&horizon=12")
    try:
        caption = _source_caption(page, "generated: seed 5, 2 digit(s), speed 2")
        _gif_loaded(page)
        assert page.get_by_role("tab", name="Generate").get_attribute("aria-selected") == "true"
        assert page.get_by_label("number input for Digits").input_value() == "2"
        assert page.get_by_label("number input for Frames to predict").input_value() == "12"
        link = caption.get_by_role("link", name="link to this view")
        assert link.get_attribute("href") == "?source=generate&seed=5&digits=2&speed=2&horizon=12&model=default"
        page.screenshot(path=str(tmp_path / "deep_link.png"), full_page=True)
    finally:
        page.close()


def test_a_bad_link_gets_a_message_and_the_default_view(browser, app_url):
    page = _open(browser, app_url + "/?source=generate&digits=9")
    try:
        message = "This link cannot be opened: Number of digits must be a whole number from 1 to 3"
        page.get_by_text(message).first.wait_for()
        _source_caption(page, "test sequence 3")  # the default view
    finally:
        page.close()


def test_a_prediction_offers_the_mp4_strip_and_csv_downloads(page):
    before = _result_gif_src(page)
    _set_index(page, 9)
    page.locator("#predict-test").click()
    _gif_changed(page, before)
    heads = {}
    for name in ("prediction.gif", "prediction.npy", "prediction.mp4", "prediction_strip.png", "metrics.csv"):
        link = page.locator(f'#downloads a[download="{name}"]')  # each download is a link to its file
        link.wait_for()
        response = page.request.get(link.get_attribute("href"))  # served, whole
        assert response.ok, name
        heads[name] = response.body()[:12]
    assert heads["prediction.mp4"][4:8] == b"ftyp" and heads["prediction_strip.png"][:4] == b"\x89PNG"
    assert heads["metrics.csv"].startswith(b"frame,series")


def test_an_mp4_upload_predicts(page, tmp_path):
    from framepred import data, video

    mp4 = video.write_mp4(tmp_path / "clip.mp4", list(data.test_set(1)[0]))
    before = _result_gif_src(page)
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload-file input[type=file]").set_input_files(mp4)
    page.locator("#upload-file").get_by_text("clip.mp4").wait_for()
    page.locator("#predict-upload").click()
    assert _gif_changed(page, before).endswith(".gif")
    _source_caption(page, "upload: 20 frames used")


CROWD = 40  # API clients holding the queue while a visitor clicks (issue #31: a crowd at once)
QUEUED = r"queue: (\d+)/(\d+)"  # Gradio's small indicator while an event waits: "queue: 12/40 | 1.3s"


def test_a_queued_visitor_sees_their_place_then_their_prediction(page, app_url, make_client):
    """While a crowd holds the queue (CROWD API clients, each sending a comparison right after its last
    answer), a visitor's click shows its place in the queue on the animation (the small indicator, as
    every click has it), then the visitor's new animation. No one in the crowd is turned away."""
    import re
    import threading

    import httpx

    before = _result_gif_src(page)
    _gif_loaded(page)  # the first view is in: the visitor's page waits for nothing else
    stop, refused, served = threading.Event(), [], []

    def crowd_member(i: int) -> None:
        client = make_client(app_url)
        while not stop.is_set():
            try:
                client.predict(i, 30, None, None, api_name="/compare_test")  # two models, 30 frames: the longest
                served.append(i)
            except Exception as e:  # a refusal ("Queue is full") or a failure: reported below
                refused.append(f"{type(e).__name__}: {e}")
                return

    crowd = [threading.Thread(target=crowd_member, args=(i,), daemon=True) for i in range(CROWD)]
    for t in crowd:
        t.start()
    try:
        waiting = 0
        for _ in range(600):  # until most of the crowd waits in the queue (Gradio's own count)
            waiting = httpx.get(f"{app_url}/gradio_api/queue/status", timeout=30).json()["queue_size"]
            if waiting >= CROWD // 2 or refused:
                break
            page.wait_for_timeout(100)
        assert not refused and waiting >= CROWD // 2, (waiting, refused[:3])
        _set_index(page, 8)
        page.locator("#predict-test").click()
        shown = page.wait_for_function(
            "re => { const t = document.querySelector('#result-gif [data-testid=status-tracker]')?.innerText;"
            " return t && new RegExp(re).test(t) && t; }", arg=QUEUED).json_value()
        position, size = map(int, re.search(QUEUED, shown).groups())
        assert 2 <= position <= size, shown  # behind others of the crowd, in a queue of its size
        print(f"\nthe queued visitor's indicator: {shown!r} ({waiting} waiting before the click)")
        _gif_changed(page, before)  # then its own prediction
        _gif_loaded(page)
    finally:
        stop.set()
        for t in crowd:
            t.join(120)
    assert not refused, refused[:3]
    assert len(served) >= CROWD  # the crowd was served too


EVAL_SET_SIZE = 100  # the bar: a 100-sequence set answers in <= 30 s on 2 cores


@pytest.fixture(scope="module")
def shipped_app_url(tmp_path_factory):
    """``python app.py`` serving the shipped checkpoints (the default model, as a Space serves it)."""
    import os

    from framepred.serving.launch import AppProcess

    repo = Path(__file__).resolve().parent.parent
    if not (repo / "checkpoints" / "default" / "model.safetensors").is_file():
        pytest.skip("no shipped checkpoints/default")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPRED_")}  # the app's defaults
    env["HF_HUB_OFFLINE"] = "1"
    folder = tmp_path_factory.mktemp("shipped_app")
    with AppProcess(repo / "app.py", env=env, cwd=folder, log=folder / "app.log", startup_timeout_s=180) as app:
        yield app.url


def test_evaluating_a_set_answers_and_a_click_predicts_a_worst_sequence(browser, shipped_app_url, tmp_path):
    import os
    import time

    import numpy as np

    from framepred import data

    seqs = data.generate(data.load_digits("test"), np.random.default_rng(7), EVAL_SET_SIZE, data.SEQ_LEN, 2,
                         dtype=np.uint8)
    np.save(tmp_path / "set.npy", seqs)
    page = _open(browser, shipped_app_url)
    try:
        page.set_default_timeout(180_000)  # the bar is 30 s; a shared, loaded machine may take longer
        before = _result_gif_src(page)
        page.get_by_role("tab", name="Evaluate a set").click()
        page.locator("#evaluate-set").wait_for()  # the tab is drawn before its file input is given the file
        page.locator("#evalset-file input[type=file]").set_input_files(str(tmp_path / "set.npy"))
        page.locator("#evalset-file").get_by_text("set.npy").wait_for()
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        page.locator("#evaluate-set").click()
        page.get_by_text(f"of {EVAL_SET_SIZE} sequences").first.wait_for()  # the progress, shown as it goes
        page.locator("#evalset-summary").get_by_text(f"{EVAL_SET_SIZE} sequences").wait_for()
        seconds = time.perf_counter() - t0
        print(f"\nevaluating {EVAL_SET_SIZE} sequences in the browser: {seconds:.1f} s "
              f"(1-min load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        page.locator("#evalset-summary").get_by_text("Mean MSE").wait_for()
        # The worst sequence, one click away: predicted in the main view.
        cell = page.locator('#evalset-worst [data-testid="cell-0-0"]')  # the first row's sequence number
        index = cell.inner_text().strip()
        cell.click()
        _gif_changed(page, before)
        _source_caption(page, f"evaluated set: sequence {index}")
    finally:
        page.close()
