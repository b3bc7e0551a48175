"""app.py: handlers called directly, then the three named API endpoints through gradio_client.

Everything runs against the tiny model in a temporary checkpoints/ folder (see conftest.py).
"""

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from framepred import data
from framepred.serving.api import as_file  # a file argument of the API, in-process


def _gif_frames(path) -> int:
    with Image.open(path) as im:
        return im.n_frames


def _frame_picture(html: str) -> np.ndarray:
    """The frame viewer's picture, decoded from its inline data URL."""
    import base64
    import io

    match = re.fullmatch(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"<>]+">', html)
    assert match, html[:120]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(match.group(1)))))


def _outputs(app, out: dict) -> SimpleNamespace:
    """A UI handler's outputs (a dict keyed by component) by the app's names for the components."""
    assert all(isinstance(c, gr.blocks.Block) for c in out), "outputs are keyed by component"
    named = {name: c for name, c in vars(app).items() if isinstance(c, gr.blocks.Block)}
    return SimpleNamespace(**{name: out[c] for name, c in named.items() if c in out})


def _shown(app, out: dict, inspector_open: bool = False) -> SimpleNamespace:
    """What a UI prediction shows, by name: its click's outputs ``out`` and its second step's
    (``show_details``, which the page asks for once the animation is on screen)."""
    return _outputs(app, {**out, **app.show_details(out[app.details_state], inspector_open)})


def _check_ui(app, out, horizon, n_truth, models=("default",), filled=()):
    """A UI prediction's outputs: the click's, what it changes at once, nothing more (the card follows
    the model menu) and the inputs it ``filled`` in; then its second step's, the inspector's pictures
    only while it is open (see test_inspector_...). Returns them all by name."""
    assert set(out) == {*app.ui_outputs, *filled}
    assert set(app.show_details(out[app.details_state], False)) == set(app.detail_outputs) - {app.space_img,
                                                                                                app.chan_img}
    o = _shown(app, out)
    gif, slider, frame_img, caption = o.gif_out, o.frame_slider, o.frame_img, o.frame_md
    mse_plot, ssim_plot, table, files, report = o.mse_plot, o.ssim_plot, o.table_out, o.files_out, o.json_out
    summary, source = o.details_state.hidden_summary, o.source_md
    assert _gif_frames(gif) == data.CONTEXT + horizon
    # The downloads: GIF, each model's .npy, MP4, each model's PNG strip, and with ground truth the CSV.
    kinds = ["gif", *["npy"] * len(models), "mp4", *["png"] * len(models), *(["csv"] if n_truth else [])]
    assert [f.rsplit(".", 1)[1] for f in files] == kinds
    assert np.load(files[1]).shape == (horizon, 64, 64)
    assert report["horizon"] == horizon and report["ground_truth_frames"] == n_truth
    assert [m["model"] for m in report["models"]] == list(models) and report["model"] == models[0]
    json.dumps(report)  # JSON-able
    # The frame viewer opens on the first predicted frame, over context + prediction.
    assert slider.maximum == data.CONTEXT + horizon and slider.value == data.CONTEXT + 1
    assert _frame_picture(frame_img).ndim == 3 and "predicted t+1" in caption
    if n_truth:
        assert len(report["metrics"]["mse"]["per_frame"]) == n_truth
        assert len(table) == (n_truth + 1) * len(models) + 1  # per frame and model, means, baseline
        # Line plots: every model's curve (named as in the table) and the copy-last-frame baseline's.
        assert sorted(set(mse_plot.series)) == sorted(["copy last frame", *models])
        assert len(mse_plot) == len(ssim_plot) == (len(models) + 1) * n_truth
        np.testing.assert_allclose(mse_plot[mse_plot.series == models[0]].value,
                                   report["metrics"]["mse"]["per_frame"], rtol=1e-6)
        # Their legend, once the rows are in the page: a colour per series, the models' in order.
        colors = app.follow_series(app.mse_plot.postprocess(mse_plot))["color_map"]
        assert list(colors) == [*models, "copy last frame"] and len(set(colors.values())) == len(colors)
    else:
        assert mse_plot is None and ssim_plot is None
    # The hidden-state summary is always kept (the inspector's pictures are drawn from it).
    assert len(summary["space"]) == len(summary["labels"]) == 2  # the tiny model's two layers
    assert summary["space"][0].shape[0] == data.CONTEXT + horizon - 1  # one step per frame read
    assert source.startswith(f"**Source:** {report['source']}")  # the result names its source
    return o


# -- handlers --------------------------------------------------------------------------------------
def test_test_set_handler(app_module):
    out = app_module.ui_predict_test(3, 12, "default")
    _check_ui(app_module, out, 12, 10)  # the test set has 20 frames: 10 of truth


def test_inspector_draws_hidden_states_only_when_open(app_module):
    app = app_module
    details = _check_ui(app, app.ui_predict_test(3, 5, "default"), 5, 5).details_state
    opened = app.open_inspector(details)  # opening draws the last prediction
    space, chans = opened[app.space_img], opened[app.chan_img]
    assert opened[app.inspector_open] is True and space.ndim == chans.ndim == 3
    assert space.dtype == chans.dtype == np.uint8
    assert app.open_inspector(None) == {app.inspector_open: True, app.space_img: None, app.chan_img: None}
    assert app.close_inspector() == {app.inspector_open: False}
    # After each prediction the pictures follow it while the inspector is open (also when it was
    # opened while the prediction ran: the second step reads whether it is open), and are left alone
    # while it is closed.
    again = _shown(app, app.ui_predict_test(3, 5, "default"), inspector_open=True)
    np.testing.assert_array_equal(again.space_img, space)  # the same sequence: the same pictures
    other = _shown(app, app.ui_predict_test(4, 5, "default"), inspector_open=True)
    assert other.space_img.shape == space.shape and not np.array_equal(other.space_img, space)
    assert not hasattr(_shown(app, app.ui_predict_test(4, 5, "default")), "space_img")  # closed: left alone
    assert app.show_details(None, True) == {}  # nothing predicted yet: nothing to show


def test_generated_handler_is_deterministic(app_module):
    out = _check_ui(app_module, app_module.ui_predict_generated(5, 3, 1.5, 7, "default"), 7, 7)
    again = app_module.API["predict_generated"](5, 3, 1.5, 7)
    np.testing.assert_array_equal(np.load(out.files_out[1]), np.load(again[1]["path"]))


