"""framepred demo: a ConvLSTM predicts the next MovingMNIST frames (Gradio; Hugging Face Space or laptop).

UI only: layout, thin handlers and wiring. What a request does (validation, sequence sources, model
loading, the prediction pipeline, evaluating a set, cards, temporary files) lives in ``framepred.serving``.
Configuration: FRAMEPRED_* environment variables (docs/demo.md). The API and MCP tools are
framepred.serving.api's typed functions through ``gr.api`` (/predict_test, /predict_generated,
/predict_upload, /predict_drawn, /compare_test, /evaluate_set); deep links: framepred.serving.links.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

# A demo that must work offline: no usage telemetry unless the host asks for it.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The shipped models are this file's own checkpoints/, wherever the app is started from (the library's
# default is ./checkpoints of the current directory); FRAMEPRED_CHECKPOINTS_DIR still overrides it.
os.environ.setdefault("FRAMEPRED_CHECKPOINTS_DIR", str(Path(__file__).resolve().parent / "checkpoints"))

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from framepred import uploads, viz  # noqa: E402
from framepred.serving import api, cards, cpu, evalset, files, links, models, pipeline, sources, validate  # noqa: E402

# -- Constants (each limit is named once: here, in framepred.serving.* or in framepred.uploads)
REPO = Path(__file__).resolve().parent
EXAMPLES_DIR = REPO / "examples"
CONTEXT = sources.CONTEXT  # the first 10 frames are the context
MAX_HORIZON, DEFAULT_HORIZON = validate.MAX_HORIZON, validate.DEFAULT_HORIZON
CONCURRENCY_LIMIT = files.CONCURRENT_REQUESTS  # predictions at once, all endpoints together
PREDICT_GROUP = "predict"  # the concurrency group every prediction event (UI and API) shares
MAX_FILE_SIZE = uploads.MAX_FILE_BYTES  # upload limit enforced by the server while the file streams
FRAME_ALT = "the chosen frame: ground truth, prediction, error"  # the frame viewer picture's alt text
FIRST_VIEW_INDEX = 3  # the test sequence already playing when the page opens
NO_COMPARE = ""  # "compare with" value meaning: one model only
GENERATE_DEFAULTS = (0, 2, 1.0)  # the Generate tab's seed, digits, speed when the page opens
# In the page before a prediction's second step (show_details): wait until the new animation is painted.
AFTER_THE_ANIMATION = """async (...inputs) => { await new Promise(done => setTimeout(done));
    await document.querySelector('#result-gif img')?.decode().catch(() => {});
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))); return inputs; }"""
TORCH_THREADS, MALLOC_LIMITED = cpu.configure_threads(CONCURRENCY_LIMIT), cpu.limit_malloc_arenas()  # threads: none yet
# The default model loads now: the first visitor does not wait for it (a failure is shown in the page).
STARTUP_ERROR = models.preload_default()


# -- Handlers: delegate to framepred.serving; UI handlers return their outputs by component (a dict)
def _guard(fn):
    """ValueErrors (bad input, unloadable models) and anything unexpected become a gr.Error message."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:
            raise gr.Error(f"Prediction failed: {type(e).__name__}: {e}") from None
    return wrapper


def prune_gradio_cache() -> None:
    """Bound this app's files in Gradio's cache (serving.files); run as each request's folder is made."""
    keep = set()
    for component in demo.blocks.values():  # examples are kept, as Gradio's delete_cache does
        keep.update(getattr(component, "keep_in_cache", ()))
    files.prune_cache(demo.GRADIO_CACHE, demo.temp_file_sets, keep)


# The public API by name: framepred.serving.api's typed functions (gr.api, below), their errors as gr.Error.
API = {fn.__name__: _guard(fn) for fn in api.ENDPOINTS}


def _ui(source: sources.Source, horizon, model_key, compare_key) -> dict:
    """One UI request: what its click shows at once (animation, notes, source) and the details that
    ``show_details`` draws once it is on screen. No progress bar: it takes well under a second."""
    keys = [model_key] if compare_key in (None, NO_COMPARE) else [model_key, compare_key]
    result = pipeline.predict(source, horizon, models=keys, hidden=True, media=False)  # MP4, strips: show_details
    for note in result.notes:
        gr.Warning(note)
    return {gif_out: result.gif, notes_md: "\n".join(f"⚠️ {n}" for n in result.notes),
            source_md: links.caption(result), details_state: pipeline.details(result)}


