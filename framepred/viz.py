"""Pictures of predictions: one synchronised animated GIF, a frame strip, per-frame metric plots.

Frames are numpy ``(T, H, W)`` in [0, 1]. Nothing is written anywhere except the paths given.
GIF frames are built directly as palette-indexed images (grey levels + an error colour map), which
avoids colour quantisation and keeps rendering a small share of a demo request.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GREY_LEVELS = 128  # palette 0..127: grey ramp for frames
ERR_LEVELS = 112  # palette 128..239: colour map for |error|
BG, TEXT, DIM = 240, 241, 242  # background, text and "no data" palette entries
TITLE_H, LABEL_H, GAP = 18, 18, 8


@lru_cache(maxsize=1)
def _palette() -> list[int]:
    from matplotlib import colormaps  # lazy: matplotlib is slow to import

    grey = np.linspace(0, 255, GREY_LEVELS).round().astype(np.uint8)
    pal = np.zeros((256, 3), np.uint8)
    pal[:GREY_LEVELS] = grey[:, None]
    cmap = colormaps["inferno"](np.linspace(0, 1, ERR_LEVELS))[:, :3]
    pal[GREY_LEVELS : GREY_LEVELS + ERR_LEVELS] = (cmap * 255).round().astype(np.uint8)
    pal[BG] = (24, 26, 32)
    pal[TEXT] = (235, 235, 235)
    pal[DIM] = (60, 62, 70)
    return pal.flatten().tolist()


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _grey_idx(frame: np.ndarray, scale: int) -> np.ndarray:
    idx = (np.clip(frame, 0, 1) * (GREY_LEVELS - 1) + 0.5).astype(np.uint8)
    return idx.repeat(scale, 0).repeat(scale, 1)  # nearest-neighbour upscaling


def _err_idx(err: np.ndarray, scale: int) -> np.ndarray:
    idx = (np.clip(err, 0, 1) * (ERR_LEVELS - 1) + 0.5).astype(np.uint8) + GREY_LEVELS
    return idx.repeat(scale, 0).repeat(scale, 1)


def sequence_gif_frames(
    context: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    scale: int = 3,
) -> list[Image.Image]:
    """Frames of the side-by-side animation as palette images.

    The context plays first in the ground-truth panel; then each predicted step shows
    ground truth | prediction | |error| (truth panels are dimmed beyond the available truth).
    ``context (T_ctx, H, W)``, ``truth (T_true, H, W)`` with ``T_true`` possibly < horizon or None,
    ``pred (horizon, H, W)``.
    """
    h, w = pred.shape[-2:]
    ph, pw = h * scale, w * scale
    n_true = 0 if truth is None else len(truth)
    xs = [GAP + i * (pw + GAP) for i in range(3)]
    y0 = TITLE_H
    base = _base_canvas(ph, pw)  # titles drawn once per panel size
    palette = _palette()

    frames = []
    t_ctx = len(context)
    for t in range(t_ctx + len(pred)):
        canvas = base.copy()  # (height, width) palette indices
        if t < t_ctx:
            canvas[y0 : y0 + ph, xs[0] : xs[0] + pw] = _grey_idx(context[t], scale)
            canvas[y0 : y0 + ph, xs[1] : xs[1] + pw] = DIM
            canvas[y0 : y0 + ph, xs[2] : xs[2] + pw] = DIM
            label = f"context t{t - t_ctx + 1:+d}" if t < t_ctx - 1 else "context t0"
        else:
            k = t - t_ctx
            canvas[y0 : y0 + ph, xs[1] : xs[1] + pw] = _grey_idx(pred[k], scale)
            if k < n_true:
                canvas[y0 : y0 + ph, xs[0] : xs[0] + pw] = _grey_idx(truth[k], scale)
                canvas[y0 : y0 + ph, xs[2] : xs[2] + pw] = _err_idx(np.abs(pred[k] - truth[k]), scale)
            else:
                canvas[y0 : y0 + ph, xs[0] : xs[0] + pw] = DIM
                canvas[y0 : y0 + ph, xs[2] : xs[2] + pw] = DIM
            label = f"predicted t+{k + 1}" + ("" if k < n_true else "  (no ground truth)")
        below = canvas[y0 + ph :, GAP:]  # the label strip under the panels
        below[_text_mask(label, below.shape)] = TEXT
        img = Image.fromarray(canvas, "P")
        img.putpalette(palette)
        frames.append(img)
    return frames


@lru_cache(maxsize=8)
def _base_canvas(ph: int, pw: int) -> np.ndarray:
    """The frame background with the three panel titles, palette indices ``(height, width)``."""
    width, height = 3 * pw + 4 * GAP, TITLE_H + ph + LABEL_H + GAP
    base = Image.new("P", (width, height), BG)
    draw = ImageDraw.Draw(base)
    for i, title in enumerate(("ground truth", "prediction", "|error|")):
        draw.text((GAP + i * (pw + GAP) + 2, 3), title, fill=TEXT, font=_font())
    arr = np.array(base)
    arr.setflags(write=False)
    return arr


@lru_cache(maxsize=512)
def _text_mask(text: str, shape: tuple[int, int]) -> np.ndarray:
    """Pixels of ``text`` drawn at (2, 4) in a strip of ``shape``: rendered once per label, since
    drawing text with Pillow was the costliest part of building the frames."""
    strip = Image.new("P", (shape[1], shape[0]), 0)
    ImageDraw.Draw(strip).text((2, 4), text, fill=1, font=_font())
    mask = np.array(strip) == 1
    mask.setflags(write=False)
    return mask


def save_sequence_gif(
    path: str | os.PathLike,
    context: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    scale: int = 3,
    frame_ms: int = 160,
    hold_ms: int = 1200,
) -> str:
    """Write the side-by-side animated GIF (see :func:`sequence_gif_frames`) to ``path``; loops."""
    frames = sequence_gif_frames(context, truth, pred, scale)
    durations = [frame_ms] * len(frames)
    durations[len(context) - 1] = hold_ms // 2  # a beat between context and prediction
    durations[-1] = hold_ms
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=durations, loop=0,
        optimize=False, disposal=1,
    )
    return str(path)


def frame_strip_image(
    context: np.ndarray, truth: np.ndarray | None, pred: np.ndarray, gap: int = 2
) -> np.ndarray:
    """A static grid, uint8 grey ``(H', W')``: per sequence a row of context + truth, then a row of
    blanks + prediction. Arrays ``(N, T, H, W)`` (or one sequence ``(T, H, W)``)."""
    if pred.ndim == 3:
        context, pred = context[None], pred[None]
        truth = None if truth is None else truth[None]
    n, t_ctx = context.shape[:2]
    horizon, (h, w) = pred.shape[1], pred.shape[-2:]
    cols = t_ctx + horizon
    rows = []
    for i in range(n):
        top = list(context[i]) + [truth[i, k] if truth is not None and k < truth.shape[1] else np.zeros((h, w))
                                  for k in range(horizon)]
        bottom = [np.zeros((h, w))] * t_ctx + list(pred[i])
        rows += [top, bottom]
    out = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap), 0.25, np.float32)
    for r, row in enumerate(rows):
        for c, f in enumerate(row):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = f
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def save_frame_strip(path: str | os.PathLike, context, truth, pred, scale: int = 2) -> str:
    """Write :func:`frame_strip_image` upscaled by ``scale`` as a PNG to ``path``."""
    img = frame_strip_image(context, truth, pred)
    Image.fromarray(img.repeat(scale, 0).repeat(scale, 1)).save(path)
    return str(path)


def metric_figure(per_frame: dict[str, np.ndarray], baseline: dict[str, np.ndarray] | None = None,
                  names: tuple[str, ...] = ("mse", "ssim")):
    """Per-frame metric curves as a matplotlib ``Figure`` (Agg canvas, no pyplot state).

    ``per_frame`` / ``baseline``: ``{metric: (T,)}``; the baseline (copy last frame) is dashed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = {"mse": "MSE per frame (sum over pixels)", "mae": "MAE per frame", "ssim": "SSIM",
              "psnr": "PSNR (dB)"}
    # Fixed margins instead of layout="constrained": the constrained-layout solver measured every
    # text extent and made Agg draw the figure twice per savefig, half of the figure's render time.
    n = len(names)
    fig = Figure(figsize=(3.2 * n, 2.6))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.22 / n, right=1 - 0.04 / n, bottom=0.17, top=0.9, wspace=0.3)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        v = np.asarray(per_frame[name])
        steps = np.arange(1, len(v) + 1)
        ax.plot(steps, v, "o-", ms=3, label="model")
        if baseline is not None and name in baseline:
            b = np.asarray(baseline[name])
            ax.plot(np.arange(1, len(b) + 1), b, "--", color="grey", label="copy last frame")
        ax.set_xlabel("frame t+k")
        ax.set_title(labels.get(name, name), fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    return fig
