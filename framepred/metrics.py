"""Per-frame metrics for frame prediction, in the OpenSTL conventions. Pure numpy functions.

Inputs are arrays ``(N, T, H, W)`` (or one sequence ``(T, H, W)``) on the [0, 1] scale; every
``frame_*`` function returns one value per frame, ``(T,)``, averaged over the N sequences.

* MSE / MAE: the SUM over a frame's pixels of the squared / absolute error (OpenSTL), i.e. the
  pixel-mean error x H x W (x 4096 for 64x64).
* PSNR: per frame ``-10 log10(pixel-mean MSE)`` with peak 1, then averaged.
* SSIM: equal to ``skimage.metrics.structural_similarity(data_range=...)`` with its defaults
  (7x7 uniform window, sample covariance, K1=0.01, K2=0.03), predictions clipped to [0, 1].
  OpenSTL's published SSIM used data_range 2 (old scikit-image's float default): ``ssim_openstl``.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache

import numpy as np

SSIM_WIN = 7
PSNR_MAX_DB = 100.0  # PSNR of a perfect frame is infinite; cap it so that means stay finite


def _as_nthw(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:
        a = a[None]  # (T, H, W) -> (1, T, H, W)
    elif a.ndim == 5 and a.shape[2] == 1:
        a = a[:, :, 0]  # (N, T, 1, H, W) -> (N, T, H, W)
    if a.ndim != 4:
        raise ValueError(f"expected (N, T, H, W) or (T, H, W), got shape {a.shape}")
    return a


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = _as_nthw(pred), _as_nthw(true)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and ground truth {t.shape} differ in shape")
    return p, t


def frame_mse(pred: np.ndarray, true: np.ndarray, reduce: bool = True) -> np.ndarray:
    """Per-frame MSE, summed over pixels, averaged over sequences: ``(T,)`` (``(N, T)`` unreduced)."""
    p, t = _pair(pred, true)
    err = ((p - t) ** 2).sum(axis=(2, 3))  # (N, T)
    return err.mean(axis=0) if reduce else err


def frame_mae(pred: np.ndarray, true: np.ndarray, reduce: bool = True) -> np.ndarray:
    """Per-frame MAE, summed over pixels, averaged over sequences: ``(T,)`` (``(N, T)`` unreduced)."""
    p, t = _pair(pred, true)
    err = np.abs(p - t).sum(axis=(2, 3))  # (N, T)
    return err.mean(axis=0) if reduce else err


def frame_psnr(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per-frame PSNR in dB (peak 1), averaged over sequences: ``(T,)``."""
    p, t = _pair(pred, true)
    mse = ((p - t) ** 2).mean(axis=(2, 3))  # (N, T) pixel-mean
    with np.errstate(divide="ignore"):
        psnr = -10.0 * np.log10(mse)
    return np.minimum(psnr, PSNR_MAX_DB).mean(axis=0)


@lru_cache(maxsize=16)
def _band(n: int, w: int) -> np.ndarray:
    """``(n - w + 1, n)`` float64 matrix whose row i sums rows i..i+w-1 of what it multiplies."""
    i = np.arange(n - w + 1)[:, None]
    j = np.arange(n)[None, :]
    band = ((j >= i) & (j < i + w)).astype(np.float64)
    band.setflags(write=False)
    return band


def _box_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sums over every full w x w window of the last two axes: (..., H, W) -> (..., H-w+1, W-w+1).

    Two products with banded 0/1 matrices (BLAS, exact sums of w terms each) are several times
    faster than cumulative sums and do not lose precision to cancellation.
    """
    h, w_ = x.shape[-2:]
    return _band(h, w) @ x @ _band(w_, w).T


def _ssim_moments(a: np.ndarray, b: np.ndarray, win: int) -> tuple[np.ndarray, ...]:
    """Window means and sample (co)variances of each image pair: what SSIM needs, for any range."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = win * win
    mean_a, mean_b = _box_sum(a, win) / n, _box_sum(b, win) / n
    cov_norm = n / (n - 1)  # sample covariance, as scikit-image's default
    var_a = cov_norm * (_box_sum(a * a, win) / n - mean_a**2)
    var_b = cov_norm * (_box_sum(b * b, win) / n - mean_b**2)
    cov = cov_norm * (_box_sum(a * b, win) / n - mean_a * mean_b)
    return mean_a, mean_b, var_a, var_b, cov


