"""Model v3's layers: per-layer dilation, the two-scale stack and the coarse gate branch."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from framepred import data as fdata
from framepred import fast_conv
from framepred.config import ConvLSTMConfig
from framepred.model import ConvLSTMCell, ConvLSTMSeq2Seq
from framepred.surgery import add_coarse_branch

BASE = ConvLSTMConfig.preset_config("default")
# The pilot candidates (train/pilot/run.sh), each within the 10.8 GFLOP budget of a 10 -> 10 prediction.
CANDIDATES = {
    "a_control": BASE,
    "b_patch8": replace(BASE, patch_size=8, hidden_dims=(128,) * 4),
    "c_dilated": replace(BASE, dilations=(1, 2, 2, 1)),
    "d_twoscale": replace(BASE, hidden_dims=(64, 128, 128, 64), scales=(1, 2, 2, 1)),
    "e_v2coarse": replace(BASE, coarse=4),
}
BUDGET_GFLOP = 10.8


def _gflop(model: ConvLSTMSeq2Seq) -> float:
    fast_conv.set_fast_conv(False)  # the counter sees nn.Conv2d calls, not the cached-oneDNN ones
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, 10, 1, 64, 64), 10)
    finally:
        fast_conv.set_fast_conv(True)
    return fc.get_total_flops() / 1e9


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_candidates_predict_frames_within_the_flop_budget(name):
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(CANDIDATES[name]).eval()
    ctx = torch.rand(2, 10, 1, 64, 64)
    with torch.no_grad():
        pred = model(ctx, 7)
        rollout = model.rollout(ctx, 3)
    assert pred.shape == (2, 7, 1, 64, 64)
    assert float(pred.min()) >= 0.0 and float(pred.max()) <= 1.0
    cells = 64 // CANDIDATES[name].patch_size
    scales = CANDIDATES[name].layer_scales()
    assert [tuple(h.shape[-2:]) for h in rollout.hidden] == [(cells // s, cells // s) for s in scales]
    gflop = _gflop(model)
    assert gflop <= BUDGET_GFLOP, f"{name}: {gflop:.2f} GFLOP"
    if name != "a_control":  # no candidate is cheaper than the control by more than the budget's slack
        assert gflop >= _gflop(ConvLSTMSeq2Seq(BASE)) - 0.01


def test_flop_count_follows_the_arithmetic():
    # One 3x3 convolution over cat([x, h]) per layer and step: 2 * in * out * 9 * positions.
    cfg = CANDIDATES["b_patch8"]
    per_step = sum(2 * (i + h) * 4 * h * 9 * 8 * 8 for i, h in zip(cfg.layer_inputs(), cfg.hidden_dims))
    head = 2 * 128 * 64 * 8 * 8
    steps = 10 + 10 - 1  # the context steps and the rollout's, the last prediction read by no step
    assert _gflop(ConvLSTMSeq2Seq(cfg)) == pytest.approx(steps * (per_step + head) / 1e9, rel=1e-6)


def test_a_dilated_cell_reaches_twice_as_far_in_one_step():
    def reach(dilation: int) -> int:
        torch.manual_seed(0)
        cell = ConvLSTMCell(1, 4, 3, dilation=dilation)
        x = torch.zeros(1, 1, 15, 15, requires_grad=True)
        h, _ = cell(x)
        h[0, :, 7, 7].sum().backward()
        cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
        return int(7 - cols.min())

    assert reach(1) == 1 and reach(2) == 2


def test_the_two_scale_stack_carries_a_point_further_than_the_flat_one():
    """After one step, how far from a lit cell does the top layer respond? The coarse middle layers
    of the two-scale stack see twice as far per kernel as the flat stack's."""

    def spread(cfg: ConvLSTMConfig) -> int:
        torch.manual_seed(0)
        model = ConvLSTMSeq2Seq(cfg)
        x = torch.zeros(1, 1, 1, 64, 64, requires_grad=True)
        pred = model(x, 1, clamp=False)  # (1, 1, 1, 64, 64): the first step's prediction
        pred[0, 0, 0, 30:34, 30:34].sum().backward()  # one 4x4 patch cell at (7, 7) of 16x16
        rows = torch.nonzero(x.grad[0, 0, 0].abs().sum(1)).flatten()
        return int(rows.max() - rows.min())

    flat = replace(BASE, hidden_dims=(8, 8, 8, 8))
    two = replace(BASE, hidden_dims=(8, 16, 16, 8), scales=(1, 2, 2, 1))
    assert spread(two) > spread(flat)