def show_details(details, inspector_is_open) -> dict:
    """A prediction's second step, once its animation is shown: the frame viewer on its first predicted frame,
    the plots, the table, the downloads (MP4 and strips written now), the metrics JSON and, while "Inspect the
    model" is open (also if opened while it ran), the hidden-state pictures. Nothing before a prediction."""
    if not isinstance(details, pipeline.Details):
        return {}
    details, step = pipeline.with_media(details), CONTEXT + 1
    return {frame_slider: gr.Slider(1, CONTEXT + details.horizon, value=step, step=1), **show_frame(details, step),
            **_plots(details.plot_rows), table_out: details.table, files_out: details.files, json_out: details.report,
            **(_pictures(details) if inspector_is_open is True else {})}


def _plots(rows: dict | None) -> dict:
    """The MSE and SSIM line plots' rows (split with a mask: DataFrame.query costs ~3 ms a call)."""
    if rows is None:
        return {mse_plot: None, ssim_plot: None}
    rows = pd.DataFrame(rows)
    return {mse_plot: rows[rows["metric"] == "mse"], ssim_plot: rows[rows["metric"] == "ssim"]}


def follow_series(plot):  # a plot's legend: its new rows' series, once they are in (see pipeline.plot_colors)
    return gr.update(color_map=pipeline.plot_colors(plot))  # (None, for no rows, is not sent: nothing changes)


