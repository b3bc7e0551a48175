"""Evaluate a set: a model and the baselines on every sequence of an uploaded ``.npy``, as the app's
"Evaluate a set" tab and its ``evaluate_set`` endpoint run it.

The file is an array of sequences ``(N, T, 64, 64)`` or MovingMNIST's ``(20, N, 64, 64)`` (told apart
by :func:`framepred.data.auto_layout`, the rule ``framepred eval`` follows), uint8 0..255 or float in
[0, 1]. It is checked before any model runs, from its header first (as :mod:`framepred.uploads` reads
a ``.npy``: never with pickle; the file size bound): shape, dtype, length, then N <= MAX_SEQUENCES
and T >= 11, then the float values in use. Scoring is :func:`framepred.evaluation.evaluate` (the
numbers of ``train/evaluate.py`` and ``framepred eval``), one batch at a time with progress reported,
in the served model's own precision (on ZeroGPU: one GPU call per batch). Every refusal is a
``ValueError`` naming the problem; nothing is written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import data, evaluation, uploads, viz
from . import models as served
from . import pipeline, validate, zerogpu
from .sources import CONTEXT, Sequence

MAX_SEQUENCES = 1000  # sequences in one set (the file size bound, uploads.MAX_FILE_BYTES, applies too)
MIN_FRAMES = uploads.MIN_FRAMES  # 10 context frames + at least 1 to score
MAX_FRAMES = uploads.MAX_FRAMES  # frames per sequence (only the first 10 + horizon are read)
# Sequences per model call: progress is reported after each batch. On ZeroGPU every batch is a GPU
# call (each waits in ZeroGPU's queue), so batches are larger there: 250 sequences take well under
# its requested seconds.
BATCH_SIZE = 250 if zerogpu.ENABLED else 25
WORST = 10  # the worst sequences listed (by the model's MSE)
SERIES = {"copy_last": pipeline.BASELINE, "blank": "blank frames"}  # the baselines' names ("model": its key)
LAYOUTS = {"NTHW": "(N, T, 64, 64)", "TNHW": "(T, N, 64, 64)"}
ACCEPTED = (f"a .npy array of sequences (N, T, 64, 64) or, as mnist_test_seq.npy, (20, N, 64, 64); uint8 0..255 "
            f"or float in [0, 1]; N up to {MAX_SEQUENCES}, T at least {MIN_FRAMES}")
HELP = (f"Upload {ACCEPTED} (at most {uploads.MAX_FILE_BYTES // 2**20} MiB: e.g. 640 sequences of 20 uint8 "
        "frames). The model chosen below and two baselines (copy the last frame; blank frames) predict "
        "*Frames to predict* frames after the first 10 of each sequence; the metrics per frame are averaged "
        "over the set. Click one of the worst sequences to predict it.")
WORST_HEADERS = ["sequence", "MSE"]
WORST_LABEL = f"The {WORST} worst sequences (the model's MSE): click one to predict it"


def open_set(path) -> tuple[np.ndarray, str]:
    """The uploaded file as an ``(N, T, 64, 64)`` view of the memory-mapped array (read as needed) and
    its layout ("NTHW" or "TNHW"); the header is checked before anything else is read."""
    if path is None or not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"Upload a set first: {ACCEPTED}.")
    path = Path(path)
    if not path.is_file():
        raise ValueError("The set could not be found on the server; please upload it again.")
    if path.stat().st_size == 0:
        raise ValueError("The uploaded file is empty.")
    uploads._check_file_size(path)
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:6] != uploads.NPY_MAGIC:
        clip = head[:6] in uploads.GIF_MAGICS or uploads.video_kind(head) is not None
        hint = " (a single clip, GIF or video, goes in the Upload tab)" if clip else ""
        raise ValueError(f"This file is not a NumPy .npy file{hint}; a set is {ACCEPTED}.")
    shape, dtype, offset = uploads.read_npy_header(path)
    uploads.check_dtype(dtype)  # refuses object (pickled) arrays by their header
    if dtype != np.uint8 and dtype.kind != "f":
        raise ValueError(f"The sequences are {dtype}; a set must be uint8 0..255 or float in [0, 1].")
    if len(shape) != 4 or tuple(shape[2:]) != (data.CANVAS, data.CANVAS) or 0 in shape:
        clip = len(shape) == 3 or (len(shape) == 4 and shape[-1] in (1, 3, 4))  # (T, H, W[, C]): one clip
        hint = " (a single clip goes in the Upload tab)" if clip else ""
        raise ValueError(f"The array has shape {tuple(shape)}{hint}; a set is {ACCEPTED}.")
    layout = data.auto_layout(shape)
    n, t = (shape[1], shape[0]) if layout == "TNHW" else shape[:2]
    if n > MAX_SEQUENCES:
        raise ValueError(f"The set has {n} sequences (read as {LAYOUTS[layout]}); the limit is {MAX_SEQUENCES}.")
    if t < MIN_FRAMES:
        raise ValueError(f"The sequences have {t} frame{'s' if t != 1 else ''} (read as {LAYOUTS[layout]}); "
                         f"at least {MIN_FRAMES} are needed ({CONTEXT} context frames + 1 to score).")
    if t > MAX_FRAMES:
        raise ValueError(f"The sequences have {t} frames (read as {LAYOUTS[layout]}); the limit is {MAX_FRAMES}.")
    uploads.check_npy_length(path, shape, dtype, offset)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"This .npy file cannot be read (damaged or not a NumPy array file): {e}.") from None
    return (np.swapaxes(arr, 0, 1) if layout == "TNHW" else arr), layout


@dataclass
class SetResult:
    """A set's evaluation: per-frame metrics of the model and the baselines, and its worst sequences."""

    model: str
    precision: str
    path: str
    layout: str
    sequences: int
    frames: int
    horizon: int
    scores: dict  # framepred.evaluation.evaluate's {"model" | "copy_last" | "blank": {metric: {mean, per_frame}}}
    worst: list[tuple[int, float]]  # (sequence index in the file, the model's MSE), worst first
    seconds: float
    notes: list[str] = field(default_factory=list)

    def names(self) -> dict[str, str]:
        return {"model": self.model, **SERIES}

    def report(self) -> dict:
        """The JSON answer: every series' summary, the worst sequences, what was evaluated."""
        return {"model": self.model, "precision": self.precision, "sequences": self.sequences,
                "frames_per_sequence": self.frames, "layout": LAYOUTS[self.layout], "context_frames": CONTEXT,
                "horizon": self.horizon,
                "metrics": {name: self.scores[k] for k, name in self.names().items()},
                "worst_sequences": [{"index": i, "mse": round(m, 3)} for i, m in self.worst],
                "notes": self.notes, "units": pipeline.UNITS, "seconds": round(self.seconds, 3)}

    def table(self) -> list[list]:
        """Rows ``[frame, series, MSE, MAE, SSIM, PSNR]`` per frame, then each series' mean
        (``pipeline.TABLE_HEADERS``)."""
        rows = [[f"t+{k + 1}", name, *(round(self.scores[s][m]["per_frame"][k], d) for m, d in pipeline.TABLE_METRICS)]
                for k in range(self.horizon) for s, name in self.names().items()]
        return rows + [["mean", name, *(round(self.scores[s][m]["mean"], d) for m, d in pipeline.TABLE_METRICS)]
                       for s, name in self.names().items()]

    def plot_rows(self) -> dict[str, list]:
        """Long-format MSE per frame of every series (``viz.metric_rows``), for a browser-side line plot."""
        per_frame = {name: {"mse": self.scores[s]["mse"]["per_frame"]} for s, name in self.names().items()
                     if s != "copy_last"}
        return viz.metric_rows(per_frame, {"mse": self.scores["copy_last"]["mse"]["per_frame"]}, names=("mse",))

    def worst_table(self) -> list[list]:
        """Rows ``[sequence index, MSE]`` of the worst sequences (``WORST_HEADERS``), worst first."""
        return [[i, round(m, 1)] for i, m in self.worst]

    def summary(self) -> str:
        """A markdown line: what was evaluated, the means, how long it took."""
        means = ", ".join(f"{name} {self.scores[s]['mse']['mean']:.1f}" for s, name in self.names().items())
        text = (f"**{self.sequences} sequences** ({self.frames} frames each, read as {LAYOUTS[self.layout]}), "
                f"{self.horizon} frames predicted after {CONTEXT}, model '{self.model}' ({self.precision}), "
                f"{self.seconds:.1f} s. Mean MSE: {means}.")
        return "\n\n".join([text, *(f"⚠️ {n}" for n in self.notes)])

    def outputs(self) -> tuple:
        """The "Evaluate a set" tab's outputs: summary, plot rows (columns as lists: the app makes
        the plot's DataFrame), table, worst sequences, and what a click on one of them needs."""
        return self.summary(), self.plot_rows(), self.table(), self.worst_table(), self.picked()

    def picked(self) -> dict:
        """What a click on one of the worst sequences needs (kept per user): the file and the indices."""
        return {"path": self.path, "indices": [i for i, _ in self.worst]}


