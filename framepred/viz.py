"""Pictures of predictions: one synchronised animated GIF, a frame strip, per-frame metric plots.

Frames are numpy ``(T, H, W)`` in [0, 1]. Nothing is written anywhere except the paths given.
GIF frames are built directly as palette-indexed images (grey levels + an error colour map), which
avoids colour quantisation and keeps rendering a small share of a demo request.
"""

from __future__ import annotations

import base64
import io
import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_path

GREY_LEVELS = 128  # palette 0..127: grey ramp for frames
ERR_LEVELS = 112  # palette 128..239: colour map for |error|
BG, TEXT, DIM = 240, 241, 242  # background, text and "no data" palette entries
TITLE_H, LABEL_H, GAP = 18, 18, 8
# Panels are upscaled 2x with nearest neighbour: big enough for legible labels; a page shows them
# larger with CSS `image-rendering: pixelated` (a 3x GIF costs ~1.5x as long to encode).
GIF_SCALE = 2
MSE_TITLE = "MSE per frame (sum over pixels)"  # the per-frame MSE plot's title (the app, metric_figure)


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


Predictions = "np.ndarray | dict[str, np.ndarray]"


def _panels(pred) -> tuple[list[str], list[np.ndarray]]:
    """Titles and prediction arrays: one model (an array) or several (``{name: (horizon, H, W)}``)."""
    if isinstance(pred, dict):
        names, preds = list(pred), [np.asarray(p) for p in pred.values()]
        titles = ["ground truth"]
        for name in names:
            titles += [name, f"|error| {name}"]
        return titles, preds
    return ["ground truth", "prediction", "|error|"], [np.asarray(pred)]


def frame_label(t: int, t_ctx: int, n_true: int) -> str:
    """The caption of step ``t`` (0-based over context + prediction): ``context t-3``, ``predicted t+2``."""
    if t < t_ctx:
        return f"context t{t - t_ctx + 1:+d}" if t < t_ctx - 1 else "context t0"
    k = t - t_ctx
    return f"predicted t+{k + 1}" + ("" if k < n_true else "  (no ground truth)")


def _render(t: int, context, truth, preds: list[np.ndarray], titles: tuple[str, ...], scale: int) -> np.ndarray:
    """Palette indices ``(height, width)`` of step ``t``: ground truth, then per model its
    prediction and |error| (dimmed panels where there is nothing to show)."""
    h, w = preds[0].shape[-2:]
    ph, pw = h * scale, w * scale
    n_true = 0 if truth is None else len(truth)
    xs = [GAP + i * (pw + GAP) for i in range(len(titles))]
    y0 = TITLE_H
    canvas = _base_canvas(ph, pw, titles).copy()  # titles drawn once per panel size

    def put(i: int, idx) -> None:
        canvas[y0 : y0 + ph, xs[i] : xs[i] + pw] = idx

    t_ctx = len(context)
    if t < t_ctx:
        put(0, _grey_idx(context[t], scale))
        for i in range(1, len(titles)):
            put(i, DIM)
    else:
        k = t - t_ctx
        put(0, _grey_idx(truth[k], scale) if k < n_true else DIM)
        for m, pred in enumerate(preds):
            put(1 + 2 * m, _grey_idx(pred[k], scale))
            put(2 + 2 * m, _err_idx(np.abs(pred[k] - truth[k]), scale) if k < n_true else DIM)
    below = canvas[y0 + ph :, GAP:]  # the label strip under the panels
    below[_text_mask(frame_label(t, t_ctx, n_true), below.shape)] = TEXT
    return canvas


def sequence_gif_frames(
    context: np.ndarray,
    truth: np.ndarray | None,
    pred: Predictions,
    scale: int = GIF_SCALE,
) -> list[Image.Image]:
    """Frames of the side-by-side animation as palette images.

    The context plays first in the ground-truth panel; then each predicted step shows
    ground truth | prediction | |error| (truth panels are dimmed beyond the available truth).
    ``context (T_ctx, H, W)``, ``truth (T_true, H, W)`` with ``T_true`` possibly < horizon or None,
    ``pred (horizon, H, W)``, or ``{name: (horizon, H, W)}`` for several models side by side.
    """
    titles, preds = _panels(pred)
    palette = _palette()
    frames = []
    for t in range(len(context) + len(preds[0])):
        img = Image.fromarray(_render(t, context, truth, preds, tuple(titles), scale), "P")
        img.putpalette(palette)
        frames.append(img)
    return frames


def frame_image(context: np.ndarray, truth: np.ndarray | None, pred: Predictions, t: int,
                zoom: int = 2) -> np.ndarray:
    """One step ``t`` (0-based over context + prediction) of the animation, large: RGB uint8
    ``(height, width, 3)``. The GIF's frame enlarged ``zoom`` times with its labels (nearest
    neighbour, so text stays legible when the page shows it smaller)."""
    titles, preds = _panels(pred)
    n = len(context) + len(preds[0])
    if not 0 <= t < n:
        raise ValueError(f"frame {t} is outside 0..{n - 1}")
    img = Image.fromarray(_render(t, context, truth, preds, tuple(titles), GIF_SCALE), "P")
    img.putpalette(_palette())
    rgb = np.asarray(img.convert("RGB"))
    return rgb.repeat(zoom, 0).repeat(zoom, 1)


