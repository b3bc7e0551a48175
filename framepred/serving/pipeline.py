"""One prediction request, as the app runs it: one or two models on one sequence, the metrics, the
GIF and the downloads, and a JSON-able report. The benchmarks time exactly these functions.

A request looks each of its models up once (:func:`framepred.serving.models.get_model`) and runs
them all in one call of :func:`run_models`; where the ``spaces`` package is installed that call is
made through :func:`infer_all`, ZeroGPU's one GPU call per request (see
:mod:`framepred.serving.zerogpu`).
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import inference, metrics, video, viz
from ..atomic import atomic_path
from ..config import ConvLSTMConfig
from . import cards, files, validate, zerogpu
from . import models as served
from .models import LoadedModel, precision
from .sources import CONTEXT, Sequence, Source

UNITS = "mse/mae: sum over the 64x64 pixels of a frame (OpenSTL); psnr: dB; ssim: [-1, 1]"
TABLE_METRICS = (("mse", 1), ("mae", 1), ("ssim", 3), ("psnr", 2))  # (metric, decimals) in the table
TABLE_HEADERS = ["frame", "model", "MSE", "MAE", "SSIM", "PSNR (dB)"]
BASELINE = viz.BASELINE_SERIES  # the copy-last-frame baseline's series in the plots
PLOT_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # the models' curves, in request order (tab10)
BASELINE_COLOR = "#7f7f7f"  # grey: a reference, not a model
DOWNLOADS = ("Downloads: the animation (GIF, MP4), each model's prediction as .npy (horizon, 64, 64) float32 "
             "and as a PNG strip (top: context and ground truth; bottom: prediction), the metrics per frame (CSV)")

Output = tuple[np.ndarray, list | None]  # one model's (horizon, 64, 64) prediction, hidden states or None


def run_models(nets: list[torch.nn.Module], context: np.ndarray, horizon: int, hidden: bool,
               dtypes: list[str]) -> list[Output]:
    """Each model on ``context`` in its dtype; ``hidden``: the first model's hidden states too."""
    out = []
    for i, (net, dtype) in enumerate(zip(nets, dtypes)):
        dt = inference.resolve_dtype(dtype)
        if hidden and i == 0:
            frames, states = inference.predict_with_states(net, context, horizon, dtype=dt)
            out.append((frames, states))
        else:
            out.append((inference.predict(net, context, horizon, dtype=dt), None))
    return out


@zerogpu.gpu
def infer_all(keys: list[str], context: np.ndarray, horizon: int, hidden: bool,
              dtypes: list[str]) -> list[Output]:
    """The model call of one request: every model in ``keys`` (each in the dtype of the same place in
    ``dtypes``) on ``context (T, 64, 64)`` -> one ``((horizon, 64, 64), hidden states or None)`` per
    model; ``hidden``: the first model's hidden states too. On ZeroGPU this is the request's one GPU
    call, run in ZeroGPU's worker process: it takes what pickles (keys, an array, dtype names) and
    looks the preloaded models up there."""
    return run_models([served.get_model(key).model for key in keys], context, horizon, hidden, dtypes)


# Predictions made at start-up (the page's first view), answered without running a model again.
_kept: dict[tuple, list[Output]] = {}


def _kept_key(keys: list[str], context: np.ndarray, horizon: int, hidden: bool, dtypes: list[str]) -> tuple:
    arr = np.ascontiguousarray(context)
    digest = hashlib.sha256(arr.tobytes()).hexdigest()
    return tuple(keys), tuple(dtypes), bool(hidden), int(horizon), arr.shape, str(arr.dtype), digest


def _infer(loaded: list[LoadedModel], context: np.ndarray, horizon: int, hidden: bool,
           dtypes: list[str]) -> list[Output]:
    """The request's models on ``context``: a copy of what start-up kept if it predicted this, else
    :func:`infer_all` on ZeroGPU (one GPU call), else the models the request has looked up."""
    keys = [m.key for m in loaded]
    kept = _kept.get(_kept_key(keys, context, horizon, hidden, dtypes))
    if kept is not None:
        return [(pred.copy(), None if states is None else [s.copy() for s in states]) for pred, states in kept]
    if zerogpu.ENABLED:
        return infer_all(keys, context, horizon, hidden, dtypes)
    return run_models([m.model for m in loaded], context, horizon, hidden, dtypes)