@_guard
def ui_predict_test(index, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    return _ui(sources.test(index), horizon, model_key, compare_key)


@_guard
def ui_predict_generated(seed, n_digits, speed, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    return _ui(sources.generated(seed, n_digits, speed), horizon, model_key, compare_key)


@_guard
def ui_predict_drawn(image, angle, speed, second_digit, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    return _ui(sources.drawn(image, angle, speed, second_digit=second_digit is True), horizon, model_key, compare_key)


@_guard
def ui_predict_upload(file, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    return _ui(sources.uploaded(file), horizon, model_key, compare_key)


@_guard
def ui_predict_random(horizon, model_key, compare_key=NO_COMPARE) -> dict:
    """"Random sequence": a random test-set index, predicted in the same click."""
    index = int(np.random.default_rng().integers(0, sources.test_set_size()))
    return {test_index: index, **ui_predict_test(index, horizon, model_key, compare_key)}


def _example(rows: list, i) -> list:
    return rows[validate.whole(i, "Example", 0, len(rows) - 1)]


@_guard
def ui_example_test(i, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    """A click on a test-set example: fill in its index and predict it."""
    (index,) = _example(TEST_EXAMPLES, i)
    return {test_index: index, **ui_predict_test(index, horizon, model_key, compare_key)}


@_guard
def ui_example_generated(i, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    row = _example(GENERATE_EXAMPLES, i)
    filled = dict(zip((seed_in, digits_in, speed_in), row))
    return {**filled, **ui_predict_generated(*row, horizon, model_key, compare_key)}


@_guard
def ui_example_upload(i, horizon, model_key, compare_key=NO_COMPARE) -> dict:
    (path,) = _example(UPLOAD_EXAMPLES, i)
    return {upload_in: path, **ui_predict_upload(path, horizon, model_key, compare_key)}


@_guard
def show_frame(details, step) -> dict:
    """The frame viewer's picture, inline in the page (a data URL: no file to write, cache or fetch),
    and its caption."""
    image, caption = pipeline.frame_view(getattr(details, "frames", None), step)
    return {frame_img: f'<img src="{viz.png_data_url(image)}" alt="{FRAME_ALT}">', frame_md: caption}


def _pictures(details) -> dict:
    """The inspector's (space, channels) pictures of a result's hidden states; none before any prediction."""
    summary = getattr(details, "hidden_summary", None)
    space, channels = viz.hidden_state_images(summary) if summary is not None else (None, None)
    return {space_img: space, chan_img: channels}


def open_inspector(details) -> dict:
    """The inspector was opened: remember it (for the next predictions) and draw the last prediction."""
    return {inspector_open: True, **_pictures(details)}


def close_inspector() -> dict:
    return {inspector_open: False}


@_guard
def select_model(key) -> dict:
    return {status_md: cards.model_status(key), card_md: cards.model_card(key)}


def _menus(available: dict, key: str, compare: str) -> dict:
    return {model_dd: gr.Dropdown(choices=models.model_choices(available), value=key),
            compare_dd: gr.Dropdown(choices=_compare_choices(available), value=compare)}


def _open_link(view: links.View, key: str, compare: str) -> dict:
    """The inputs a deep link names (tab, its settings, horizon) and their (checked) prediction."""
    h = DEFAULT_HORIZON if view.horizon is None else view.horizon
    if view.source == "test":
        index = view.values.get("index", FIRST_VIEW_INDEX)
        return {**ui_predict_test(index, h, key, compare), tabs: gr.Tabs(selected="test"), test_index: int(index),
                horizon_in: int(h)}
    row = [view.values.get(k, d) for k, d in zip(("seed", "digits", "speed"), GENERATE_DEFAULTS)]
    return {**ui_predict_generated(*row, h, key, compare), tabs: gr.Tabs(selected="generate"), seed_in: int(row[0]),
            digits_in: int(row[1]), speed_in: float(row[2]), horizon_in: int(h)}


def first_view(current, compare, request: gr.Request = None) -> dict:
    """On page load: the models present now, the model card, and a prediction already playing: the
    view the URL's query names (a deep link, see framepred.serving.links), else a test-set sequence.
    A link that cannot be opened gets a message and the default view."""
    available = models.model_sources()
    key = current if isinstance(current, str) and current in available else models.default_model_key(available)
    compare = compare if compare in available and compare != key else NO_COMPARE
    try:
        view = links.parse(request.query_params) if request is not None else None
        if view is not None:
            link_key, link_compare = view.model or key, view.compare or NO_COMPARE
            opened = _open_link(view, link_key, link_compare)
            return {**_menus(available, link_key, link_compare), **select_model(link_key), **opened}
    except (ValueError, gr.Error) as e:
        gr.Warning(f"This link cannot be opened: {getattr(e, 'message', e)} Showing the default view instead.")
    page = {**_menus(available, key, compare), status_md: cards.model_status(key)}
    try:
        return {**page, **select_model(key), **ui_predict_test(FIRST_VIEW_INDEX, DEFAULT_HORIZON, key, compare)}
    except gr.Error as e:  # e.g. a broken default model: the page still opens and says why
        gr.Warning(e.message)
        return page


@_guard
def ui_evaluate_set(file, horizon, model_key, progress=gr.Progress()) -> tuple:
    summary, rows, *rest = evalset.evaluate_file(file, horizon, model_key, progress=progress).outputs()
    return summary, pd.DataFrame(rows), *rest


@_guard
def ui_predict_picked(picked, horizon, model_key, compare_key, evt: gr.SelectData) -> dict:
    return _ui(evalset.picked_sequence(picked, evt.index[0]), horizon, model_key, compare_key)


# -- Layout
def _compare_choices(available: dict) -> list[tuple[str, str]]:
    return [("— none —", NO_COMPARE), *models.model_choices(available)]


_sources = models.model_sources()
_default = models.default_model_key(_sources)
_n_test = sources.test_set_size()
# Examples: a click fills the inputs and predicts (the rows stay on the server: a click sends its number).
TEST_EXAMPLES = [[i] for i in (3, 42, 777) if i < _n_test]
GENERATE_EXAMPLES = [list(GENERATE_DEFAULTS), [7, 1, 1.5], [2024, 3, 0.75]]
UPLOAD_EXAMPLES = [[str(p)] for p in map(EXAMPLES_DIR.joinpath, ("two_digits.gif", "three_digits.npy")) if p.is_file()]
SPEED = dict(minimum=validate.SPEED_MIN, maximum=validate.SPEED_MAX, step=validate.SPEED_STEP, label="Speed")
PLOT = dict(x="frame", y="value", color="series", x_title="frame t+k", height=220, show_label=False)  # per frame

with gr.Blocks(title="framepred: MovingMNIST frame prediction", delete_cache=files.DELETE_CACHE) as demo:
    gr.Markdown("# framepred: predicting the next frames of Moving MNIST\n"
                "A ConvLSTM reads **10 context frames** of bouncing digits and predicts what comes next. Pick a "
                "test sequence, generate one, **draw your own digit** or upload a clip; step through the frames, "
                "and compare two models side by side.")
    if STARTUP_ERROR:
        gr.Markdown(f"⚠️ {STARTUP_ERROR}")
    with gr.Row(elem_id="main-row"):
        with gr.Column(scale=2, min_width=320, elem_id="controls"):
            with gr.Tabs() as tabs:
                with gr.Tab("Test set", id="test"):
                    test_index = gr.Slider(0, _n_test - 1, value=FIRST_VIEW_INDEX, step=1, label="Sequence index",
                                           info=sources.test_source_label())
                    with gr.Row():
                        random_btn = gr.Button("Random sequence")
                        test_btn = gr.Button("Predict", variant="primary", elem_id="predict-test")
                    test_examples = gr.Dataset(components=[test_index], samples=TEST_EXAMPLES, type="index",
                                               label="Examples", elem_id="test-examples")
                with gr.Tab("Generate", id="generate"):
                    seed_in = gr.Number(GENERATE_DEFAULTS[0], label="Seed", precision=0, minimum=0,
                                        maximum=validate.MAX_SEED)
                    digits_in = gr.Slider(validate.N_DIGITS_MIN, validate.N_DIGITS_MAX, value=GENERATE_DEFAULTS[1],
                                          step=1, label="Digits")
                    speed_in = gr.Slider(value=GENERATE_DEFAULTS[2], info="1 = the standard Moving MNIST speed",
                                         **SPEED)
                    gen_btn = gr.Button("Predict", variant="primary", elem_id="predict-generated")
                    gen_examples = gr.Dataset(components=[seed_in, digits_in, speed_in], samples=GENERATE_EXAMPLES,
                                              type="index", label="Examples", elem_id="generate-examples")
                with gr.Tab("Draw", id="draw"):
                    sketchpad = gr.Sketchpad(label="Draw a digit", type="numpy", canvas_size=(280, 280),
                                             brush=gr.Brush(default_size=14, colors=["#000000", "#ffffff"],
                                                            default_color="#000000"), elem_id="sketchpad", height=320)
                    gr.Markdown("Pick the brush (✎) at the left of the canvas, draw one digit, then *Predict*.")
                    angle = gr.Slider(0, 360, value=30, step=5, label="Direction (degrees)",
                                      info="0 = to the right, 90 = up")
                    draw_speed = gr.Slider(value=1.0, **SPEED)
                    second = gr.Checkbox(False, label="Add a random held-out digit")
                    draw_btn = gr.Button("Predict", variant="primary", elem_id="predict-drawn")
                with gr.Tab("Upload", id="upload"):
                    upload_in = gr.File(label="A .npy array (T, H, W[, C]), an animated .gif or an .mp4 / .webm video",
                                        file_types=[".npy", ".gif", ".mp4", ".webm"], elem_id="upload-file")
                    gr.Markdown(
                        f"Frames are turned grey and resized to 64 x 64; a light background is inverted. Limits: "
                        f"{uploads.MAX_FILE_BYTES // 2**20} MiB, {uploads.MIN_FRAMES}-{uploads.MAX_FRAMES} frames, "
                        f"frames {uploads.MIN_SIDE} x {uploads.MIN_SIDE} to {uploads.MAX_SIDE} x {uploads.MAX_SIDE}; "
                        "uint8 / integers 0..255 or floats in [0, 1]."
                    )
                    upload_btn = gr.Button("Predict", variant="primary", elem_id="predict-upload")
                    upload_examples = gr.Dataset(components=[upload_in], samples=UPLOAD_EXAMPLES, type="index",
                                                 label="Examples", visible=bool(UPLOAD_EXAMPLES))
                with gr.Tab("Evaluate a set", id="evalset"):
                    set_in = gr.File(label="A .npy set of sequences", file_types=[".npy"], elem_id="evalset-file")
                    gr.Markdown(evalset.HELP)
                    set_btn = gr.Button("Evaluate", variant="primary", elem_id="evaluate-set")
                    set_md = gr.Markdown(elem_id="evalset-summary")
                    set_plot = gr.LinePlot(title="Mean MSE per frame t+k", y_title="MSE", **PLOT)
                    set_table = gr.Dataframe(headers=pipeline.TABLE_HEADERS, label="Metrics per frame", max_height=260)
                    worst_df = gr.Dataframe(headers=evalset.WORST_HEADERS, label=evalset.WORST_LABEL,
                                            elem_id="evalset-worst")
            horizon_in = gr.Slider(1, MAX_HORIZON, value=DEFAULT_HORIZON, step=1, label="Frames to predict",
                                   info="Beyond the available ground truth only the prediction is shown")
            model_dd = gr.Dropdown(models.model_choices(_sources), value=_default, label="Model")
            compare_dd = gr.Dropdown(_compare_choices(_sources), value=NO_COMPARE, label="Compare with")
            status_md = gr.Markdown(cards.model_status(_default))
        with gr.Column(scale=3, min_width=360, elem_id="results"):
            notes_md = gr.Markdown(elem_id="notes")
            source_md = gr.Markdown(elem_id="source-caption")  # the result's source and a link to it
            gif_out = gr.Image(label="Ground truth | prediction | |error|", type="filepath", show_label=False,
                               elem_id="result-gif", height=260)
            with gr.Group():
                frame_slider = gr.Slider(1, CONTEXT + DEFAULT_HORIZON, value=CONTEXT + 1, step=1,
                                         label="Step through the frames (1-10: context)", elem_id="frame-slider")
                frame_img = gr.HTML(elem_id="frame-image")  # a picture, inline (see show_frame)
                frame_md = gr.Markdown(elem_id="frame-caption")
            with gr.Row():
                mse_plot = gr.LinePlot(title=viz.MSE_TITLE, y_title="MSE", elem_id="mse-plot", **PLOT)
                ssim_plot = gr.LinePlot(title="SSIM per frame", y_title="SSIM", elem_id="ssim-plot", **PLOT)
            table_out = gr.Dataframe(headers=pipeline.TABLE_HEADERS, label="Metrics per predicted frame",
                                     interactive=False, max_height=260)
            files_out = gr.File(label=pipeline.DOWNLOADS, file_count="multiple", interactive=False, elem_id="downloads")
            with gr.Accordion("Inspect the model", open=False) as inspector:
                card_md = gr.Markdown()
                gr.Markdown("Hidden-state activity, mean |h| per layer, each layer on its own colour scale (dark = "
                            "quiet); the red line is where the context ends and the model starts predicting. "
                            "Top: averaged over channels (rows: layers, columns: time steps). Bottom: averaged over "
                            "space, one block per layer (rows: channels, columns: time steps).")
                space_img = gr.Image(label="Hidden states over space", format="png", interactive=False,
                                     show_label=False, elem_id="hidden-space")
                chan_img = gr.Image(label="Hidden states per channel", format="png", interactive=False,
                                    show_label=False, elem_id="hidden-channels")
            with gr.Accordion("Metrics JSON", open=False):
                json_out = gr.JSON(label="metrics")

    # Per user: whether the inspector is open, and the last prediction's details (pipeline.Details).
    inspector_open, details_state = gr.State(False), gr.State(None)
    # A prediction in two steps: the click shows the new animation (ui_outputs, see _ui); once it is on
    # screen, show_details draws the rest (detail_outputs), so that drawing the plots and the table
    # does not hold the animation back. Not the model card: it follows the model menu (select_model).
    ui_outputs = [gif_out, notes_md, source_md, details_state]
    detail_outputs = [frame_slider, frame_img, frame_md, mse_plot, ssim_plot, table_out, files_out, json_out,
                      space_img, chan_img]
    predict = {"concurrency_id": PREDICT_GROUP, "concurrency_limit": CONCURRENCY_LIMIT}  # one limit for all
    # A UI prediction: not an API endpoint; a small "running" indicator on the animation only (the full
    # overlay's animation cost a 2-thread prediction ~20 ms in a browser on the same 2 cores; README).
    ui = {**predict, "api_visibility": "private", "show_progress_on": [gif_out], "show_progress": "minimal"}
    # The second step: no model, no queue (a few ms), asked for once the new animation is decoded and painted.
    details = {"fn": show_details, "inputs": [details_state, inspector_open], "outputs": detail_outputs,
               "queue": False, "show_progress": "hidden", "api_visibility": "private", "js": AFTER_THE_ANIMATION}
    common = [horizon_in, model_dd, compare_dd]
    # (trigger, handler, its inputs before the common ones, the inputs it fills in before predicting)
    clicks = [(test_btn, ui_predict_test, [test_index], []),
              (gen_btn, ui_predict_generated, [seed_in, digits_in, speed_in], []),
              (draw_btn, ui_predict_drawn, [sketchpad, angle, draw_speed, second], []),
              (upload_btn, ui_predict_upload, [upload_in], []),
              # One click: "Random sequence" and the examples fill in their inputs and predict them.
              (random_btn, ui_predict_random, [], [test_index]),
              (test_examples, ui_example_test, [test_examples], [test_index]),
              (gen_examples, ui_example_generated, [gen_examples], [seed_in, digits_in, speed_in]),
              (upload_examples, ui_example_upload, [upload_examples], [upload_in])]
    for trigger, fn, inputs, filled in clicks:
        trigger.click(fn, [*inputs, *common], [*filled, *ui_outputs], **ui).success(**details)
    for plot in (mse_plot, ssim_plot):  # new series: a new legend (see follow_series)
        plot.change(follow_series, plot, plot, queue=False, show_progress="hidden", api_visibility="private")
    # A frame step draws one small picture (~2 ms, no model): straight to the server, not queued.
    frame_slider.input(show_frame, [details_state, frame_slider], [frame_img, frame_md], queue=False,
                       api_visibility="private")
    inspector.expand(open_inspector, details_state, [inspector_open, space_img, chan_img], api_visibility="private")
    inspector.collapse(close_inspector, None, inspector_open, api_visibility="private")
    model_dd.change(select_model, model_dd, [status_md, card_md], api_visibility="private")
    picked = gr.State(None)  # "Evaluate a set" (serving.evalset): the evaluated file, its worst sequences
    set_btn.click(ui_evaluate_set, [set_in, horizon_in, model_dd], [set_md, set_plot, set_table, worst_df, picked],
                  **predict, api_visibility="private")  # its progress bar over the tab's outputs
    worst_df.select(ui_predict_picked, [picked, *common], ui_outputs, **ui).success(**details)
    link_inputs = [tabs, test_index, seed_in, digits_in, speed_in, horizon_in]  # what a link sets (_open_link)
    demo.load(first_view, [model_dd, compare_dd], [model_dd, compare_dd, status_md, card_md, *link_inputs,
                                                   *ui_outputs], **ui).success(**details)
    # The public API (default model), in the UI's concurrency group. Every value, also a wrong type or out
    # of range, reaches the app's own checks and gets a message naming the input and its range.
    for name, fn in API.items():
        gr.api(fn, api_name=name, **predict)
files.clean_also(prune_gradio_cache)

demo.queue(max_size=files.QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
# ZeroGPU (only where `spaces` is installed): every model loaded now, and first_view's prediction made now on
# the CPU and kept (opening the page takes no GPU call); a request's models run in one short GPU call (zerogpu.py).
from framepred.serving import zerogpu  # noqa: E402

ZEROGPU = zerogpu.start_up(lambda: pipeline.precompute(sources.test(FIRST_VIEW_INDEX), DEFAULT_HORIZON, hidden=True))
# The GIF is small (2x panels); the browser enlarges it without blurring the pixels.
CSS = ("#result-gif img, #frame-image img { image-rendering: pixelated; }\n"
       "#frame-image img { display: block; margin: 0 auto; height: 220px; max-width: 100%; object-fit: contain; }\n"
       "@media (max-width: 430px) { #main-row { flex-direction: column; } #controls, #results { display: contents; }\n"
       "  #notes, #source-caption, #result-gif { order: -1; } }")  # a phone: the animation first, then the controls
# The API endpoints are MCP tools too (/gradio_api/mcp/; tool descriptions from their docstrings).
# The example clips are served from examples/ wherever the app is started from (a click on one fills
# the upload field with it).
LAUNCH_KWARGS = {"max_file_size": MAX_FILE_SIZE, "css": CSS, "mcp_server": True, "allowed_paths": [str(EXAMPLES_DIR)]}

if __name__ == "__main__":
    demo.launch(**LAUNCH_KWARGS)  # GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured by Gradio