def test_upload_handler_npy_and_gif(app_module, tmp_path):
    frames = (np.random.default_rng(0).random((13, 64, 64)) * 255).astype(np.uint8)
    np.save(tmp_path / "a.npy", frames)
    _check_ui(app_module, app_module.ui_predict_upload(str(tmp_path / "a.npy"), 5, "default"), 5, 3)
    imgs = [Image.fromarray(f).resize((96, 96)) for f in frames]
    imgs[0].save(tmp_path / "a.gif", save_all=True, append_images=imgs[1:], duration=50, loop=0)
    _check_ui(app_module, app_module.ui_predict_upload(str(tmp_path / "a.gif"), 2, None), 2, 2)


def test_upload_handler_mp4_and_bad_videos(app_module, tmp_path):
    from framepred import video

    clip = data.test_set(1)[0]  # (20, 64, 64) uint8
    mp4 = video.write_mp4(tmp_path / "clip.mp4", list(clip))
    out = _check_ui(app_module, app_module.ui_predict_upload(mp4, 5, "default"), 5, 5)
    assert out.json_out["source"] == "upload: 20 frames used"
    content = Path(mp4).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(content[: len(content) // 2])
    damaged = "MP4 video (cannot be decoded: the file looks damaged or truncated|is truncated)"
    with pytest.raises(gr.Error, match=damaged):
        app_module.ui_predict_upload(str(tmp_path / "cut.mp4"), 5, "default")
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 20)
    with pytest.raises(gr.Error, match="this file is named .mp4 but its content is not an MP4 video"):
        app_module.ui_predict_upload(str(tmp_path / "notes.mp4"), 5, "default")


def test_a_prediction_writes_every_download_whole(app_module):
    """The MP4 (the GIF's frames), each model's PNG strip and the metrics CSV, beside the GIF and the
    .npy files; no temporary file left behind."""
    import csv

    from framepred import video

    out = _shown(app_module, app_module.ui_predict_test(3, 12, "default", "other"))
    gif, npy_a, npy_b, mp4, strip_a, strip_b, table = out.files_out
    assert Path(mp4).name == "prediction.mp4" and Path(table).name == "metrics.csv"
    assert Path(strip_a).name == "prediction_strip.png" and Path(strip_b).name == "prediction_2_other_strip.png"
    assert video.read_video(mp4).shape == (data.CONTEXT + 12, 64, 64)  # one video frame per GIF frame
    with Image.open(gif) as im:
        assert im.n_frames == data.CONTEXT + 12
    for strip, npy in ((strip_a, npy_a), (strip_b, npy_b)):
        with Image.open(strip) as im:  # two rows of 22 frames, 2-pixel gaps
            assert im.mode == "L" and im.size == (22 * 66 - 2, 2 * 66 - 2)
            bottom = np.asarray(im)[66:, 10 * 66 : 10 * 66 + 64] / 255.0  # the first predicted frame
        np.testing.assert_allclose(bottom, np.load(npy)[0], atol=1 / 255)
    rows = list(csv.reader(open(table)))
    assert rows[0] == ["frame", "series", "mse", "mae", "ssim", "psnr"]
    assert len(rows) == 1 + 3 * 10  # 10 frames with ground truth: default, other, copy last frame
    assert {r[1] for r in rows[1:]} == {"default", "other", "copy last frame"}
    mse = [float(r[2]) for r in rows[1:] if r[1] == "default"]
    np.testing.assert_allclose(mse, out.json_out["metrics"]["mse"]["per_frame"], rtol=1e-9)
    assert sorted(p.name for p in Path(gif).parent.iterdir()) == sorted(Path(f).name for f in out.files_out)


def test_a_click_sends_its_animation_before_the_mp4_and_strips_are_written(app_module):
    """The click's own step writes what the animation and the details need (GIF, .npy, CSV); the MP4
    and the strips follow in the second step, the strips the same pictures as a one-step request's
    (the API's) and the MP4 the same animation; a folder pruned between the steps costs its
    downloads, not the page."""
    import shutil

    from framepred import video
    from framepred.serving import pipeline, sources

    click = app_module.ui_predict_test(5, 10, "default")
    folder = Path(click[app_module.gif_out]).parent
    assert sorted(p.suffix for p in folder.iterdir()) == [".csv", ".gif", ".npy"]
    files = _shown(app_module, click).files_out
    assert [Path(f).suffix for f in files] == [".gif", ".npy", ".mp4", ".png", ".csv"]
    whole = pipeline.predict(sources.test(5), 10, models=["default"])  # the API's request: one step
    assert whole.files[3].endswith("_strip.png")
    with Image.open(files[3]) as a, Image.open(whole.files[3]) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    mp4, whole_mp4 = video.read_video(files[2]), video.read_video(whole.mp4)  # grey, decoded
    assert mp4.shape == whole_mp4.shape == (data.CONTEXT + 10, 64, 64)
    assert np.abs(mp4.astype(int) - whole_mp4.astype(int)).mean() < 1
    late = app_module.ui_predict_test(6, 10, "default")
    shutil.rmtree(Path(late[app_module.gif_out]).parent)  # pruned before the page asked for the rest
    gone = _shown(app_module, late)
    assert gone.files_out == [] and gone.table_out and "predicted t+1" in gone.frame_md


def test_evaluate_a_set_and_predict_one_of_its_worst_sequences(app_module, tmp_path):
    app = app_module
    seqs = data.test_set(6)  # (6, 20, 64, 64) uint8
    np.save(tmp_path / "set.npy", seqs.swapaxes(0, 1))  # MovingMNIST's own layout (20, N, 64, 64)
    summary, plot, table, worst, picked = app.ui_evaluate_set(str(tmp_path / "set.npy"), 10, "other")
    assert "**6 sequences**" in summary and "model 'other'" in summary
    assert set(plot.series) == {"other", "copy last frame", "blank frames"} and len(table) == 3 * 10 + 3
    assert len(worst) == 6 and worst == sorted(worst, key=lambda r: -r[1])
    out = _check_ui(app, app.ui_predict_picked(picked, 10, "default", "", SimpleNamespace(index=[2, 1])), 10, 10)
    assert out.json_out["source"] == f"evaluated set: sequence {worst[2][0]}"
    np.testing.assert_allclose(out.details_state.frames["truth"][0], seqs[worst[2][0], 10], atol=1)
    with pytest.raises(gr.Error, match="The set has 1001 sequences"):
        with open(tmp_path / "big.npy", "wb") as f:
            header = {"descr": "|u1", "fortran_order": False, "shape": (1001, 20, 64, 64)}
            np.lib.format.write_array_header_1_0(f, header)
        app.ui_evaluate_set(str(tmp_path / "big.npy"), 10, "default")


def test_upload_with_no_ground_truth_left(app_module, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((11, 64, 64), np.uint8))
    gif, npy, report = app_module.API["predict_upload"](as_file(tmp_path / "a.npy"), 4)
    assert report["ground_truth_frames"] == 1 and np.load(npy["path"]).shape == (4, 64, 64)
    out = app_module.ui_predict_test(0, 30, "default")  # horizon beyond the 10 truth frames
    _check_ui(app_module, out, 30, 10)


def test_api_handlers_return_gif_npy_and_json(app_module, tmp_path):
    gif, npy, report = app_module.API["predict_test"](0, 10)  # files as Gradio's file payload
    assert gif == {"path": gif["path"], "meta": {"_type": "gradio.FileData"}} and gif["path"].endswith(".gif")
    assert np.load(npy["path"]).shape == (10, 64, 64)
    assert report["model"] == "default" and set(report["metrics"]) >= {"mse", "mae", "ssim", "psnr"}


BAD_CALLS = [
    ("ui_predict_test", (-1, 10, "default"), "index"),
    ("ui_predict_test", (1000, 10, "default"), "index"),
    ("ui_predict_test", (2.5, 10, "default"), "index"),
    ("ui_predict_test", (None, 10, "default"), "index"),
    ("ui_predict_test", ("abc", 10, "default"), "index"),
    ("ui_predict_test", (0, 0, "default"), "Frames to predict"),
    ("ui_predict_test", (0, 31, "default"), "Frames to predict"),
    ("ui_predict_test", (0, 1.5, "default"), "Frames to predict"),
    ("ui_predict_test", (0, 5, "/etc/passwd"), "Unknown model"),
    ("ui_predict_test", (0, 5, "../checkpoints/default"), "Unknown model"),
    ("ui_predict_test", (0, 5, "nope"), "Unknown model"),
    ("ui_predict_generated", (-1, 2, 1.0, 5, "default"), "Seed"),
    ("ui_predict_generated", (0, 0, 1.0, 5, "default"), "digits"),
    ("ui_predict_generated", (0, 4, 1.0, 5, "default"), "digits"),
    ("ui_predict_generated", (0, 2, 0.0, 5, "default"), "Speed"),
    ("ui_predict_generated", (0, 2, float("nan"), 5, "default"), "Speed"),
    ("ui_predict_generated", (0, 2, 100, 5, "default"), "Speed"),
    ("ui_predict_upload", (None, 5, "default"), "Upload a .npy, .gif, .mp4 or .webm"),
    ("predict_test", (5000, 5), "index"),
    ("predict_generated", (0, 2, 1.0, 99), "Frames to predict"),
    ("predict_upload", (None, 5), "Upload"),
    ("ui_predict_drawn", (None, 0, 1.0, False, 5, "default"), "empty"),
    ("ui_predict_drawn", ({"composite": np.zeros((100, 100, 4), np.uint8)}, 0, 1.0, False, 5, "default"), "empty"),
    ("ui_predict_drawn", ({"composite": np.full((100, 100, 4), 255, np.uint8)}, 0, 1.0, False, 5, "default"), "empty"),
    ("ui_predict_drawn", (None, 400, 1.0, False, 5, "default"), "Direction"),
    ("ui_predict_drawn", (None, 0, 9.0, False, 5, "default"), "Speed"),
    ("predict_drawn", (as_file("/nonexistent.png"), 0, 1.0, 5), "empty or could not be found"),
    # A path as text is not an upload: never read (it would be the server's own file).
    ("predict_drawn", ("/etc/passwd", 0, 1.0, 5), "The drawing must be uploaded to this app"),
    ("predict_upload", (str(Path(__file__)), 5), "The file must be uploaded to this app"),
    ("predict_upload", ({"path": "/etc/passwd"}, 5), "must be uploaded to this app .*got \\{'path'"),
    ("compare_test", (0, 5, "default", "default"), "two different models"),
    ("compare_test", (0, 5, "default", "nope"), "Unknown model"),
    ("compare_test", (0, 5, "../default", None), "Unknown model"),
    ("compare_test", (1000, 5, None, None), "index"),
    ("ui_predict_test", (0, 5, "default", "default"), "two different models"),
    ("evaluate_set", (None, 5), "Upload a set first"),
    ("evaluate_set", ("/nonexistent.npy", 5), "The set must be uploaded to this app"),
    ("evaluate_set", ({"path": __file__, "meta": {"_type": "gradio.FileData"}}, 5), "not a NumPy .npy file"),
    ("ui_evaluate_set", ("/nonexistent.npy", 5, "default"), "could not be found"),
    ("ui_evaluate_set", (None, 5, "default"), "Upload a set first"),
    ("ui_predict_picked", (None, 5, "default", "", SimpleNamespace(index=[0, 0])), "Evaluate a set first"),
]


@pytest.mark.parametrize("name, args, message", BAD_CALLS, ids=[f"{n}{a}" for n, a, _ in BAD_CALLS])
def test_bad_inputs_give_gr_error(app_module, name, args, message):
    handler = app_module.API.get(name) or getattr(app_module, name)  # an API function, else a UI handler
    with pytest.raises(gr.Error, match=message):
        handler(*args)


BAD_UPLOADS = {
    "few frames": (np.zeros((10, 64, 64), np.uint8), "at least 11"),
    "wrong rank": (np.zeros((64, 64), np.uint8), "dimension"),
    "NaN": (np.full((12, 64, 64), np.nan, np.float32), "NaN"),
    "bool": (np.zeros((12, 64, 64), bool), "boolean"),
    "complex": (np.zeros((12, 64, 64), complex), "complex"),
    "object": (np.array([None] * 12, dtype=object), "Python object"),
    "empty": (np.zeros((0, 64, 64), np.uint8), "empty"),
    "too many frames": (np.zeros((1001, 1, 1), np.uint8), "limit is 1000"),
    "too large frames": (np.zeros((11, 2000, 1), np.uint8), "too large"),
    "floats out of range": (np.full((12, 4, 4), 7.0), r"\[0, 1\]"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_give_gr_error(app_module, tmp_path, case):
    arr, message = BAD_UPLOADS[case]
    np.save(tmp_path / "x.npy", arr, allow_pickle=True)
    with pytest.raises(gr.Error, match=message):
        app_module.ui_predict_upload(str(tmp_path / "x.npy"), 5, "default")


def test_undecodable_upload_gives_gr_error(app_module, tmp_path):
    (tmp_path / "x.gif").write_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(gr.Error, match="GIF"):
        app_module.API["predict_upload"](as_file(tmp_path / "x.gif"), 5)
    (tmp_path / "x.txt").write_text("not a video")
    with pytest.raises(gr.Error, match="Unsupported file type"):
        app_module.API["predict_upload"](as_file(tmp_path / "x.txt"), 5)


def _hand_digit_png(path, size=200, dark_on_light=True):
    """A hand-made '7' as a PNG: two strokes, as someone would draw it."""
    from PIL import ImageDraw

    bg, ink = ("white", "black") if dark_on_light else ("black", "white")
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    d.line([(50, 40), (150, 40), (90, 170)], fill=ink, width=12)
    im.save(path)
    return str(path)


def test_drawn_digit_handler_and_api(app_module, tmp_path):
    png = _hand_digit_png(tmp_path / "seven.png")
    out = app_module.ui_predict_drawn({"composite": np.asarray(Image.open(png).convert("RGBA"))}, 0, 1.0,
                                      True, 6, "default")
    assert "inverted" in _check_ui(app_module, out, 6, 6).notes_md  # dark strokes on white: inverted, and said
    gif, npy, report = app_module.API["predict_drawn"](as_file(png), 90, 1.0, 10)
    assert np.load(npy["path"]).shape == (10, 64, 64) and _gif_frames(gif["path"]) == 20
    assert "drawn digit, direction 90°" in report["source"]
    # The drawn digit moves up (90 degrees): its centre of mass rises frame by frame until a wall.
    from framepred.serving import sources

    seq = sources.drawn_sequence(png, 90, 1.0, 4).frames
    ys = [(np.indices(f.shape)[0] * f).sum() / f.sum() for f in seq]
    assert ys[1] < ys[0] or ys[0] < 4  # up, unless it started at the top wall


def test_a_sketchpad_drawing_is_read_against_its_own_canvas(app_module, tmp_path):
    """The Draw tab's value: dark strokes over its white canvas are what is expected, so no inversion
    note; the digit is the one the inverted reading of the same picture gives."""
    from framepred import sketch

    seven = np.asarray(Image.open(_hand_digit_png(tmp_path / "seven.png")).convert("RGBA"))
    white = np.full_like(seven, 255)
    drawing = {"background": white, "layers": [], "composite": seven}
    o = _check_ui(app_module, app_module.ui_predict_drawn(drawing, 0, 1.0, False, 6, "default"), 6, 6)
    assert o.notes_md == "" and "inverted" not in json.dumps(o.json_out)
    guessed, inverted = sketch.sketch_to_digit(seven)
    known, told = sketch.sketch_to_digit(seven, white)
    assert inverted and not told and np.array_equal(known, guessed)
    # Light strokes on a dark canvas: the same digit; paint in the canvas's own colour is no ink.
    light = np.concatenate([255 - seven[..., :3], seven[..., 3:]], axis=2)
    assert np.array_equal(sketch.sketch_to_digit(light, 255 - white[..., :3])[0], known)
    with pytest.raises(ValueError, match="empty"):
        sketch.sketch_to_digit(white, white)
    with pytest.raises(ValueError, match="differ in size"):
        sketch.sketch_to_digit(seven, white[:100])


def test_light_background_upload_is_inverted(app_module, tmp_path):
    seq = data.test_set(1)[0]  # uint8 (20, 64, 64), light digits on black
    np.save(tmp_path / "upright.npy", seq)
    np.save(tmp_path / "inverted.npy", 255 - seq)
    _, npy_up, rep_up = app_module.API["predict_upload"](as_file(tmp_path / "upright.npy"), 10)
    _, npy_inv, rep_inv = app_module.API["predict_upload"](as_file(tmp_path / "inverted.npy"), 10)
    assert rep_up["notes"] == [] and "inverted" in rep_inv["notes"][0]
    np.testing.assert_allclose(np.load(npy_inv["path"]), np.load(npy_up["path"]), atol=1e-5)  # the same prediction
    assert rep_inv["metrics"]["mse"]["mean"] == pytest.approx(rep_up["metrics"]["mse"]["mean"], rel=1e-4)


def test_compare_two_models(app_module):
    out = _check_ui(app_module, app_module.ui_predict_test(3, 10, "default", "other"), 10, 10,
                    models=("default", "other"))
    report = out.json_out
    a, b = (np.load(f) for f in out.files_out[1:3])
    assert not np.allclose(a, b)  # two different models, two different predictions
    assert report["models"][1]["metrics"]["mse"]["mean"] != report["models"][0]["metrics"]["mse"]["mean"]
    with Image.open(out.gif_out) as im:  # ground truth | A | |err A| | B | |err B|: five panels wide
        assert im.size[0] > 1.5 * Image.open(app_module.API["predict_test"](3, 10)[0]["path"]).size[0]
    gif, report = app_module.API["compare_test"](3, 5, None, None)  # default vs the other shipped model
    assert [m["model"] for m in report["models"]] == ["default", "other"]


@pytest.mark.parametrize("native", [True, False], ids=["native-bf16", "no-native-bf16"])
def test_precision_follows_the_machine_is_reported_and_can_be_overridden(app_module, monkeypatch, native):
    """auto: bfloat16 where the CPU has native bf16 (1.5x faster), else float32 — both cases on any
    machine, through the FRAMEPRED_NATIVE_BF16 switch; the JSON and the card say which;
    FRAMEPRED_DTYPE overrides it, and a bad value is a readable error, not a traceback."""
    import gradio as gr
    import torch

    from framepred import inference

    monkeypatch.setenv("FRAMEPRED_NATIVE_BF16", "1" if native else "0")
    monkeypatch.delenv("FRAMEPRED_DTYPE", raising=False)
    auto = "bfloat16" if native else "float32"
    assert inference.native_bf16("cpu") is native and inference.resolve_dtype(None) == getattr(torch, auto)
    runs = {}
    for name in (None, "float32", "bfloat16"):
        if name:
            monkeypatch.setenv("FRAMEPRED_DTYPE", name)
        _, npy, report = app_module.API["predict_test"](3, 10)
        assert [m["precision"] for m in report["models"]] == [name or auto]
        runs[name] = np.load(npy["path"])
        assert f"in {name or auto}." in app_module.cards.model_card("default")
    monkeypatch.delenv("FRAMEPRED_DTYPE")
    assert f"in {auto}." in app_module.cards.model_card("default")  # auto again, as the machine says
    np.testing.assert_array_equal(runs[None], runs[auto])
    assert not np.array_equal(runs["float32"], runs["bfloat16"])  # bf16 really ran...
    np.testing.assert_allclose(runs["float32"], runs["bfloat16"], atol=0.02)  # ...and predicts the same
    monkeypatch.setenv("FRAMEPRED_DTYPE", "fast")
    with pytest.raises(gr.Error, match="auto, float32 or bfloat16"):
        app_module.API["predict_test"](3, 10)


def test_frame_viewer_steps_through_context_and_prediction(app_module):
    app = app_module
    out = _shown(app, app.ui_predict_test(3, 5, "default"))
    state = out.details_state
    shown = app.show_frame(state, 1)
    assert set(shown) == {app.frame_img, app.frame_md}
    image, caption = _frame_picture(shown[app.frame_img]), shown[app.frame_md]
    assert "context t-9" in caption and image.ndim == 3 and image.dtype == np.uint8
    # The picture is the pipeline's frame, losslessly (PNG).
    np.testing.assert_array_equal(image, app.pipeline.frame_view(state.frames, 1)[0])
    shown = app.show_frame(state, 13)
    caption = shown[app.frame_md]
    assert "predicted t+3" in caption and "MSE" in caption
    assert not np.array_equal(image, _frame_picture(shown[app.frame_img]))
    assert f"{out.json_out['metrics']['mse']['per_frame'][2]:.1f}" in caption  # that frame's metrics
    with pytest.raises(gr.Error, match="Frame"):
        app_module.show_frame(state, 16)
    with pytest.raises(gr.Error, match="Predict a sequence first"):
        app_module.show_frame(None, 1)


def test_settings_outside_the_trained_range_are_flagged(app_module):
    fine = app_module.ui_predict_generated(0, 3, 2.5, 3, "default")  # default: trained on 0.25-3, 1-3
    assert fine[app_module.notes_md] == ""
    outside = app_module.ui_predict_generated(0, 1, 2.5, 3, "other")[app_module.notes_md]  # other: speed 1, 2 digits
    assert "'other' was not trained on speed 2.5" in outside and "1 digit(s)" in outside
    assert "speed 1 only" in app_module.cards.model_status("other")


# -- one click: random sequence, examples, a random held-out digit -----------------------------------
def test_random_sequence_predicts_in_the_same_click(app_module):
    app = app_module
    out = _check_ui(app, app.ui_predict_random(4, "default"), 4, 4, filled=[app.test_index])
    assert 0 <= out.test_index < 1000 and out.json_out["source"] == f"test sequence {out.test_index}"


def test_examples_fill_in_their_inputs_and_predict(app_module):
    app = app_module
    out = _check_ui(app, app.ui_example_test(1, 4, "default"), 4, 4, filled=[app.test_index])
    assert out.test_index == app.TEST_EXAMPLES[1][0] == 42 and out.json_out["source"] == "test sequence 42"
    out = _check_ui(app, app.ui_example_generated(2, 3, "default", "other"), 3, 3, models=("default", "other"),
                    filled=[app.seed_in, app.digits_in, app.speed_in])
    assert [out.seed_in, out.digits_in, out.speed_in] == app.GENERATE_EXAMPLES[2] == [2024, 3, 0.75]
    assert out.json_out["source"] == "generated: seed 2024, 3 digit(s), speed 0.75"
    assert app.UPLOAD_EXAMPLES, "the repository ships example clips"
    out = _check_ui(app, app.ui_example_upload(0, 2, "default"), 2, 2, filled=[app.upload_in])
    assert out.upload_in == app.UPLOAD_EXAMPLES[0][0]
    for bad in (3, -1, 0.5, None, "1"):  # a click sends an example's number: nothing else is accepted
        with pytest.raises(gr.Error, match="Example must be a whole number from 0 to 2"):
            app.ui_example_test(bad, 4, "default")


def test_random_held_out_digit_is_random(app_module, tmp_path):
    app = app_module
    drawing = {"composite": np.asarray(Image.open(_hand_digit_png(tmp_path / "seven.png")).convert("RGBA"))}
    runs = [_shown(app, app.ui_predict_drawn(drawing, 30, 1.0, True, 3, "default")) for _ in range(3)]
    labels = {out.json_out["source"] for out in runs}
    assert len(labels) == 3 and all("+ 1 held-out digit (seed " in label for label in labels)
    frames = [np.load(out.files_out[1]) for out in runs]  # the downloads: GIF, .npy
    assert not (np.array_equal(frames[0], frames[1]) and np.array_equal(frames[1], frames[2]))
    # The seed named in the label reproduces the sequence; the drawing alone stays the same each time.
    seed = int(runs[0].json_out["source"].rsplit("seed ", 1)[1].rstrip(")"))
    from framepred.serving import sources

    again = sources.drawn_sequence(drawing, 30, 1.0, 13, True, seed)
    first = app.API["predict_drawn"](as_file(_hand_digit_png(tmp_path / "seven.png")), 30, 1.0, 3)
    alone = [_shown(app, app.ui_predict_drawn(drawing, 30, 1.0, False, 3, "default")) for _ in range(2)]
    np.testing.assert_array_equal(np.load(alone[0].files_out[1]), np.load(alone[1].files_out[1]))
    assert alone[0].json_out["source"] == first[2]["source"] == "drawn digit, direction 30°, speed 1"
    assert again.label == runs[0].json_out["source"]
    np.testing.assert_array_equal((again.frames[:10] * 255).round().astype(np.uint8),
                                  runs[0].details_state.frames["context"])


# -- deep links -------------------------------------------------------------------------------------
def _first_view(app, query: dict, horizon: int, n_truth: int, models=("default",)) -> SimpleNamespace:
    """The page load with ``query`` in the URL: its outputs by name (the menus, the model card, the
    inputs a link sets, and a prediction of ``horizon`` frames, checked)."""
    out = app.first_view(None, None, gr.Request(query_params=query))
    page = {app.model_dd, app.compare_dd, app.status_md, app.card_md}
    assert page <= set(out) <= {*page, *app.link_inputs, *app.ui_outputs}
    _check_ui(app, {c: v for c, v in out.items() if c in app.ui_outputs}, horizon, n_truth, models)
    o = _shown(app, out)
    assert "preset **tiny**" in o.card_md and "training steps" in o.card_md  # the model card, on page load
    return o


def test_deep_link_opens_a_generated_sequence(app_module):
    query = {"source": "generate", "seed": "5", "digits": "2", "speed": "2", "horizon": "12", "compare": "other"}
    out = _first_view(app_module, query, 12, 12, models=("default", "other"))
    assert (out.tabs.selected, out.seed_in, out.digits_in, out.speed_in, out.horizon_in) == ("generate", 5, 2, 2.0, 12)
    assert out.model_dd.value == "default" and out.compare_dd.value == "other"
    assert out.json_out["source"] == "generated: seed 5, 2 digit(s), speed 2"
    assert out.source_md == ("**Source:** generated: seed 5, 2 digit(s), speed 2 · [link to this view]"
                             "(?source=generate&seed=5&digits=2&speed=2&horizon=12&model=default&compare=other)")
    # The same view as a click on the Generate tab.
    click = _shown(app_module, app_module.ui_predict_generated(5, 2, 2.0, 12, "default", "other"))
    np.testing.assert_array_equal(np.load(out.files_out[1]), np.load(click.files_out[1]))


def test_deep_link_opens_a_test_sequence_and_its_own_link_reopens_it(app_module):
    from framepred.serving import links

    out = _first_view(app_module, {"source": "test", "index": "42", "horizon": "10", "model": "other"}, 10, 10,
                      models=("other",))
    assert (out.tabs.selected, out.test_index, out.horizon_in, out.model_dd.value, out.compare_dd.value) == (
        "test", 42, 10, "other", "")
    assert not hasattr(out, "seed_in")  # the Generate tab's inputs are left as they are
    assert out.json_out["source"] == "test sequence 42" and out.json_out["model"] == "other"
    query = out.source_md.split("](?", 1)[1].rstrip(")")
    assert query == "source=test&index=42&horizon=10&model=other"
    from urllib.parse import parse_qsl

    view = links.parse(dict(parse_qsl(query)))
    assert (view.source, view.values, view.horizon, view.model, view.compare) == ("test", {"index": 42.0}, 10.0,
                                                                                  "other", None)


BAD_LINKS = [
    ({"source": "camera"}, "Unknown source 'camera'"),
    ({"source": "test", "index": "abc"}, "Test sequence index must be a whole number from 0 to 999, got 'abc'"),
    ({"source": "test", "index": "5000"}, "Test sequence index must be a whole number"),
    ({"source": "generate", "seed": "-1"}, "Seed must be a whole number"),
    ({"source": "generate", "digits": "9"}, "Number of digits must be a whole number from 1 to 3"),
    ({"source": "generate", "speed": "fast"}, "Speed must be a number from 0.25 to 3"),
    ({"source": "test", "horizon": "99"}, "Frames to predict must be a whole number from 1 to 30"),
    ({"source": "test", "horizon": "nan"}, "Frames to predict must be a whole number"),
    ({"model": "../etc/passwd"}, "Unknown model '../etc/passwd'"),
    ({"source": "test", "compare": "default"}, "Choose two different models"),
    ({"source": "drawn"}, "Unknown source 'drawn'"),
]


@pytest.mark.parametrize("query, message", BAD_LINKS, ids=[str(q) for q, _ in BAD_LINKS])
def test_a_bad_link_gets_a_message_and_the_default_view(app_module, query, message):
    app = app_module
    with pytest.warns(UserWarning, match=r"This link cannot be opened: .*" + re.escape(message)):
        out = _first_view(app, query, 10, 10)
    link_inputs = ("tabs", "test_index", "seed_in", "digits_in", "speed_in", "horizon_in")
    assert not [name for name in link_inputs if hasattr(out, name)]  # the inputs are left as they are
    assert out.json_out["source"] == f"test sequence {app.FIRST_VIEW_INDEX}" and out.json_out["horizon"] == 10
    assert out.model_dd.value == "default" and out.compare_dd.value == ""


def test_queries_that_name_no_view_open_the_default_view(app_module):
    import warnings

    for query in ({}, {"__theme": "dark"}, {"utm_source": "x"}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no message: nothing was asked for
            out = _first_view(app_module, query, 10, 10)
        assert out.json_out["source"] == "test sequence 3"
    out = _first_view(app_module, {"horizon": "5"}, 5, 5)  # a horizon alone: the first test sequence
    assert out.json_out["source"] == "test sequence 3" and out.json_out["horizon"] == 5
    upload = app_module.ui_predict_upload(app_module.UPLOAD_EXAMPLES[0][0], 2, "default")
    assert "no link reopens it" in upload[app_module.source_md]


# -- models ----------------------------------------------------------------------------------------
def test_corrupt_and_mismatched_checkpoints(app_module, app_checkpoints, tmp_path, monkeypatch):
    root = tmp_path / "ckpts"
    shutil.copytree(app_checkpoints / "default", root / "default")
    shutil.copytree(app_checkpoints / "default", root / "broken")
    (root / "broken" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    shutil.copytree(app_checkpoints / "default", root / "mismatch")
    cfg = json.loads((root / "mismatch" / "config.json").read_text())
    cfg.get("config", cfg)["hidden_dims"] = [8, 8, 8]
    (root / "mismatch" / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(root))
    assert list(app_module.models.model_sources()) == ["default", "broken", "mismatch"]
    assert app_module.models.default_model_key() == "default"
    for name in ("broken", "mismatch"):
        with pytest.raises(gr.Error) as err:
            app_module.ui_predict_test(0, 3, name)
        assert re.search(f"Could not load model '{name}'.*'default' is still available", err.value.message)
        with pytest.raises(gr.Error, match=name):
            app_module.select_model(name)
    assert app_module.API["predict_test"](0, 3)[2]["model"] == "default"  # still serving the default


def test_a_model_is_read_once_and_a_request_looks_each_model_up_once(app_module, app_checkpoints, tmp_path,
                                                                     monkeypatch):
    """One model resolution: loading a model reads its config.json once (checked before any weights,
    then handed to the loader), and a request looks each of its models up once, a comparison too.
    Counted by wrapping the real functions (they still do their work)."""
    from framepred.serving import models

    root = tmp_path / "ckpts"  # new folders: models not loaded yet in this process
    for name in ("default", "other"):
        shutil.copytree(app_checkpoints / name, root / name)
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(root))
    reads, looked_up = [], []
    read_text, get_model = Path.read_text, models.get_model
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name) or read_text(self, *a, **k))
    monkeypatch.setattr(models, "get_model", lambda key: looked_up.append(key) or get_model(key))
    out = app_module.ui_predict_test(3, 5, "default", "other")
    assert [m["model"] for m in _shown(app_module, out).json_out["models"]] == ["default", "other"]
    assert reads.count("config.json") == 2 and looked_up == ["default", "other"]
    looked_up.clear()
    gif, report = app_module.API["compare_test"](4, 5, None, None)
    assert [m["model"] for m in report["models"]] == ["default", "other"] and looked_up == [None, "other"]
    looked_up.clear()
    assert app_module.API["predict_test"](4, 5)[2]["model"] == "default" and looked_up == [None]
    assert reads.count("config.json") == 2  # loaded models are kept: no config read again


def test_untrained_and_unknown_models_are_labelled(app_module, app_checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(tmp_path / "empty"))
    assert app_module.models.model_sources() == {"untrained": ""}
    shown = app_module.select_model("untrained")
    assert "Untrained" in shown[app_module.status_md] and "random weights" in shown[app_module.card_md]
    report = app_module.API["predict_generated"](0, 2, 1.0, 2)[2]
    assert report["model"] == "untrained"

    shutil.copytree(app_checkpoints / "default", tmp_path / "anon")
    (tmp_path / "anon" / "training.json").unlink()
    monkeypatch.setenv("FRAMEPRED_MODEL", str(tmp_path / "anon"))
    key = str(tmp_path / "anon")
    assert app_module.models.default_model_key() == key
    shown = app_module.select_model(key)
    assert "Untrained or unknown" in shown[app_module.status_md] and "Untrained or unknown" in shown[app_module.card_md]
    out = _shown(app_module, app_module.first_view("stale-choice", "gone"))
    assert out.model_dd.value == key and out.compare_dd.value == app_module.NO_COMPARE
    assert out.json_out["model"] == key  # the first view predicts with the model present now


def test_eval_json_shows_in_the_card(app_module, app_checkpoints, tmp_path, monkeypatch):
    shutil.copytree(app_checkpoints / "default", tmp_path / "default")
    summary = {m: {"mean": 1.5, "per_frame": [1.5]} for m in ("mse", "mae", "ssim", "psnr")}
    ev = {"model": summary, "copy_last": summary, "info": {"sequences": 1000, "data": "held-out set"}}
    (tmp_path / "default" / "eval.json").write_text(json.dumps(ev))
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(tmp_path))
    card = app_module.cards.model_card("default")
    assert "1000 sequences of held-out set" in card and "| copy last frame | 1.5" in card


def test_card_gives_the_total_training_time_when_every_phase_was_clocked(app_module, app_checkpoints,
                                                                         tmp_path, monkeypatch):
    shutil.copytree(app_checkpoints / "default", tmp_path / "default")
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(tmp_path))
    record = {"global_step": 9, "wall_time_s": 1800.0}
    (tmp_path / "default" / "training.json").write_text(json.dumps(record))
    assert "0.50 h in its last training phase" in app_module.cards.model_card("default")
    (tmp_path / "default" / "training.json").write_text(json.dumps({**record, "total_wall_time_s": 9000.0}))
    card = app_module.cards.model_card("default")
    assert "2.50 h of training in all" in card and "last training phase" not in card