def _cpu_copy(loaded: LoadedModel) -> torch.nn.Module:
    """The served model, or a CPU copy of it where it is served elsewhere (on ZeroGPU, CUDA runs only
    inside a GPU call)."""
    if next(loaded.model.parameters()).device.type == "cpu":
        return loaded.model
    if loaded.folder is None:  # the untrained fallback: nothing on disk to load again
        return copy.deepcopy(loaded.model).cpu()
    return inference.load_model(loaded.folder, "cpu", config=loaded.model.config)


def precompute(source: Source | Sequence, horizon, *, models: list | tuple = (None,), hidden: bool = False) -> None:
    """Predict now on the CPU and keep the predictions: a later :func:`predict` with the same models,
    context frames, horizon and ``hidden`` is answered from them without running a model (on ZeroGPU,
    without a GPU call). For the app's start-up on ZeroGPU (the page's first view)."""
    horizon = validate.horizon(horizon)
    context = _sequence(source, horizon).frames[:CONTEXT]
    loaded, dtypes = _look_up(models)
    keys = [m.key for m in loaded]
    outputs = run_models([_cpu_copy(m) for m in loaded], context, horizon, hidden, dtypes)
    _kept[_kept_key(keys, context, horizon, hidden, dtypes)] = outputs


def _look_up(model_keys) -> tuple[list[LoadedModel], list[str]]:
    """The request's models (each looked up once) and the dtype each predicts in (see :func:`_dtypes`)."""
    return _dtypes([served.get_model(key) for key in model_keys])


def _dtypes(loaded: list[LoadedModel]) -> tuple[list[LoadedModel], list[str]]:
    """``loaded`` and the dtype each predicts in; a model named twice is refused."""
    if len({m.key for m in loaded}) < len(loaded):
        raise ValueError("Choose two different models to compare.")
    return loaded, [precision(next(m.model.parameters()).device) for m in loaded]


@dataclass
class ModelRun:
    """One model's prediction within a request."""

    key: str
    pred: np.ndarray  # (horizon, 64, 64) float32 in [0, 1]
    per_frame: dict[str, np.ndarray] | None  # metric -> (n_truth,), None without ground truth
    hidden: list[np.ndarray] | None
    config: ConvLSTMConfig
    npy: str
    trained: bool
    precision: str = "float32"  # the dtype the model ran in
    notes: tuple[str, ...] = ()
    strip: str | None = None  # the PNG strip: context and ground truth over the prediction


@dataclass
class Result:
    """Everything a request produced."""

    sequence: Sequence
    context: np.ndarray  # (10, 64, 64)
    truth: np.ndarray  # (n_truth, 64, 64), n_truth <= horizon
    horizon: int
    runs: list[ModelRun]
    baseline: dict[str, np.ndarray] | None  # copy-last-frame metrics
    gif: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    mp4: str | None = None  # the animation as an MP4
    csv: str | None = None  # every model's and the baseline's metrics per frame; None without ground truth

    @property
    def files(self) -> list[str]:
        """The downloads: GIF, each model's .npy, MP4, each model's PNG strip, metrics CSV (as written)."""
        strips = [r.strip for r in self.runs]
        return [f for f in (self.gif, *(r.npy for r in self.runs), self.mp4, *strips, self.csv) if f is not None]

    def report(self) -> dict:
        """The metrics JSON: the first model's figures at the top level (as before) and a ``models``
        list with one entry per model."""
        n = len(self.truth)
        models = [{"model": r.key, "trained": r.trained, "precision": r.precision,
                   "metrics": metrics.summarize(r.per_frame) if n else None, "notes": list(r.notes)}
                  for r in self.runs]
        return {
            "model": self.runs[0].key,
            "source": self.sequence.label,
            "context_frames": CONTEXT,
            "horizon": self.horizon,
            "ground_truth_frames": n,
            "metrics": models[0]["metrics"],
            "baseline_copy_last_frame": metrics.summarize(self.baseline) if n else None,
            "models": models,
            "notes": self.notes,
            "units": UNITS,
            "seconds": round(self.seconds, 3),
        }