def evaluate_file(path, horizon, model_key: str | None = None, progress: Callable | None = None) -> SetResult:
    """Evaluate the set in ``path`` with the model ``model_key`` (None: the default model) over
    ``horizon`` frames (at most the frames with ground truth: a longer horizon is shortened, with a
    note). ``progress(fraction, desc=...)`` is told how far it is, after each batch."""
    horizon = validate.horizon(horizon)
    arr, layout = open_set(path)
    n, t = arr.shape[:2]
    notes = []
    if horizon > t - CONTEXT:
        notes.append(f"The sequences have {t} frames: {t - CONTEXT} frames with ground truth were scored, "
                     f"not the {horizon} asked for.")
        horizon = t - CONTEXT
    if arr.dtype.kind == "f":  # the frames in use, before any model runs (framepred eval's rule)
        try:
            data.check_unit_floats(arr[:, : CONTEXT + horizon])
        except ValueError as e:
            raise ValueError(f"{str(e)[:1].upper()}{str(e)[1:]}.") from None
    loaded = served.get_model(model_key or None)
    dtype = served.precision(next(loaded.model.parameters()).device)
    done = [0]

    def step(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(done[0] / n, desc=f"Evaluated {done[0]} of {n} sequences")

    if progress is not None:
        progress(0.0, desc=f"Evaluating {n} sequences")
    t0 = time.perf_counter()
    # The request's own model call (pipeline.infer_all: on ZeroGPU, one GPU call) on each batch.
    predict_fn = lambda c, h: pipeline.infer_all([loaded.key], c, h, False, [dtype])[0][0]  # noqa: E731
    scores = evaluation.evaluate(None, arr, CONTEXT, horizon, batch_size=BATCH_SIZE, progress=step,
                                 predict_fn=predict_fn, per_sequence=True)
    per_seq = np.asarray(scores.pop("model_mse_per_sequence"))
    order = np.argsort(-per_seq, kind="stable")[:WORST]
    return SetResult(loaded.key, dtype, str(path), layout, n, t, horizon, scores,
                     [(int(i), float(per_seq[i])) for i in order], time.perf_counter() - t0, notes)


def picked_sequence(picked, row) -> Sequence:
    """The sequence in row ``row`` of the worst-sequences list (:meth:`SetResult.picked`), read again
    from the evaluated file: up to 10 context frames + the longest horizon."""
    if not isinstance(picked, dict) or not picked.get("indices"):
        raise ValueError("Evaluate a set first, then click one of its worst sequences.")
    row = validate.whole(row, "Row", 0, len(picked["indices"]) - 1)
    index = int(picked["indices"][row])
    arr, _ = open_set(picked["path"])
    if index >= len(arr):
        raise ValueError("The evaluated set has changed on the server; evaluate it again.")
    frames = data.to_unit_float(np.asarray(arr[index, : CONTEXT + validate.MAX_HORIZON]))
    return Sequence(frames, f"evaluated set: sequence {index}")