def test_test_file_env_serves_a_standard_file(app_module, tmp_path, monkeypatch):
    seqs = (np.random.default_rng(0).random((20, 5, 64, 64)) * 255).astype(np.uint8)  # (T, N, H, W)
    np.save(tmp_path / "mnist_test_seq.npy", seqs)
    monkeypatch.setenv("FRAMEPRED_TEST_FILE", str(tmp_path / "mnist_test_seq.npy"))
    assert app_module.sources.test_set_size() == 5
    np.testing.assert_allclose(app_module.sources.test_sequence(4).frames, seqs[:, 4] / 255.0, atol=1e-6)
    with pytest.raises(gr.Error, match="from 0 to 4"):
        app_module.API["predict_test"](5, 3)
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    monkeypatch.setenv("FRAMEPRED_TEST_FILE", str(tmp_path / "bad.npy"))
    with pytest.raises(gr.Error, match="FRAMEPRED_TEST_FILE"):
        app_module.API["predict_test"](0, 3)


# -- the served app through gradio_client ----------------------------------------------------------
@pytest.mark.slow
def test_the_app_started_from_another_folder_serves_its_own_checkpoints(tmp_path, make_client):
    """``cd elsewhere && python /path/to/app.py`` with FRAMEPRED_CHECKPOINTS_DIR unset serves the
    models shipped beside app.py (the library's default alone, ./checkpoints, finds none there)."""
    import os

    from framepred.serving.launch import AppProcess

    repo = Path(__file__).resolve().parent.parent
    if not (repo / "checkpoints" / "default" / "model.safetensors").is_file():
        pytest.skip("no shipped checkpoints/default")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPRED_")}  # the app's defaults
    env["HF_HUB_OFFLINE"] = "1"
    with AppProcess(repo / "app.py", env=env, cwd=tmp_path, log=tmp_path / "app.log", startup_timeout_s=180) as app:
        report = make_client(app.url).predict(3, 2, api_name="/predict_test")[2]
    assert report["model"] == "default" and report["models"][0]["trained"] is True
    assert not (tmp_path / "checkpoints").exists()


