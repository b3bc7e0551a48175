"""The independent MovingMNIST generator and ``evaluate.py --grid`` (tiny model, a few sequences)."""

import json

import numpy as np
import pytest
import torch

from framepred import data as fdata
from train import evaluate as evaluate_script
from train import independent_mmnist as ind
from train import model_card


@pytest.fixture(scope="module")
def heldout_digits() -> np.ndarray:
    return fdata.load_digits("test")


def _bbox(frame: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(frame.any(axis=1)), np.flatnonzero(frame.any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_same_seed_half_pixel_shift_moves_the_same_digits_by_at_most_one_pixel(heldout_digits):
    a = ind.make_sequences(heldout_digits, 6, n_digits=1, speed=1.3, seed=7)
    b = ind.make_sequences(heldout_digits, 6, n_digits=1, speed=1.3, seed=7, half_pixel=True)
    np.testing.assert_array_equal(a.which, b.which)  # the same digits ...
    np.testing.assert_array_equal(a.positions, b.positions)  # ... on the same paths
    shift = b.pixels - a.pixels
    assert set(np.unique(shift)) <= {0, 1} and shift.any()  # only the grid moved, by 0 or 1 px
    # In the pictures: each frame is the other one moved by that shift, nothing else changes.
    for i in range(6):
        for t in range(20):
            fa, fb = a.frames[i, t], b.frames[i, t]
            r0, r1, c0, c1 = _bbox(fa)
            dr, dc = shift[i, 0, t]
            assert _bbox(fb) == (r0 + dr, r1 + dr, c0 + dc, c1 + dc)
            np.testing.assert_array_equal(fa[r0:r1, c0:c1], fb[r0 + dr : r1 + dr, c0 + dc : c1 + dc])
    # Two-digit sequences too: the same seed gives the same digits and paths.
    c = ind.make_sequences(heldout_digits, 4, n_digits=2, seed=3)
    d = ind.make_sequences(heldout_digits, 4, n_digits=2, seed=3, half_pixel=True)
    np.testing.assert_array_equal(c.which, d.which)
    assert np.abs(d.pixels - c.pixels).max() <= 1


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0, 3.0])
def test_speed_sets_the_step_length_away_from_walls(heldout_digits, speed):
    s = ind.make_sequences(heldout_digits, 400, n_digits=1, speed=speed, seed=11)
    pos = s.positions[:, 0]  # (N, T, 2) float
    step = np.linalg.norm(np.diff(pos, axis=1), axis=-1)  # (N, T-1)
    # Steps that touch no wall: both ends at least one step length from every wall.
    margin = 3.6 * speed
    inside = ((pos > margin) & (pos < 36 - margin)).all(axis=-1)  # (N, T)
    free = inside[:, :-1] & inside[:, 1:]
    assert free.sum() >= 20
    np.testing.assert_allclose(step[free], 3.6 * speed, rtol=1e-9)
    # On the pixel grid (truncated placement) the same holds to within the rounding.
    px_step = np.linalg.norm(np.diff(s.pixels[:, 0], axis=1), axis=-1)
    assert abs(np.median(px_step[free]) - 3.6 * speed) < 0.75


def test_reflection_keeps_every_digit_inside_the_canvas(heldout_digits):
    s = ind.make_sequences(heldout_digits, 30, n_digits=1, speed=3.0, seq_len=40, seed=5, bounce="reflect")
    assert s.positions.min() >= 0.0 and s.positions.max() <= 36.0
    assert s.pixels.min() >= 0 and s.pixels.max() <= 36
    # Nothing is cut off: every frame holds the whole digit.
    mass = s.frames.astype(np.int64).sum(axis=(2, 3))  # (N, T)
    whole = heldout_digits[s.which[:, 0]].astype(np.int64).sum(axis=(1, 2))  # (N,)
    np.testing.assert_array_equal(mass, np.broadcast_to(whole[:, None], mass.shape))
    # And the digits do bounce: every sequence at speed 3 over 40 frames meets a wall.
    direction = np.sign(np.diff(s.positions[:, 0], axis=1))  # (N, T-1, 2)
    assert (np.diff(direction, axis=1) != 0).any(axis=(1, 2)).all()
    # Reflection mirrors the overshoot: the step length is kept even across a bounce.
    seg = np.linalg.norm(np.diff(s.positions[:, 0], axis=1), axis=-1)
    assert seg.max() <= 3.6 * 3.0 + 1e-9


