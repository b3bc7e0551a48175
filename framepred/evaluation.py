"""Score a model and the copy-last-frame and blank baselines on many sequences: the computation behind
``train/evaluate.py`` and ``framepred eval`` (one function, so both print the same numbers).

Metrics follow :mod:`framepred.metrics` (OpenSTL conventions): per-frame values averaged over the
sequences, then a mean over the frames.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import data, metrics
from .inference import predict

MODELS = ("model", "copy_last", "blank")


def evaluate(model, sequences: np.ndarray, context: int = data.CONTEXT, horizon: int = 10,
             batch_size: int = 100, progress: Callable[[int], None] | None = None,
             predict_fn: Callable[[np.ndarray, int], np.ndarray] | None = None,
             per_sequence: bool = False) -> dict:
    """Score ``model`` and the baselines on ``(N, T, 64, 64)`` sequences (uint8 0..255 or float in
    [0, 1]; a memory-mapped array is read one batch at a time).

    Returns ``{"model": summary, "copy_last": summary, "blank": summary}``, each summary
    ``{metric: {"mean", "per_frame"}}``; with ``per_sequence`` also ``"model_mse_per_sequence"``,
    the model's MSE of each sequence (mean over its frames), to find the worst ones.
    ``progress(n)`` is told after each batch how many sequences it held. ``predict_fn(context
    batch, horizon)`` predicts instead of :func:`framepred.inference.predict` on ``model`` (e.g. a
    served model in its own dtype or on a GPU worker); ``model`` is then not used.
    """
    ctx, true = sequences[:, :context], sequences[:, context : context + horizon]
    if true.shape[1] < horizon:
        raise ValueError(f"sequences have {sequences.shape[1]} frames; need {context + horizon}")
    # Score in chunks so 1000 sequences never hold every prediction and metric map at once.
    sums: dict[str, dict[str, np.ndarray]] = {k: {} for k in MODELS}
    seq_mse: list[np.ndarray] = []
    for i in range(0, len(ctx), batch_size):
        c = data.to_unit_float(np.asarray(ctx[i : i + batch_size]))
        t = data.to_unit_float(np.asarray(true[i : i + batch_size]))
        ours = predict(model, c, horizon, batch_size=batch_size) if predict_fn is None else predict_fn(c, horizon)
        preds = {
            "model": ours,
            "copy_last": metrics.copy_last_baseline(c, horizon),
            "blank": metrics.blank_baseline(c, horizon),
        }
        for name, p in preds.items():
            for m, v in metrics.all_metrics(p, t).items():
                sums[name][m] = sums[name].get(m, 0.0) + v * len(c)
        if per_sequence:
            seq_mse.append(metrics.frame_mse(ours, t, reduce=False).mean(axis=1))
        if progress is not None:
            progress(len(c))
    n = len(ctx)
    result = {name: metrics.summarize({m: v / n for m, v in s.items()}) for name, s in sums.items()}
    if per_sequence:
        result["model_mse_per_sequence"] = [float(x) for x in np.concatenate(seq_mse)] if seq_mse else []
    return result


def markdown_table(result: dict) -> str:
    """Mean table (rows: model and baselines) and the model's per-frame table."""
    head = "| | MSE ↓ | MAE ↓ | SSIM ↑ | SSIM (OpenSTL, range 2) ↑ | PSNR ↑ |\n|---|---|---|---|---|---|\n"
    rows = []
    for name, label in (("model", "model"), ("copy_last", "copy last frame"), ("blank", "blank frames")):
        r = result[name]
        rows.append(f"| {label} | {r['mse']['mean']:.2f} | {r['mae']['mean']:.2f} | {r['ssim']['mean']:.4f} "
                    f"| {r['ssim_openstl']['mean']:.4f} | {r['psnr']['mean']:.2f} |")
    per = result["model"]
    horizon = len(per["mse"]["per_frame"])
    frames = "| frame | " + " | ".join(f"t+{k + 1}" for k in range(horizon)) + " |\n"
    frames += "|---" * (horizon + 1) + "|\n"
    for m, label, fmt in (("mse", "MSE", "{:.1f}"), ("ssim", "SSIM", "{:.3f}"), ("psnr", "PSNR", "{:.1f}")):
        frames += f"| {label} | " + " | ".join(fmt.format(v) for v in per[m]["per_frame"]) + " |\n"
    ratio = np.asarray(per["mse"]["per_frame"]) / np.maximum(result["blank"]["mse"]["per_frame"], 1e-12)
    frames += "| MSE ÷ blank | " + " | ".join(f"{v:.2f}" for v in ratio) + " |\n"
    return head + "\n".join(rows) + "\n\nModel, per frame:\n\n" + frames