def test_extended_v2_predicts_exactly_as_v2_at_step_0():
    torch.manual_seed(0)
    v2 = ConvLSTMSeq2Seq(replace(BASE, hidden_dims=(16, 16, 16, 16))).eval()
    for p in v2.parameters():  # trained-looking weights, not an initialisation that hides a bug
        p.data.normal_(0, 0.1)
    ext = add_coarse_branch(v2, 4).eval()
    assert ext.config.coarse == 4 and v2.config.coarse == 0
    ctx = torch.rand(2, 10, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(ext(ctx, 10), v2(ctx, 10))
    # ... and the branch learns: its zero weights get a gradient at once.
    ext.train()
    ext(ctx, 2, clamp=False).square().mean().backward()
    assert all(float(c.coarse_conv.weight.grad.abs().sum()) > 0 for c in ext.encoder)
    with pytest.raises(ValueError, match="already"):
        add_coarse_branch(ext, 2)


def test_new_config_fields_round_trip_and_old_configs_still_load(tmp_path):
    cfg = CANDIDATES["d_twoscale"]
    model = ConvLSTMSeq2Seq(cfg)
    model.save_pretrained(tmp_path)
    again = ConvLSTMSeq2Seq.from_pretrained(tmp_path)
    assert again.config == cfg
    # A config.json from before v3 has none of the new fields: all layers plain, as before.
    old = ConvLSTMSeq2Seq.from_pretrained("checkpoints/v1-speed1")
    assert old.config.layer_dilations() == (1, 1, 1, 1) and old.config.coarse == 0


@pytest.mark.parametrize("changes, message", [
    ({"dilations": (1, 2)}, "one entry per layer"),
    ({"dilations": (1, 0, 1, 1)}, "positive"),
    ({"scales": (1, 3, 3, 1)}, "scales"),
    ({"scales": (2, 2, 2, 1)}, "scales"),
    ({"hidden_dims": (64, 66, 66, 64), "scales": (1, 2, 2, 1)}, "divisible by 4"),
    ({"coarse": 1}, "coarse"),
    ({"coarse": 3}, "coarse"),
    ({"coarse": True}, "coarse"),
    ({"scales": (1, 2, 2, 1), "tie_decoder": False}, "tied"),
])
def test_bad_v3_configs_get_a_clear_error(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(BASE, **changes)


def test_reach_set_is_fast_motion_on_held_out_digits():
    seqs = fdata.reach_set(8)
    assert seqs.shape == (8, 20, 64, 64) and seqs.dtype == np.uint8
    assert np.array_equal(seqs, fdata.reach_set(8))  # seeded
    # Speed 3 moves a digit ~10.8 px per frame, three times speed 1's: so does the ink's centroid.
    slow = fdata.generate(fdata.load_digits("test"), np.random.default_rng(0), 64, dtype=np.uint8)

    def centroid_step(s: np.ndarray) -> float:
        ink = s.astype(np.float64)  # (N, T, H, W)
        total = ink.sum(axis=(2, 3))
        ys = (ink.sum(axis=3) * np.arange(64)).sum(axis=2) / total  # (N, T)
        xs = (ink.sum(axis=2) * np.arange(64)).sum(axis=2) / total
        return float(np.hypot(np.diff(ys, axis=1), np.diff(xs, axis=1)).mean())

    assert centroid_step(fdata.reach_set(64)) > 2 * centroid_step(slow)


def test_hidden_state_pictures_of_a_two_scale_model():
    from framepred import inference, viz

    cfg = CANDIDATES["d_twoscale"]
    model = ConvLSTMSeq2Seq(cfg).eval()
    pred = inference.predict_with_states(model, np.random.default_rng(0).random((10, 64, 64), np.float32), 4)
    assert [h.shape[-1] for h in pred.hidden] == [16, 8, 8, 16]
    space, channels = viz.hidden_state_images(viz.hidden_state_summary(pred.hidden, cfg))
    # Every layer's row is drawn at the same size: 4 rows of 16 cells x 2 px, plus gaps and the title.
    assert space.shape[0] == 14 + 4 * (32 + 2) and channels.ndim == 3


def test_the_v3_preset_is_the_pilot_winner():
    assert ConvLSTMConfig.preset_config("v3") == CANDIDATES["b_patch8"]