def predict(source: Source | Sequence, horizon, *, models: list | tuple = (None,), hidden: bool = False,
            progress: Callable | None = None, out_dir: Path | None = None, media: bool = True) -> Result:
    """Predict ``horizon`` frames after the first 10 of the sequence with each model in ``models``
    (``None`` = the default model); write the GIF and one ``.npy`` per model.

    The request's values are checked here, once and in this order, so that bad input never waits
    for data or a model: the horizon, then the source's own values (``source`` is called with the
    number of frames the horizon needs; an already built :class:`Sequence` is taken as it is), then
    the models. ``hidden`` also returns the first model's hidden states; ``progress(fraction, desc=)``
    is told how far the request is. ``media=False`` leaves the MP4 and the PNG strips out, for
    :func:`with_media` to write once the animation is on screen (the app's second step)."""
    horizon = validate.horizon(horizon)
    sequence = _sequence(source, horizon)
    return _predict(sequence, horizon, *_look_up(models), hidden, progress, out_dir, media)


def compare(source: Source | Sequence, horizon, model_a=None, model_b=None, **options) -> Result:
    """Two models on one sequence: ``model_a`` ``None`` (or "") is the default model, ``model_b``
    ``None`` (or "") the first other model. Checked in this order: the horizon, the models, then
    the source's values. ``options`` as for :func:`predict`."""
    horizon = validate.horizon(horizon)
    a = served.get_model(model_a or None)
    b = model_b or served.other_model_key(a.key)
    if b is None:
        raise ValueError("Only one model is available: there is nothing to compare with.")
    loaded, dtypes = _dtypes([a, served.get_model(b)])
    return _predict(_sequence(source, horizon), horizon, loaded, dtypes, **options)


def _sequence(source: Source | Sequence, horizon: int) -> Sequence:
    """The request's sequence: ``source`` called with the number of frames ``horizon`` needs (it
    checks its own values), or an already built :class:`Sequence`, which needs 11 frames or more."""
    sequence = source if isinstance(source, Sequence) else source(CONTEXT + horizon)
    frames = sequence.frames
    if frames.ndim != 3 or len(frames) < CONTEXT + 1:
        raise ValueError(f"A sequence needs at least {CONTEXT + 1} frames, got {len(frames)}.")
    return sequence


def _predict(sequence: Sequence, horizon: int, loaded_models: list[LoadedModel], dtypes: list[str],
             hidden: bool = False, progress: Callable | None = None, out_dir: Path | None = None,
             media: bool = True) -> Result:
    """The request itself, on checked values (``horizon`` is an int in 1..MAX_HORIZON) and the
    request's looked-up models with their dtypes (:func:`_look_up`)."""
    if out_dir is None:  # a library call: its own folder, kept from pruning while it is written
        with files.request_dir() as fresh:
            return _predict(sequence, horizon, loaded_models, dtypes, hidden, progress, fresh, media)
    t0 = time.perf_counter()
    context, truth = sequence.frames[:CONTEXT], sequence.frames[CONTEXT : CONTEXT + horizon]
    n = len(truth)
    if progress is not None:
        progress(0.1, desc="Predicting")
    outputs = _infer(loaded_models, context, horizon, hidden, dtypes)
    runs = []
    for i, (loaded, dtype, (pred, states)) in enumerate(zip(loaded_models, dtypes, outputs)):
        npy = out_dir / ("prediction.npy" if i == 0 else f"prediction_{i + 1}_{_safe(loaded.key)}.npy")
        np.save(npy, pred)
        training = cards.read_json(loaded.folder, "training.json")  # all a request needs of the card files
        rng = cards.trained_range(training)
        outside = (rng.outside(list(sequence.speeds), sequence.n_digits)
                   if rng is not None and sequence.speeds is not None and sequence.n_digits is not None else None)
        notes = (f"'{loaded.key}' was not trained on {outside}: expect a poor prediction.",) if outside else ()
        runs.append(ModelRun(loaded.key, pred, metrics.all_metrics(pred[:n], truth) if n else None, states,
                             loaded.model.config, str(npy), training is not None, dtype, notes))
    if progress is not None:
        progress(0.75, desc="Rendering")
    preds = {r.key: r.pred for r in runs}
    gif = viz.save_sequence_gif(out_dir / "prediction.gif", context, truth if n else None, _shown(preds))
    baseline = metrics.all_metrics(metrics.copy_last_baseline(context, n), truth) if n else None
    csv = _csv(out_dir, runs, baseline) if n else None
    mp4 = None
    if media:
        mp4, strips = _media(gif, context, truth, preds, [r.npy for r in runs])
        for r, strip in zip(runs, strips):
            r.strip = strip
    notes = list(sequence.notes) + [note for r in runs for note in r.notes]
    return Result(sequence, context, truth, horizon, runs, baseline, gif, time.perf_counter() - t0, notes, mp4, csv)