def _ssim_from_moments(moments: tuple[np.ndarray, ...], data_range: float) -> np.ndarray:
    mean_a, mean_b, var_a, var_b, cov = moments
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    num = (2 * mean_a * mean_b + c1) * (2 * cov + c2)
    den = (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean(axis=(-2, -1))


def ssim_map_mean(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, win: int = SSIM_WIN) -> np.ndarray:
    """Mean SSIM of each image pair over the last two axes: (..., H, W) -> (...).

    scikit-image filters with edge padding and then drops a border of ``(win - 1) // 2`` pixels
    before averaging; the windows that remain lie fully inside the image, so summing only over
    full windows gives exactly its result without any padding.
    """
    return _ssim_from_moments(_ssim_moments(a, b, win), data_range)


def frame_ssim(pred: np.ndarray, true: np.ndarray, data_range: float = 1.0, reduce: bool = True) -> np.ndarray:
    """Per-frame SSIM averaged over sequences: ``(T,)`` (``(N, T)`` unreduced). Predictions are
    clipped to [0, 1]."""
    p, t = _pair(pred, true)
    ssim = ssim_map_mean(np.clip(p, 0.0, 1.0), t, data_range)  # (N, T)
    return ssim.mean(axis=0) if reduce else ssim


def all_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-frame metric: ``{"mse", "mae", "psnr", "ssim", "ssim_openstl"}``, each ``(T,)``."""
    p, t = _pair(pred, true)
    moments = _ssim_moments(np.clip(p, 0.0, 1.0), t, SSIM_WIN)  # shared by both SSIM ranges
    return {
        "mse": frame_mse(p, t),
        "mae": frame_mae(p, t),
        "psnr": frame_psnr(p, t),
        "ssim": _ssim_from_moments(moments, 1.0).mean(axis=0),
        "ssim_openstl": _ssim_from_moments(moments, 2.0).mean(axis=0),
    }


def summarize(per_frame: dict[str, np.ndarray]) -> dict[str, dict]:
    """``{name: {"mean": float, "per_frame": [floats]}}`` for JSON and tables."""
    return {k: {"mean": float(np.mean(v)), "per_frame": [float(x) for x in v]} for k, v in per_frame.items()}


def copy_last_baseline(context: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last context frame: ``(..., T_ctx, H, W) -> (..., horizon, H, W)``."""
    last = np.asarray(context)[..., -1:, :, :]
    return np.repeat(last, horizon, axis=-3)


def blank_baseline(context: np.ndarray, horizon: int) -> np.ndarray:
    """All-black frames of the prediction's shape."""
    c = np.asarray(context)
    return np.zeros(c.shape[:-3] + (horizon,) + c.shape[-2:], dtype=np.float32)


CSV_METRICS = ("mse", "mae", "ssim", "psnr")


def metrics_csv(series: dict[str, dict[str, np.ndarray]], names: tuple[str, ...] = CSV_METRICS) -> str:
    """Per-frame metrics as CSV text: a header ``frame,series,<names>`` then one row per frame
    (1-based) of each series, e.g. ``{"default": all_metrics(...), "copy last frame": ...}``.
    Values are written in full precision; names with commas or quotes are quoted."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["frame", "series", *names])
    for label, per_frame in series.items():
        columns = [np.asarray(per_frame[m], dtype=np.float64) for m in names]
        if len({len(c) for c in columns}) > 1:
            raise ValueError(f"the metrics of {label!r} differ in length")
        for k, row in enumerate(zip(*columns), start=1):
            writer.writerow([k, label, *(repr(float(v)) for v in row)])
    return buf.getvalue()
