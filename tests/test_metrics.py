import numpy as np
import pytest
from skimage.metrics import structural_similarity

from framepred import data, metrics


def test_mse_mae_psnr_follow_openstl_conventions():
    rng = np.random.default_rng(0)
    true = rng.random((3, 5, 64, 64))
    pred = np.clip(true + 0.1, 0, 1)
    err = pred - true
    np.testing.assert_allclose(metrics.frame_mse(pred, true), (err**2).sum(axis=(2, 3)).mean(0))
    np.testing.assert_allclose(metrics.frame_mae(pred, true), np.abs(err).sum(axis=(2, 3)).mean(0))
    psnr = (-10 * np.log10((err**2).mean(axis=(2, 3)))).mean(0)
    np.testing.assert_allclose(metrics.frame_psnr(pred, true), psnr)
    assert metrics.frame_psnr(true, true)[0] == metrics.PSNR_MAX_DB


@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_ssim_matches_scikit_image_on_random_and_real_frames(data_range):
    rng = np.random.default_rng(1)
    rand_a = rng.random((4, 64, 64))
    rand_b = np.clip(rand_a + rng.normal(0, 0.2, rand_a.shape), 0, 1)
    real = data.test_set(3).astype(np.float64) / 255
    pairs = [(rand_a[i], rand_b[i]) for i in range(4)] + [(real[i, 11], real[i, 14]) for i in range(3)]
    for a, b in pairs:
        ours = metrics.ssim_map_mean(a, b, data_range)
        ref = structural_similarity(a, b, data_range=data_range)
        assert abs(ours - ref) < 1e-4


def test_baselines_on_the_test_set_are_in_the_known_range():
    seqs = data.test_set(200).astype(np.float32) / 255
    ctx, true = seqs[:, :10], seqs[:, 10:]
    blank = metrics.frame_mse(metrics.blank_baseline(ctx, 10), true).mean()
    copy = metrics.frame_mse(metrics.copy_last_baseline(ctx, 10), true).mean()
    assert 150 < blank < 200  # ~175 on the protocol: two digits of ink
    assert copy > blank  # copying the last frame double-counts ink in MSE
    assert metrics.copy_last_baseline(ctx, 3).shape == (200, 3, 64, 64)


def test_all_metrics_and_summary_shapes():
    true = np.random.default_rng(2).random((7, 64, 64))
    out = metrics.all_metrics(true, true)
    assert set(out) == {"mse", "mae", "psnr", "ssim", "ssim_openstl"}
    assert all(v.shape == (7,) for v in out.values())
    s = metrics.summarize(out)
    assert s["ssim"]["mean"] == pytest.approx(1.0) and s["mse"]["mean"] == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.frame_mse(true, true[:3])


def test_metrics_csv_has_one_row_per_frame_and_series():
    import csv
    import io

    rng = np.random.default_rng(0)
    true = rng.random((2, 3, 64, 64))
    model = metrics.all_metrics(np.clip(true + 0.1, 0, 1), true)
    copy = metrics.all_metrics(metrics.copy_last_baseline(true, 3), true)
    text = metrics.metrics_csv({"v3, float32": model, "copy last frame": copy})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["frame", "series", "mse", "mae", "ssim", "psnr"]
    assert [r[:2] for r in rows[1:]] == [["1", "v3, float32"], ["2", "v3, float32"], ["3", "v3, float32"],
                                         ["1", "copy last frame"], ["2", "copy last frame"], ["3", "copy last frame"]]
    assert [float(v) for v in rows[2][2:]] == [model[m][1] for m in ("mse", "mae", "ssim", "psnr")]  # exact
    with pytest.raises(ValueError, match="differ in length"):
        metrics.metrics_csv({"x": {"mse": [1.0, 2.0], "mae": [1.0], "ssim": [0.5, 0.5], "psnr": [1.0, 2.0]}})