def _shown(preds: dict[str, np.ndarray]):
    """What the pictures show of the models' predictions (by key, in request order): one model's array
    (panels titled "prediction"), or the mapping, one titled pair of panels per model."""
    return next(iter(preds.values())) if len(preds) == 1 else preds


def _csv(out_dir: Path, runs: list[ModelRun], baseline: dict) -> str:
    """Every model's and the baseline's metrics per frame as ``metrics.csv`` (whole or not at all)."""
    csv = out_dir / "metrics.csv"
    with atomic_path(csv) as tmp:
        tmp.write_text(metrics.metrics_csv({**{r.key: r.per_frame for r in runs}, BASELINE: baseline}))
    return str(csv)


def _media(gif: str, context: np.ndarray, truth: np.ndarray, preds: dict[str, np.ndarray],
           npys: list[str]) -> tuple[str, list[str]]:
    """Write the MP4 (the GIF's animation) beside ``gif`` and each model's PNG strip beside its .npy
    (``preds``: the models' ``(horizon, 64, 64)`` predictions by key, in request order), each file whole
    or not at all. Returns the MP4's path and the strips'."""
    mp4 = video.save_sequence_mp4(Path(gif).with_suffix(".mp4"), context, truth if len(truth) else None,
                                  _shown(preds))
    strips = [viz.save_frame_strip(Path(npy).with_name(Path(npy).stem + "_strip.png"), context, truth, pred)
              for npy, pred in zip(npys, preds.values())]
    return mp4, strips


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:60]


# -- what the UI shows -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Details:
    """What a page shows of a result beyond its animation, small enough to keep per user (uint8 frames,
    per-frame metrics, the hidden states' summary: a few hundred kB): the frame viewer's frames, the
    line plots' rows, the metrics table, the downloads, the metrics JSON and the inspector's summary."""

    frames: dict  # frame_state(): what the frame viewer draws from
    horizon: int
    plot_rows: dict[str, list] | None  # None without ground truth
    table: list[list]
    files: list[str]
    report: dict
    hidden_summary: dict | None  # None when the request kept no hidden states
    media_pending: bool = False  # the MP4 and the PNG strips are still to write (see with_media)


def details(result: Result) -> Details:
    first = result.runs[0]
    summary = None if first.hidden is None else viz.hidden_state_summary(first.hidden, first.config, CONTEXT)
    return Details(frame_state(result), result.horizon, plot_rows(result), metrics_table(result), result.files,
                   result.report(), summary, media_pending=result.mp4 is None)


def with_media(details: Details) -> Details:
    """The downloads a ``media=False`` request left out (MP4, PNG strips), written now beside its GIF
    from the 8-bit frames the details keep: the strips are the same pictures; the MP4 is drawn again
    from them, ~2 % of its pixels one palette level (of 128 greys, 112 error colours) off the GIF's,
    less than its H.264 coding changes. The app's second step, so that writing them does not hold the
    animation back. A request folder pruned meanwhile (a long-open page)
    keeps the downloads it still has."""
    if not details.media_pending:
        return details
    frames, gif = details.frames, details.files[0]
    npys, csv = [f for f in details.files if f.endswith(".npy")], [f for f in details.files if f.endswith(".csv")]
    as_float = lambda a: a.astype(np.float32) / 255  # noqa: E731
    try:
        mp4, strips = _media(gif, as_float(frames["context"]), as_float(frames["truth"]),
                             {k: as_float(p) for k, p in frames["preds"].items()}, npys)
    except OSError:  # the folder is gone
        return replace(details, media_pending=False, files=[f for f in details.files if Path(f).is_file()])
    return replace(details, media_pending=False, files=[gif, *npys, mp4, *strips, *csv])