def test_seeded_and_overlaps_combine_by_max(heldout_digits):
    a = ind.make_sequences(heldout_digits, 3, n_digits=3, speed=2.0, seed=[1, 2])
    b = ind.make_sequences(heldout_digits, 3, n_digits=3, speed=2.0, seed=[1, 2])
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, ind.make_sequences(heldout_digits, 3, 3, 2.0, seed=[1, 3]).frames)
    # Each frame is the pixel-wise max of its digits drawn alone.
    alone = [ind.render(heldout_digits[a.which][:, j : j + 1], a.pixels[:, j : j + 1]) for j in range(3)]
    np.testing.assert_array_equal(a.frames, np.maximum.reduce(alone))


def test_grid_writes_every_cell_the_baselines_the_half_pixel_rows_and_checks(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "grid.json"
    threads = torch.get_num_threads()
    try:
        evaluate_script.main(["--model", str(tiny_model_dir), "--grid", "--grid-size", "2", "--standard-size", "3",
                              "--limit", "4", "--threads", "1", "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    grid = json.loads(out.read_text())
    assert grid["n_per_cell"] == 2 and "independent" in grid["generator"]
    cells = {(c["speed"], c["digits"]): c for c in grid["cells"]}
    assert set(cells) == {(s, d) for s in (0.5, 1.0, 1.5, 2.0, 3.0) for d in (1, 2, 3)}
    for c in grid["cells"]:
        for name in ("model", "copy_last", "blank"):
            assert np.isfinite(c[name]["mse"]) and np.isfinite(c[name]["ssim"])
        assert c["mse_vs_blank"] == pytest.approx(c["model"]["mse"] / c["blank"]["mse"])
        assert c["limit"] == (0.6 if c["speed"] == 3.0 else 0.5) and isinstance(c["pass"], bool)
    for key in ("standard", "half_pixel"):
        assert {"model", "copy_last", "blank", "mse_vs_blank"} <= set(grid[key])
    assert grid["half_pixel_change"] == pytest.approx(
        grid["half_pixel"]["model"]["mse"] / grid["standard"]["model"]["mse"] - 1)
    assert grid["test_set"]["info"]["sequences"] == 4  # the standard evaluation, unchanged, inside
    checks = grid["checks"]
    for key in ("standard_mse", "standard_ssim", "half_pixel", "cells", "speed_3", "all"):
        assert isinstance(checks[key], bool)
    assert checks["all"] is False and checks["standard_mse"] is False  # an untrained model fails
    printed = capsys.readouterr().out
    assert "| copy last frame |" in printed and "| 3 | 3 |" in printed and "shifted +0.5 px" in printed

    # The model card renders the same JSON as its robustness section.
    section = model_card.robustness_section(grid, out)
    assert section.startswith("\n## Robustness over the demo's settings")
    assert section.count("\n| ") >= 15 + 3 + 2 and "--grid-size 2" in section


def test_grid_cells_reproduce_and_do_not_depend_on_each_other():
    a = evaluate_script.independent_sequences(2, 3, 1.5, evaluate_script.cell_seed(2024, 1.5, 3))
    b = evaluate_script.independent_sequences(2, 3, 1.5, evaluate_script.cell_seed(2024, 1.5, 3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (2, 20, 64, 64) and a.max() <= 1.0
    assert evaluate_script.cell_seed(2024, 1.5, 3) != evaluate_script.cell_seed(2024, 1.5, 2)


def test_speed_and_digits_flags_evaluate_independent_sequences(tiny_model_dir):
    threads = torch.get_num_threads()
    try:
        result = evaluate_script.main(["--model", str(tiny_model_dir), "--speed", "2", "--digits", "3",
                                       "--limit", "3", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    assert result["info"]["sequences"] == 3 and "speed 2, 3 digits" in result["info"]["data"]
    with pytest.raises(SystemExit):
        evaluate_script.main(["--model", str(tiny_model_dir), "--grid", "--speed", "2"])