def test_gradio_client_calls_the_three_endpoints(app_module, app_url, tmp_path, make_client):
    from gradio_client import handle_file

    client = make_client(app_url)
    assert app_module.demo.max_file_size == app_module.uploads.MAX_FILE_BYTES
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/predict_test", "/predict_generated", "/predict_upload", "/predict_drawn", "/compare_test"} <= endpoints
    assert not any(e.startswith("/ui_") for e in endpoints)  # UI handlers are private

    gif, npy, report = client.predict(3, 10, api_name="/predict_test")
    assert _gif_frames(gif) == 20 and np.load(npy).shape == (10, 64, 64)
    assert report["ground_truth_frames"] == 10 and report["metrics"]["ssim"]["mean"] <= 1

    gif, npy, report = client.predict(1, 2, 1.0, 4, api_name="/predict_generated")
    assert _gif_frames(gif) == 14 and np.load(npy).shape == (4, 64, 64)

    frames = (np.random.default_rng(1).random((12, 64, 64)) * 255).astype(np.uint8)
    np.save(tmp_path / "up.npy", frames)
    gif, npy, report = client.predict(handle_file(str(tmp_path / "up.npy")), 3, api_name="/predict_upload")
    assert np.load(npy).shape == (3, 64, 64) and report["ground_truth_frames"] == 2

    # Raw HTTP naming a server path that was never uploaded: refused, the file is not read.
    import httpx

    payload = {"data": [{"path": str(tmp_path / "up.npy"), "meta": {"_type": "gradio.FileData"}}, 3]}
    event = httpx.post(f"{app_url}/gradio_api/call/predict_upload", json=payload).json()["event_id"]
    stream = httpx.get(f"{app_url}/gradio_api/call/predict_upload/{event}", timeout=30).text
    assert "event: error" in stream and "event: complete" not in stream

    png = _hand_digit_png(tmp_path / "seven.png")
    gif, npy, report = client.predict(handle_file(png), 45, 1.5, 10, api_name="/predict_drawn")
    assert _gif_frames(gif) == 20 and np.load(npy).shape == (10, 64, 64)
    gif, report = client.predict(3, 10, None, None, api_name="/compare_test")
    assert _gif_frames(gif) == 20 and [m["model"] for m in report["models"]] == ["default", "other"]
    gif, report = client.predict(3, 4, "other", "default", api_name="/compare_test")
    assert [m["model"] for m in report["models"]] == ["other", "default"]

    np.save(tmp_path / "set.npy", data.test_set(3))  # (3, 20, 64, 64)
    report = client.predict(handle_file(str(tmp_path / "set.npy")), 10, api_name="/evaluate_set")
    assert report["sequences"] == 3 and len(report["metrics"]["default"]["mse"]["per_frame"]) == 10

    np.save(tmp_path / "short.npy", frames[:4])
    with pytest.raises(Exception, match="at least 11"):  # the gr.Error message reaches the client
        client.predict(handle_file(str(tmp_path / "short.npy")), 3, api_name="/predict_upload")