def metrics_table(result: Result) -> list[list]:
    """Rows ``[frame, model, MSE, MAE, SSIM, PSNR]`` per predicted frame with ground truth and model,
    then each model's mean and the copy-last-frame baseline's mean."""
    if result.baseline is None:
        return [["no ground truth", "", None, None, None, None]]
    rows = []
    for k in range(len(result.truth)):
        for r in result.runs:
            rows.append([f"t+{k + 1}", r.key, *(_r(r.per_frame[m][k], d) for m, d in TABLE_METRICS)])
    for r in result.runs:
        rows.append(["mean", r.key, *(_r(np.mean(r.per_frame[m]), d) for m, d in TABLE_METRICS)])
    rows.append(["mean", BASELINE, *(_r(np.mean(result.baseline[m]), d) for m, d in TABLE_METRICS)])
    return rows


def _r(x, digits: int) -> float:
    return round(float(x), digits)


def plot_rows(result: Result) -> dict[str, list] | None:
    """Long-format per-frame MSE/SSIM rows for browser-side plots: one series per model, named by its
    key as in the table (also a single model), and the copy-last-frame baseline."""
    if result.baseline is None:
        return None
    return viz.metric_rows({r.key: r.per_frame for r in result.runs}, result.baseline)


def plot_colors(plot) -> dict[str, str] | None:
    """A colour for each series of a plot's rows, as a Gradio LinePlot holds those of :func:`plot_rows`
    (``columns``, ``data``: one list a row; a mapping or an object): the models in order, then the
    grey baseline; None for no rows. It also names the series a plot shows: a Gradio LinePlot fixes
    its legend when it draws and then only swaps its rows; a new colour map makes it draw again (sent
    after the rows: an update that carries both sets the colour map first, with the old rows)."""
    if plot is None:
        return None
    plot = plot if isinstance(plot, dict) else vars(plot)
    i = plot["columns"].index("series")
    models = [s for s in dict.fromkeys(row[i] for row in plot["data"]) if s != BASELINE]
    return {**{s: PLOT_COLORS[k % len(PLOT_COLORS)] for k, s in enumerate(models)}, BASELINE: BASELINE_COLOR}


def frame_state(result: Result) -> dict:
    """The little a frame viewer needs, kept per user (uint8 frames: ~0.3 MB for 2 models x 30)."""
    q = lambda a: (np.clip(a, 0, 1) * 255).round().astype(np.uint8)  # noqa: E731
    return {"context": q(result.context), "truth": q(result.truth),
            "preds": {r.key: q(r.pred) for r in result.runs},
            "per_frame": {r.key: {m: [float(x) for x in r.per_frame[m]] for m in ("mse", "ssim")}
                          for r in result.runs if r.per_frame is not None}}


def frame_view(state, t) -> tuple[np.ndarray, str]:
    """Step ``t`` (1-based over context + prediction) large, and that frame's metrics as markdown."""
    if not isinstance(state, dict) or "context" not in state:
        raise ValueError("Predict a sequence first.")
    ctx, truth = state["context"] / 255.0, state["truth"] / 255.0
    preds = {k: v / 255.0 for k, v in state["preds"].items()}
    n_steps = len(ctx) + len(next(iter(preds.values())))
    t = validate.whole(t, "Frame", 1, n_steps) - 1
    image = viz.frame_image(ctx, truth if len(truth) else None, _shown(preds), t, zoom=1)  # the page enlarges it (CSS)
    label = viz.frame_label(t, len(ctx), len(truth))
    k = t - len(ctx)
    if k < 0:
        return image, f"**{label}**: a context frame (the model reads it)."
    if k >= len(truth):
        return image, f"**{label}**: no ground truth to compare with."
    parts = [f"{key}: MSE {pf['mse'][k]:.1f}, SSIM {pf['ssim'][k]:.3f}" for key, pf in state["per_frame"].items()]
    return image, f"**{label}** — " + "; ".join(parts)
