"""Evaluate a model on the held-out MovingMNIST test set (or a standard-format file), 10 -> 10.

Prints a markdown table of per-frame and mean MSE / MAE (OpenSTL convention: sum over a frame's
pixels on the [0, 1] scale, mean over sequences), SSIM (data_range 1), OpenSTL-compatible SSIM
(data_range 2), PSNR, for the model and the copy-last-frame and blank baselines; writes JSON.

    python train/evaluate.py --model checkpoints/default [--test-file mnist_test_seq.npy]
                             [--limit N] [--json OUT] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from framepred import data as fdata  # noqa: E402
from framepred import metrics  # noqa: E402
from framepred.inference import load_model, predict  # noqa: E402

METRICS = ("mse", "mae", "ssim", "ssim_openstl", "psnr")


def evaluate(model, sequences: np.ndarray, context: int = fdata.CONTEXT, horizon: int = 10,
             batch_size: int = 100) -> dict:
    """Score ``model`` and the baselines on float ``(N, T, 64, 64)`` sequences.

    Returns ``{"model": summary, "copy_last": summary, "blank": summary}``, each summary
    ``{metric: {"mean", "per_frame"}}``.
    """
    ctx, true = sequences[:, :context], sequences[:, context : context + horizon]
    if true.shape[1] < horizon:
        raise ValueError(f"sequences have {sequences.shape[1]} frames; need {context + horizon}")
    # Score in chunks so 1000 sequences never hold every prediction and metric map at once.
    sums: dict[str, dict[str, np.ndarray]] = {k: {} for k in ("model", "copy_last", "blank")}
    for i in range(0, len(ctx), batch_size):
        c, t = ctx[i : i + batch_size], true[i : i + batch_size]
        preds = {
            "model": predict(model, c, horizon, batch_size=batch_size),
            "copy_last": metrics.copy_last_baseline(c, horizon),
            "blank": metrics.blank_baseline(c, horizon),
        }
        for name, p in preds.items():
            for m, v in metrics.all_metrics(p, t).items():
                sums[name][m] = sums[name].get(m, 0.0) + v * len(c)
    n = len(ctx)
    return {name: metrics.summarize({m: v / n for m, v in s.items()}) for name, s in sums.items()}


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
    return head + "\n".join(rows) + "\n\nModel, per frame:\n\n" + frames


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model directory or Hub repo id")
    p.add_argument("--test-file", help="standard mnist_test_seq.npy (20, N, 64, 64) or (N, T, 64, 64)")
    p.add_argument("--limit", type=int, help="only the first N sequences")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--device", help="cpu, cuda, mps (default: best available)")
    args = p.parse_args(argv)

    model = load_model(args.model, args.device)
    if args.test_file:
        seqs = fdata.load_sequences(args.test_file)
        source = os.path.basename(args.test_file)
    else:
        seqs = fdata.test_set()
        source = f"framepred held-out test set (seed {fdata.TEST_SET_SEED}, sha256 {fdata.TEST_SET_SHA256[:12]})"
    if args.limit:
        seqs = seqs[: args.limit]
    seqs = fdata.to_unit_float(np.asarray(seqs))
    t0 = time.time()
    result = evaluate(model, seqs, batch_size=args.batch_size)
    result["info"] = {
        "model": str(args.model), "preset": model.config.preset, "parameters": model.num_parameters(),
        "data": source, "sequences": int(len(seqs)), "context": fdata.CONTEXT, "horizon": 10,
        "seconds": round(time.time() - t0, 1),
    }
    print(f"{result['info']['sequences']} sequences from {source}, 10 -> 10, "
          f"{result['info']['seconds']} s\n")
    print(markdown_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