def test_mcp_server_lists_the_api_as_tools(app_module, app_url):
    """The app is an MCP server (launch(mcp_server=True)): each API endpoint is a tool whose
    description and arguments (with their ranges) come from the function's docstring."""
    import httpx

    tools = {t["name"]: t for t in httpx.get(f"{app_url}/gradio_api/mcp/schema", timeout=60).json()}
    expected = {"predict_test": ["index", "horizon"], "predict_generated": ["seed", "n_digits", "speed", "horizon"],
                "predict_upload": ["file", "horizon"], "predict_drawn": ["image", "angle", "speed", "horizon"],
                "compare_test": ["index", "horizon", "model_a", "model_b"], "evaluate_set": ["file", "horizon"]}
    assert set(expected) <= set(tools)
    assert not {n for n in tools if n.startswith("ui_") or n in ("first_view", "select_model", "show_frame")}
    for name, params in expected.items():
        assert "Moving MNIST" in tools[name]["description"] or "model" in tools[name]["description"]
        props = tools[name]["inputSchema"]["properties"]
        assert list(props) == params, name
        assert all(len(props[p].get("description", "")) > 20 for p in params), (name, props)
        assert "a whole number from 1 to 30" in props["horizon"]["description"]
    assert "from 0 to 999" in tools["predict_test"]["inputSchema"]["properties"]["index"]["description"]
    generated = tools["predict_generated"]["inputSchema"]["properties"]
    assert "from 0.25 to 3" in generated["speed"]["description"]
    assert "from 1 to 3" in generated["n_digits"]["description"]
    assert "11 to 1000 frames" in tools["predict_upload"]["inputSchema"]["properties"]["file"]["description"]
    assert ".mp4" in tools["predict_upload"]["inputSchema"]["properties"]["file"]["description"]
    assert "N from 1 to 1000" in tools["evaluate_set"]["inputSchema"]["properties"]["file"]["description"]
    assert "baselines" in tools["evaluate_set"]["description"] and "worst" in tools["evaluate_set"]["description"]
    assert "Returns:" in tools["compare_test"]["description"]