def png_data_url(image: np.ndarray) -> str:
    """An RGB uint8 picture as a ``data:image/png;base64,...`` URL, for a page to show without
    fetching a file (fast zlib level: ~1.4 ms and ~10 KB for a frame-viewer picture)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@lru_cache(maxsize=8)
def _base_canvas(ph: int, pw: int, titles: tuple[str, ...] = ("ground truth", "prediction", "|error|")) -> np.ndarray:
    """The frame background with the panel titles, palette indices ``(height, width)``."""
    width, height = len(titles) * pw + (len(titles) + 1) * GAP, TITLE_H + ph + LABEL_H + GAP
    base = Image.new("P", (width, height), BG)
    draw = ImageDraw.Draw(base)
    for i, title in enumerate(titles):
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
    pred: Predictions,
    scale: int = GIF_SCALE,
    frame_ms: int = 160,
    hold_ms: int = 1200,
) -> str:
    """Write the side-by-side animated GIF (see :func:`sequence_gif_frames`) to ``path`` (whole or
    not at all); loops."""
    frames = sequence_gif_frames(context, truth, pred, scale)
    durations = frame_durations(len(context), len(frames), frame_ms, hold_ms)
    with atomic_path(path) as tmp:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
            optimize=False, disposal=1,
        )
    return str(path)


def frame_durations(n_context: int, n_frames: int, frame_ms: int = 160, hold_ms: int = 1200) -> list[int]:
    """Milliseconds each frame of the animation shows: ``frame_ms``, with a beat after the context
    and a hold on the last frame (the GIF's and the MP4's timing)."""
    durations = [frame_ms] * n_frames
    durations[n_context - 1] = hold_ms // 2  # a beat between context and prediction
    durations[-1] = hold_ms
    return durations


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


def save_frame_strip(path: str | os.PathLike, context: np.ndarray, truth: np.ndarray | None,
                     pred: np.ndarray) -> str:
    """Write :func:`frame_strip_image` of one sequence ``(T, H, W)`` as a grey PNG (whole or not at
    all): the top row the context then the ground truth, the bottom row the prediction under it."""
    strip = frame_strip_image(context, truth if truth is not None and len(truth) else None, pred)
    with atomic_path(path) as tmp:
        # zlib level 1: a third of the default level's time (the app writes a strip with every
        # prediction), the file ~15% larger.
        Image.fromarray(strip, "L").save(tmp, format="PNG", compress_level=1)
    return str(path)


def metric_figure(per_frame: dict[str, np.ndarray], baseline: dict[str, np.ndarray] | None = None,
                  names: tuple[str, ...] = ("mse", "ssim")):
    """Per-frame metric curves as a matplotlib ``Figure`` (Agg canvas, no pyplot state).

    ``per_frame`` / ``baseline``: ``{metric: (T,)}``; the baseline (copy last frame) is dashed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = {"mse": MSE_TITLE, "mae": "MAE per frame", "ssim": "SSIM",
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


BASELINE_SERIES = "copy last frame"  # metric_rows' name for the copy-last-frame baseline


def metric_rows(per_frame: dict[str, np.ndarray] | dict[str, dict[str, np.ndarray]],
                baseline: dict[str, np.ndarray] | None = None,
                names: tuple[str, ...] = ("mse", "ssim")) -> dict[str, list]:
    """Per-frame metrics in long format for a browser-side line plot (e.g. ``gr.LinePlot``).

    ``per_frame`` is one model's ``{metric: (T,)}`` (series ``"model"``) or several models'
    ``{model name: {metric: (T,)}}`` (one series each). Returns columns
    ``{"frame", "value", "series", "metric"}``, plus the ``"copy last frame"`` series. Building this
    costs well under a millisecond, unlike a server-side figure.
    """
    models = per_frame if all(isinstance(v, dict) for v in per_frame.values()) else {"model": per_frame}
    cols: dict[str, list] = {"frame": [], "value": [], "series": [], "metric": []}
    for series, d in (*models.items(), (BASELINE_SERIES, baseline)):
        if d is None:
            continue
        for name in names:
            for k, x in enumerate(np.asarray(d[name]), start=1):
                cols["frame"].append(k)
                cols["value"].append(float(x))
                cols["series"].append(series)
                cols["metric"].append(name)
    return cols


_HIDDEN_SCALE = 2  # upscaling of the 16x16 hidden-state maps ...
_HIDDEN_TILE_PX = 16  # ... after averaging larger ones (the seed's 64x64) down to about this size


def hidden_state_summary(states: list[np.ndarray], config, t_ctx: int = 10) -> dict:
    """The small part of the hidden states ``[(1, steps, C, h, w)]`` (one per layer) that the pictures
    show: mean |h| over channels (``space``: per layer ``(steps, h', w')``, large maps averaged down to
    about 16 x 16) and over space (``channels``: per layer ``(C, steps)``), with labels and each
    layer's first step. A few kB instead of the full states, so a UI can keep it per user and render
    only when asked (:func:`hidden_state_images`)."""
    n_enc = len(config.hidden_dims)
    seed_style = config.decoder == "hidden"  # the seed's decoder layers start after the context
    pool = max(1, states[0].shape[-1] // _HIDDEN_TILE_PX)  # large (seed: 64x64) states averaged down
    space, channels = [], []
    for st in states:
        a = np.abs(st[0])  # (steps, C, h, w)
        maps = a.mean(axis=1)  # (steps, h, w)
        t, h, w = maps.shape
        maps = maps[:, : h // pool * pool, : w // pool * pool].reshape(t, h // pool, pool, w // pool, pool)
        space.append(maps.mean((2, 4)).astype(np.float32))  # (steps, h', w')
        channels.append(a.mean(axis=(2, 3)).T.astype(np.float32))  # (C, steps)
    return {
        "space": space,
        "channels": channels,
        "offsets": [t_ctx if seed_style and i >= n_enc else 0 for i in range(len(states))],
        "labels": [(f"dec {i - n_enc + 1}" if i >= n_enc else f"enc {i + 1}") if seed_style else f"layer {i + 1}"
                   for i in range(len(states))],
        "t_ctx": t_ctx,
    }


def hidden_state_images(summary: dict) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB pictures (uint8 arrays) of a :func:`hidden_state_summary`.

    * space: mean |h| over channels; one row per layer, one column per time step;
    * channels: mean |h| over space; per layer (side by side) C rows (channels) x steps columns.
    Each layer has its own colour scale (viridis, dark = quiet). The red line separates the steps
    that read the context from the prediction steps. Rendering is numpy + PIL (a few ms).
    """
    from matplotlib import colormaps

    lut = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    space_maps, chan_maps = summary["space"], summary["channels"]
    offsets, labels, t_ctx = summary["offsets"], summary["labels"], summary["t_ctx"]
    n_cols = max(o + m.shape[0] for o, m in zip(offsets, space_maps))
    black = (0, 0, 0)

    # Space: rows = layers, columns = steps.
    s, gap, left, top = _HIDDEN_SCALE, 2, 52, 14
    side = space_maps[0].shape[-1] * s  # every layer's states have the same size
    col_w = side + gap
    space = np.full((top + len(space_maps) * (side + gap), left + n_cols * col_w, 3), 255, np.uint8)
    for i, (maps, off) in enumerate(zip(space_maps, offsets)):
        tiles = lut[_normalise(maps).repeat(s, 1).repeat(s, 2)]  # (steps, side, side, 3)
        y = top + i * (side + gap)
        for k, tile in enumerate(tiles):
            x = left + (off + k) * col_w
            space[y : y + side, x : x + side] = tile
    space_img = Image.fromarray(space)
    draw = ImageDraw.Draw(space_img)
    x = left + t_ctx * col_w - gap // 2 - 1
    draw.line([(x, top - 3), (x, space.shape[0])], fill=(220, 30, 30), width=1)
    draw.text((left, 1), "context", fill=black)
    draw.text((x + 3, 1), "prediction", fill=black)
    for i, label in enumerate(labels):
        draw.text((2, top + i * (side + gap) + side // 2 - 5), label, fill=black)

    # Channels: one block per layer, side by side; rows = channels, columns = steps.
    step_px, gap, top = 6, 12, 14
    n_chan = max(m.shape[0] for m in chan_maps)
    band_px = max(1, 96 // n_chan)
    block_w = n_cols * step_px
    height = top + n_chan * band_px
    chans = np.full((height, gap + len(chan_maps) * (block_w + gap), 3), 255, np.uint8)
    for i, (act, off) in enumerate(zip(chan_maps, offsets)):
        block = lut[_normalise(act).repeat(band_px, 0).repeat(step_px, 1)]  # (C, steps) scaled up
        x = gap + i * (block_w + gap) + off * step_px
        chans[top : top + block.shape[0], x : x + block.shape[1]] = block
    chans_img = Image.fromarray(chans)
    draw = ImageDraw.Draw(chans_img)
    for i, label in enumerate(labels):
        x0 = gap + i * (block_w + gap)
        draw.text((x0, 1), label, fill=black)
        draw.line([(x0 + t_ctx * step_px - 1, top), (x0 + t_ctx * step_px - 1, height)], fill=(220, 30, 30))
    return np.asarray(space_img), np.asarray(chans_img)


def _normalise(a: np.ndarray) -> np.ndarray:
    """Non-negative values -> uint8 0..255 on the array's own scale."""
    return (a / max(float(a.max()), 1e-8) * 255).astype(np.uint8)
