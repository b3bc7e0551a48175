import numpy as np
from PIL import Image

from framepred import viz


def _seq(t, seed=0):
    return np.random.default_rng(seed).random((t, 64, 64)).astype(np.float32)


def test_gif_has_one_frame_per_step_and_three_panels(tmp_path):
    ctx, truth, pred = _seq(10), _seq(10, 1), _seq(14, 2)  # horizon beyond the ground truth
    path = viz.save_sequence_gif(tmp_path / "a.gif", ctx, truth, pred, scale=3)
    with Image.open(path) as im:
        assert im.n_frames == 10 + 14
        assert im.size == (3 * 64 * 3 + 4 * viz.GAP, viz.TITLE_H + 64 * 3 + viz.LABEL_H + viz.GAP)
        assert im.info.get("loop") == 0
        im.seek(15)  # a predicted frame: prediction panel shows the prediction, upscaled
        frame = np.array(im.convert("L"))
    assert frame.std() > 10


def test_error_panel_is_dark_for_a_perfect_prediction(tmp_path):
    ctx, truth = _seq(10), _seq(5, 1)
    frames = viz.sequence_gif_frames(ctx, truth, truth.copy(), scale=2)
    last = np.array(frames[-1].convert("RGB")).astype(int)
    x0 = viz.GAP + 2 * (128 + viz.GAP)
    err_panel = last[viz.TITLE_H : viz.TITLE_H + 128, x0 : x0 + 128]
    assert err_panel.max() < 10  # |error| = 0 maps to the colour map's black


def test_frame_strip_and_metric_figure(tmp_path):
    ctx, truth, pred = _seq(10)[None], _seq(10, 1)[None], _seq(10, 2)[None]
    img = viz.frame_strip_image(ctx, truth, pred)
    assert img.dtype == np.uint8 and img.shape == (2 * 64 + 2, 20 * 64 + 19 * 2)
    fig = viz.metric_figure({"mse": np.arange(10.0), "ssim": np.ones(10)}, {"mse": np.ones(10)})
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_hidden_state_summary_and_pictures():
    from framepred.config import ConvLSTMConfig

    rng = np.random.default_rng(0)
    cfg = ConvLSTMConfig.preset_config("tiny")
    states = [rng.normal(size=(1, 19, c, 16, 16)).astype(np.float32) for c in cfg.hidden_dims]
    states[1][:, 12:] = 0  # a layer that goes quiet once prediction starts
    summary = viz.hidden_state_summary(states, cfg, t_ctx=10)
    assert [m.shape for m in summary["space"]] == [(19, 16, 16)] * len(states)
    assert [m.shape for m in summary["channels"]] == [(c, 19) for c in cfg.hidden_dims]
    assert summary["labels"] == ["layer 1", "layer 2"] and summary["offsets"] == [0, 0]
    np.testing.assert_allclose(summary["channels"][0], np.abs(states[0][0]).mean((2, 3)).T, rtol=1e-5)
    space, chans = viz.hidden_state_images(summary)
    assert space.dtype == chans.dtype == np.uint8 and space.ndim == chans.ndim == 3
    assert space.shape[1] > 19 * 32 and chans.shape[0] > max(cfg.hidden_dims)
    # The quiet steps of layer 2 are drawn in the colour map's darkest colour, the busy ones are not.
    row2 = space[14 + 34 : 14 + 34 + 32]  # second layer's row (top margin 14, tiles 32 px + 2 px gap)
    quiet, busy = row2[:, 52 + 15 * 34 : 52 + 15 * 34 + 32], row2[:, 52 : 52 + 32]
    assert quiet.astype(int).sum(-1).max() < busy.astype(int).sum(-1).mean()