def test_an_agent_calls_the_tools_over_mcp(app_url):
    """Through the MCP protocol (streamable HTTP), as an agent would: a prediction, a comparison with
    the models left to their defaults, and a bad value answered with the app's own message."""
    import asyncio

    mcp = pytest.importorskip("mcp", reason="gradio[mcp] is not installed")
    from mcp.client.streamable_http import streamablehttp_client

    async def session_calls():
        async with streamablehttp_client(f"{app_url}/gradio_api/mcp/") as (read, write, _):
            async with mcp.ClientSession(read, write) as session:
                await session.initialize()
                return [await session.call_tool(name, args) for name, args in (
                    ("predict_test", {"index": 3, "horizon": 4}),
                    ("compare_test", {"index": 3, "horizon": 4}),
                    ("predict_generated", {"seed": 5, "n_digits": 2, "speed": 2, "horizon": 99}))]

    predicted, compared, refused = asyncio.run(session_calls())
    text = lambda result: " ".join(getattr(c, "text", "") for c in result.content)  # noqa: E731
    assert not predicted.isError and "prediction.gif" in text(predicted) and "prediction.npy" in text(predicted)
    assert "'horizon': 4" in text(predicted)  # the metrics JSON, as the tool's text
    assert not compared.isError and "'models'" in text(compared) and "'other'" in text(compared)
    assert refused.isError and text(refused) == "Frames to predict must be a whole number from 1 to 30, got 99."
